package freshness

import (
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/protocol/canid"
)

var (
	telKey = func() []byte {
		k := make([]byte, 32)
		for i := range k {
			k[i] = byte(i)
		}
		return k
	}()
	telID = canid.New(canid.TypeTelemetryShort, true, canid.LevelExchange, canid.AddrPack, 0x01)
)

func TestShortGolden(t *testing.T) {
	if telID.Encode() != 0x1A124001 {
		t.Fatalf("id %08X", telID.Encode())
	}
	fd16, _ := FD(16)
	tests := []struct {
		l       Layout
		payload string
		want    string
	}{
		// MACs computed independently (Python cryptography's AES-CMAC) over
		// tag ‖ 1A124001 ‖ 0000000000000102 ‖ payload.
		{Classic(), "AABBCC", "AABBCC02CF49DBB8"},
		{fd16, "010203040506", "0102030405060102DABCFB78645BB1D4"},
	}
	for _, tc := range tests {
		m, _ := newMAC(telKey)
		p, _ := hex.DecodeString(tc.payload)
		f := SealWith(m, tc.l, telID.Encode(), 0x0102, p)
		if got := strings.ToUpper(hex.EncodeToString(f.Payload())); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.l, got, tc.want)
		}
		if err := f.Validate(); err != nil || f.FD != tc.l.FD || !f.Extended {
			t.Errorf("frame %v: %v", f, err)
		}
		v, _ := NewVerifier(telKey, tc.l, 0x0100, DefaultPolicy())
		got, _, err := v.Open(&f, t0)
		if err != nil || got.Counter != 0x0102 || got.Skipped != 2 || hex.EncodeToString(got.Payload) != strings.ToLower(tc.payload) {
			t.Errorf("open: %+v %v", got, err)
		}
	}
}

func newPair(t *testing.T, l Layout) (*Signer, *Verifier) {
	t.Helper()
	c, _ := NewCounter(NewMemStore(0), 0)
	s, err := NewSigner(telKey, c, l)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(telKey, l, 0, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func TestShortRoundTripAndCounterWrap(t *testing.T) {
	fd64, _ := FD(64)
	for _, l := range []Layout{Classic(), fd64} {
		s, v := newPair(t, l)
		for i := uint64(0); i < 600; i++ { // the 8-bit FV wraps twice
			f, c, err := s.Seal(telID, []byte{byte(i), 2, 3})
			if err != nil || c != i {
				t.Fatal(c, err)
			}
			if i%7 == 3 {
				continue // lost on the bus
			}
			got, _, err := v.Open(&f, t0)
			if err != nil {
				t.Fatalf("counter %d: %v", i, err)
			}
			if got.Counter != i || got.Payload[0] != byte(i) || len(got.Payload) != l.PayloadLen() {
				t.Fatalf("got %+v", got)
			}
			if want := uint64(0); i%7 == 4 && got.Skipped != 1 || i%7 != 4 && got.Skipped != want {
				t.Fatalf("counter %d skipped %d", i, got.Skipped)
			}
		}
	}
}

func TestShortRejects(t *testing.T) {
	s, v := newPair(t, Classic())
	f, _, _ := s.Seal(telID, []byte{1, 2, 3})
	// Every single-bit flip of the frame fails the MAC.
	for bit := 0; bit < 64; bit++ {
		g := f
		g.Data[bit/8] ^= 1 << (bit % 8)
		v2, _ := NewVerifier(telKey, Classic(), 0, Policy{Threshold: 1000, Window: time.Second})
		if _, _, err := v2.Open(&g, t0); !errors.Is(err, ErrMAC) {
			t.Fatalf("bit %d: %v", bit, err)
		}
	}
	// Another identifier (different source) fails the MAC: the ID is covered.
	g := f
	g.ID = canid.New(canid.TypeTelemetryShort, true, canid.LevelExchange, canid.AddrPack, 0x02).Encode()
	v2, _ := NewVerifier(telKey, Classic(), 0, DefaultPolicy())
	if _, _, err := v2.Open(&g, t0); !errors.Is(err, ErrMAC) {
		t.Fatal(err)
	}
	if _, _, err := v.Open(&f, t0); err != nil {
		t.Fatal(err)
	}
	// A replay of the accepted frame stands for counter +256 and fails.
	if _, _, err := v.Open(&f, t0); !errors.Is(err, ErrMAC) {
		t.Fatalf("replay: %v", err)
	}
	bad := []bus.Frame{
		{ID: f.ID, Extended: true, Len: 7},
		{ID: f.ID, Extended: true, FD: true, Len: 8},
		{ID: 0x400, Len: 8},
		{ID: canid.New(canid.TypeTelemetryShort, false, 0, canid.AddrPack, 1).Encode(), Extended: true, Len: 8},
		{ID: canid.New(canid.TypeTelemetry, true, 0, canid.AddrPack, 1).Encode(), Extended: true, Len: 8},
		{ID: 0x500 << 18, Extended: true, Len: 8},
	}
	for _, b := range bad {
		if _, _, err := v.Open(&b, t0); !errors.Is(err, ErrShortFrame) {
			t.Errorf("%v: %v", b, err)
		}
	}
	if _, _, err := s.Seal(telID, make([]byte, 4)); err == nil {
		t.Error("payload too long accepted")
	}
	if _, _, err := s.Seal(canid.New(canid.TypeTelemetry, true, 0, 0x40, 1), nil); !errors.Is(err, ErrShortFrame) {
		t.Error("wrong type sealed")
	}
}

func TestShortLockout(t *testing.T) {
	s, v := newPair(t, Classic())
	good, _, _ := s.Seal(telID, []byte{1})
	forged := good
	forged.Data[7] ^= 0xFF
	var esc int
	for i := 0; i < 3; i++ {
		_, verdict, err := v.Open(&forged, t0.Add(time.Duration(i)*time.Second))
		if !errors.Is(err, ErrMAC) {
			t.Fatal(err)
		}
		if verdict.Escalate {
			esc++
			if i != 2 {
				t.Fatalf("escalated at failure %d", i+1)
			}
		}
	}
	if esc != 1 {
		t.Fatal("no escalation")
	}
	// Locked out: even the genuine frame is refused, and nothing escalates again.
	if _, verdict, err := v.Open(&good, t0.Add(3*time.Second)); !errors.Is(err, ErrLockedOut) || verdict.Escalate {
		t.Fatalf("during lock-out: %v", err)
	}
	if _, _, err := v.Open(&good, t0.Add(62*time.Second)); err != nil {
		t.Fatalf("after lock-out: %v", err)
	}
	if st := v.GuardStats(); st.Failures != 3 || st.Lockouts != 1 || st.Refused != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestShortResync(t *testing.T) {
	s, v := newPair(t, Classic())
	for i := 0; i < 300; i++ { // more than 2^8 frames lost: the FV cannot bridge the gap
		s.Seal(telID, nil)
	}
	f, c, _ := s.Seal(telID, nil)
	if _, _, err := v.Open(&f, t0); !errors.Is(err, ErrMAC) {
		t.Fatalf("desynchronised frame: %v", err)
	}
	v.Resync(c - 10) // learned over the AEAD channel
	if got, _, err := v.Open(&f, t0); err != nil || got.Counter != c || got.Skipped != 10 {
		t.Fatalf("%+v %v", got, err)
	}
	v.Resync(0) // never backwards
	if v.Next() != c+1 {
		t.Fatal(v.Next())
	}
}

func TestCandidate(t *testing.T) {
	tests := []struct {
		next, fv uint64
		bits     int
		want     uint64
		ok       bool
	}{
		{0, 0, 8, 0, true}, {0, 5, 8, 5, true}, {5, 5, 8, 5, true}, {6, 5, 8, 261, true},
		{0x1FF, 0x00, 8, 0x200, true}, {0x1FF, 0xFF, 8, 0x1FF, true}, {0x12345, 0x44, 8, 0x12444, true},
		{0x12345, 0x2345, 16, 0x12345, true}, {0x12345, 0x2344, 16, 0x22344, true},
		{math.MaxUint64 - 5, 0xFA, 8, math.MaxUint64 - 5, true},
		{math.MaxUint64 - 5, 0xF0, 8, 0, false},
		{math.MaxUint64 - 5, 0xFF, 8, 0, false},
		{7, 9, 64, 9, true}, {7, 3, 64, 0, false},
	}
	for _, tc := range tests {
		got, ok := Candidate(tc.next, tc.fv, tc.bits)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("Candidate(%#x, %#x, %d) = %#x %v, want %#x %v", tc.next, tc.fv, tc.bits, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLayouts(t *testing.T) {
	if Classic().PayloadLen() != 3 {
		t.Fatal("classic payload")
	}
	for _, n := range []int{12, 16, 20, 24, 32, 48, 64} {
		l, err := FD(n)
		if err != nil || l.PayloadLen() != n-10 {
			t.Errorf("FD(%d): %+v %v", n, l, err)
		}
	}
	for _, n := range []int{8, 10, 65} {
		if _, err := FD(n); err == nil {
			t.Errorf("FD(%d) accepted", n)
		}
	}
	c, _ := NewCounter(NewMemStore(0), 0)
	if _, err := NewSigner(telKey, c, Layout{Len: 8, FVBytes: 1, MACBytes: 3}); err == nil {
		t.Error("24-bit MAC accepted")
	}
	if _, err := NewSigner(telKey[:5], c, Classic()); err == nil {
		t.Error("5-byte key accepted")
	}
}
