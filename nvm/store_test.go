package nvm

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/modbatt/hilrun/protocol/freshness"
)

func snapshot(s *Store) map[string][]byte {
	out := map[string][]byte{}
	for _, n := range s.Names() {
		v, _ := s.Get(n)
		out[n] = v
	}
	return out
}

func TestFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev.nvm")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Names()) != 0 {
		t.Fatalf("fresh store has %v", s.Names())
	}
	steps := []struct {
		name string
		do   func(*Store) error
		want map[string][]byte
	}{
		{"put", func(s *Store) error { return s.Put("identity", []byte("mod-07")) },
			map[string][]byte{"identity": []byte("mod-07")}},
		{"put many", func(s *Store) error {
			return s.PutMany(map[string][]byte{"bind.key": {1, 2, 3}, "pair.1": {}, "ctr.tx": {0, 0, 0, 0, 0, 0, 1, 0}})
		}, map[string][]byte{"identity": []byte("mod-07"), "bind.key": {1, 2, 3}, "pair.1": {}, "ctr.tx": {0, 0, 0, 0, 0, 0, 1, 0}}},
		{"overwrite and delete by nil", func(s *Store) error {
			return s.PutMany(map[string][]byte{"bind.key": {9}, "pair.1": nil})
		}, map[string][]byte{"identity": []byte("mod-07"), "bind.key": {9}, "ctr.tx": {0, 0, 0, 0, 0, 0, 1, 0}}},
		{"delete", func(s *Store) error { return s.Delete("ctr.tx", "absent") },
			map[string][]byte{"identity": []byte("mod-07"), "bind.key": {9}}},
		{"wipe keeps identity", func(s *Store) error { return s.Wipe("identity") },
			map[string][]byte{"identity": []byte("mod-07")}},
	}
	for _, st := range steps {
		if err := st.do(s); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := snapshot(s); !reflect.DeepEqual(got, st.want) {
			t.Fatalf("%s: got %q, want %q", st.name, got, st.want)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if s, err = Open(path); err != nil {
			t.Fatalf("%s: reopen: %v", st.name, err)
		}
		if got := snapshot(s); !reflect.DeepEqual(got, st.want) {
			t.Fatalf("%s: after reopen got %q, want %q", st.name, got, st.want)
		}
		if h := s.Health(); h.Degraded() {
			t.Fatalf("%s: settled file degraded: %+v", st.name, h)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
	if err := s.Put("x", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("put after close: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 2*DefaultSlotSize {
		t.Fatalf("file of %d bytes", fi.Size())
	}
	left, _ := filepath.Glob(path + ".new-*")
	if len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestGetReturnsCopy(t *testing.T) {
	s := OpenMem()
	v := []byte{1, 2}
	if err := s.Put("k", v); err != nil {
		t.Fatal(err)
	}
	v[0] = 7
	got, _ := s.Get("k")
	got[1] = 7
	if again, _ := s.Get("k"); !bytes.Equal(again, []byte{1, 2}) {
		t.Fatalf("record aliased: %v", again)
	}
}

func TestErrors(t *testing.T) {
	s, err := OpenFile(NewMemFile(nil), Options{SlotSize: MinSlotSize})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"empty name", s.Put("", []byte{1}), ErrBadName},
		{"long name", s.Put(string(make([]byte, MaxNameLen+1)), nil), ErrBadName},
		{"full", s.Put("big", make([]byte, MinSlotSize)), ErrFull},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
		}
	}
	if len(s.Names()) != 0 {
		t.Fatalf("failed puts left %v", s.Names())
	}
	if _, err := OpenFile(NewMemFile(nil), Options{SlotSize: 10}); err == nil {
		t.Fatal("tiny slot accepted")
	}
}

func TestSlotSizeMismatch(t *testing.T) {
	f := NewMemFile(nil)
	if _, err := OpenFile(f, Options{SlotSize: 512}); err != nil {
		t.Fatal(err)
	}
	_, err := OpenFile(NewMemFile(f.Bytes()), Options{SlotSize: 1024})
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want a CorruptError", err)
	}
}

func TestBothSlotsBad(t *testing.T) {
	s, err := OpenFile(NewMemFile(nil), Options{SlotSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put("a", []byte("b")); err != nil {
		t.Fatal(err)
	}
	b := s.f.(*MemFile).Bytes()
	b[40] ^= 1
	b[256+40] ^= 1
	_, err = OpenFile(NewMemFile(b), Options{SlotSize: 256})
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want CorruptError", err)
	}
	for i, se := range ce.Slots {
		if se == nil || se.Slot != i || !errors.Is(se, ErrBadSlot) {
			t.Fatalf("slot %d: %v", i, se)
		}
	}
	if _, err := OpenFile(NewMemFile([]byte("garbage")), Options{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("garbage: %v", err)
	}
}

func TestCounterStore(t *testing.T) {
	f := NewMemFile(nil)
	s, err := OpenFile(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := freshness.NewCounter(s.CounterStore("ctr.tx"), 4)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for i := 0; i < 6; i++ {
		if last, err = c.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if last != 5 {
		t.Fatalf("last %d", last)
	}
	// A reset: the counter resumes at the reserved ceiling, never below what was issued.
	s2, err := OpenFile(NewMemFile(f.Bytes()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := freshness.NewCounter(s2.CounterStore("ctr.tx"), 4)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c2.Next(); err != nil || v != 8 {
		t.Fatalf("after reset: %d, %v (want 8)", v, err)
	}
	if err := s2.CounterStore("ctr.tx").Reserve(3); !errors.Is(err, ErrValue) {
		t.Fatalf("lowering the ceiling: %v", err)
	}
	if err := s2.Put("ctr.bad", []byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.CounterStore("ctr.bad").Load(); !errors.Is(err, ErrValue) {
		t.Fatalf("short counter: %v", err)
	}
}

func TestFileLockAndEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev.nvm")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatalf("empty file: %v", err)
	}
	if _, err := Open(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	s.Close()
	if err := os.WriteFile(path, []byte("not a store"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("garbage file: %v", err)
	}
}

// Concurrent updates from several goroutines (a device's link engine and its counters) all
// land; run with -race.
func TestConcurrentUpdates(t *testing.T) {
	f := NewMemFile(nil)
	s, err := OpenFile(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func(g int) {
			var err error
			for i := 0; i < 25 && err == nil; i++ {
				err = s.Put(string(rune('a'+g))+"/"+string(rune('0'+i%10)), []byte{byte(i)})
				s.Get("a/0")
				s.Names()
			}
			done <- err
		}(g)
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	r, err := OpenFile(NewMemFile(f.Bytes()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(r.Names()); got != 40 {
		t.Fatalf("%d records, want 40", got)
	}
	if r.Health().Generation != 100 {
		t.Fatalf("generation %d", r.Health().Generation)
	}
}
