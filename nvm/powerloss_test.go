package nvm

import (
	"encoding/binary"
	"errors"
	"math/rand"
	"reflect"
	"testing"
)

const testSlot = 512

type step struct {
	name string
	do   func(*Store) error
}

// steps is a device's life in miniature: identity at the factory, binding, a pairing, counter
// reservations, a key rotation, a key loss and a factory reset.
func steps() []step {
	return []step{
		{"identity", func(s *Store) error { return s.Put("id", []byte("module-07/serial-0042")) }},
		{"binding", func(s *Store) error {
			return s.PutMany(map[string][]byte{"bind.key": fill(32, 1), "bind.secret": fill(32, 2), "bind.kid": {0x01, 0x02}})
		}},
		{"pairing", func(s *Store) error {
			return s.PutMany(map[string][]byte{"pair.0001.kab": fill(32, 3), "pair.0001.kba": fill(32, 4), "pair.0001.meta": fill(90, 5)})
		}},
		{"counter", func(s *Store) error { return s.CounterStore("ctr.0001.tx").Reserve(256) }},
		{"counter again", func(s *Store) error { return s.CounterStore("ctr.0001.tx").Reserve(512) }},
		{"rotation", func(s *Store) error {
			return s.PutMany(map[string][]byte{"bind.key": fill(32, 6), "bind.kid": {0x01, 0x03}, "pair.0001.kab": nil})
		}},
		{"key loss", func(s *Store) error { return s.Delete("bind.key", "bind.secret") }},
		{"factory reset", func(s *Store) error { return s.Wipe("id") }},
	}
}

func fill(n int, b byte) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b + byte(i)
	}
	return out
}

func openBytes(t *testing.T, b []byte) (*Store, error) {
	t.Helper()
	return OpenFile(NewMemFile(b), Options{SlotSize: testSlot})
}

// settled returns the file after each prefix of the steps: files[i] is the state before step i.
func settled(t *testing.T) ([][]byte, []map[string][]byte) {
	t.Helper()
	f := NewMemFile(nil)
	s, err := OpenFile(f, Options{SlotSize: testSlot})
	if err != nil {
		t.Fatal(err)
	}
	files := [][]byte{f.Bytes()}
	states := []map[string][]byte{snapshot(s)}
	for _, st := range steps() {
		if err := st.do(s); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		files = append(files, f.Bytes())
		states = append(states, snapshot(s))
	}
	return files, states
}

// TestPowerLossAtEveryByte cuts the power after every possible number of bytes of every
// update, reopens the file, and requires exactly the old or the new state, the new one
// whenever the update had returned nil, and a store that keeps working.
func TestPowerLossAtEveryByte(t *testing.T) {
	files, states := settled(t)
	rng := rand.New(rand.NewSource(1))
	for i, st := range steps() {
		old, want := states[i], states[i+1]
		// How many bytes the whole update writes.
		probe := NewFaultFile(NewMemFile(files[i]), -1)
		ps, err := OpenFile(probe, Options{SlotSize: testSlot})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.do(ps); err != nil {
			t.Fatal(err)
		}
		total := probe.Written()
		if total == 0 {
			t.Fatalf("%s wrote nothing", st.name)
		}
		for k := int64(0); k <= total; k++ {
			for _, corrupt := range []bool{false, true} {
				mem := NewMemFile(files[i])
				ff := NewFaultFile(mem, k)
				s, err := OpenFile(ff, Options{SlotSize: testSlot})
				if err != nil {
					t.Fatal(err)
				}
				perr := st.do(s)
				if k < total && perr == nil {
					t.Fatalf("%s cut at %d/%d: update returned nil", st.name, k, total)
				}
				if k < total && !errors.Is(perr, ErrPowerLoss) {
					t.Fatalf("%s cut at %d/%d: %v, want ErrPowerLoss", st.name, k, total, perr)
				}
				after := mem.Bytes()
				if corrupt {
					// Noise in the slot being written (a torn write that left garbage, not
					// zeros). A settled file has equal generations, so the update writes slot A
					// first and mirrors into slot B.
					if k == 0 || k == total {
						continue
					}
					torn := int64(0)
					if k >= total/2 {
						torn = 1
					}
					pos := torn*testSlot + rng.Int63n(testSlot)
					if pos < int64(len(after)) {
						after[pos] ^= byte(1 + rng.Intn(255))
					}
				}
				r, err := openBytes(t, after)
				if err != nil {
					t.Fatalf("%s cut at %d/%d (corrupt %v): reopen: %v", st.name, k, total, corrupt, err)
				}
				got := snapshot(r)
				isOld, isNew := reflect.DeepEqual(got, old), reflect.DeepEqual(got, want)
				switch {
				case !isOld && !isNew:
					t.Fatalf("%s cut at %d/%d: a mix: %q\nold %q\nnew %q", st.name, k, total, got, old, want)
				case perr == nil && !isNew:
					t.Fatalf("%s cut at %d/%d: acknowledged update lost", st.name, k, total)
				case errors.Is(perr, ErrMirror) && !isNew:
					t.Fatalf("%s cut at %d/%d: committed update lost", st.name, k, total)
				}
				// The store recovers: the next update lands and survives a clean reopen.
				if err := r.Put("after", []byte{byte(k)}); err != nil {
					t.Fatalf("%s cut at %d: update after recovery: %v", st.name, k, err)
				}
				r2, err := openBytes(t, r.f.(*MemFile).Bytes())
				if err != nil {
					t.Fatal(err)
				}
				got["after"] = []byte{byte(k)}
				if !reflect.DeepEqual(snapshot(r2), got) {
					t.Fatalf("%s cut at %d: state after recovery %q", st.name, k, snapshot(r2))
				}
				if r2.Health().Degraded() {
					t.Fatalf("%s cut at %d: degraded after a clean update: %+v", st.name, k, r2.Health())
				}
			}
		}
	}
}

// TestSingleByteCorruption flips every byte of every settled file, one at a time: the mirror
// keeps the newest state loadable, and Health reports the damaged slot.
func TestSingleByteCorruption(t *testing.T) {
	files, states := settled(t)
	for i, b := range files {
		for pos := range b {
			for _, x := range []byte{0x01, 0x80, 0xFF} {
				c := append([]byte(nil), b...)
				c[pos] ^= x
				s, err := openBytes(t, c)
				if err != nil {
					t.Fatalf("file %d byte %d ^%#x: %v", i, pos, x, err)
				}
				if got := snapshot(s); !reflect.DeepEqual(got, states[i]) {
					t.Fatalf("file %d byte %d ^%#x: %q, want %q", i, pos, x, got, states[i])
				}
			}
		}
	}
}

// TestHealthReportsDamage: a flipped byte in a used part of a slot shows in Health.
func TestHealthReportsDamage(t *testing.T) {
	files, _ := settled(t)
	b := append([]byte(nil), files[len(files)-1]...)
	b[testSlot+70] ^= 0x55
	s, err := openBytes(t, b)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Health()
	if !h.Degraded() || !h.Valid[0] || h.Valid[1] || h.Rejected[1] == nil || !errors.Is(h.Rejected[1], ErrBadSlot) {
		t.Fatalf("health %+v", h)
	}
	if err := s.Put("x", []byte{1}); err != nil {
		t.Fatal(err)
	}
	if s.Health().Degraded() {
		t.Fatalf("still degraded after an update: %+v", s.Health())
	}
}

// failingFile fails the write that comes after n successful ones, once.
type failingFile struct {
	File
	n   int
	err error
}

func (f *failingFile) WriteAt(p []byte, off int64) (int, error) {
	if f.n == 0 {
		f.n = -1
		return len(p) / 2, f.err // half written, then the medium reports an error
	}
	f.n--
	return f.File.WriteAt(p, off)
}

// TestWriteErrors: a failed first write leaves the old state in memory and on disk; a failed
// mirror write reports ErrMirror with the update committed.
func TestWriteErrors(t *testing.T) {
	files, states := settled(t)
	eio := errors.New("EIO")
	for _, c := range []struct {
		name    string
		after   int
		wantErr error
		wantNew bool
	}{
		{"first write", 0, eio, false},
		{"mirror write", 1, ErrMirror, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			mem := NewMemFile(files[1])
			s, err := OpenFile(&failingFile{File: mem, n: c.after, err: eio}, Options{SlotSize: testSlot})
			if err != nil {
				t.Fatal(err)
			}
			err = steps()[1].do(s)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("got %v, want %v", err, c.wantErr)
			}
			want := states[1]
			if c.wantNew {
				want = states[2]
			}
			if got := snapshot(s); !reflect.DeepEqual(got, want) {
				t.Fatalf("in memory %q, want %q", got, want)
			}
			r, err := openBytes(t, mem.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if got := snapshot(r); !reflect.DeepEqual(got, want) {
				t.Fatalf("reopened %q, want %q", got, want)
			}
			// The failure is transient: the next update goes through.
			if err := s.Put("z", []byte("ok")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The counter adapter over the fault file: a reservation that was acknowledged is never
// undone by a power loss, so no counter value is ever handed out twice across resets.
func TestCounterNeverRepeatsAcrossPowerLoss(t *testing.T) {
	mem := NewMemFile(nil)
	if _, err := OpenFile(mem, Options{SlotSize: testSlot}); err != nil {
		t.Fatal(err)
	}
	issued := map[uint64]bool{}
	rng := rand.New(rand.NewSource(7))
	for boot := 0; boot < 40; boot++ {
		ff := NewFaultFile(NewMemFile(mem.Bytes()), rng.Int63n(3*testSlot))
		s, err := OpenFile(ff, Options{SlotSize: testSlot})
		if err != nil {
			t.Fatalf("boot %d: %v", boot, err)
		}
		var ceiling uint64
		if v, ok := s.Get("ctr"); ok {
			ceiling = binary.BigEndian.Uint64(v)
		}
		c := s.CounterStore("ctr")
		next := ceiling
		for !ff.PoweredOff() {
			if next == ceiling {
				if c.Reserve(ceiling+4) != nil {
					break
				}
				ceiling += 4
			}
			if issued[next] {
				t.Fatalf("boot %d: value %d issued twice", boot, next)
			}
			issued[next] = true
			next++
		}
		mem = NewMemFile(ff.File.(*MemFile).Bytes())
	}
	if len(issued) == 0 {
		t.Fatal("nothing issued")
	}
}
