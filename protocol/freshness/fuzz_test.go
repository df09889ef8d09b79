package freshness

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
)

// FuzzOpen feeds the verifier arbitrary frames (and a few genuine ones) and checks that it never
// panics, returns only its typed errors, and moves its counter only forward on success.
func FuzzOpen(f *testing.F) {
	m, _ := newMAC(telKey)
	good := SealWith(m, Classic(), telID.Encode(), 7, []byte{1, 2, 3})
	f.Add(good.ID, false, good.Data[:8], uint64(0))
	f.Add(good.ID, false, good.Data[:8], uint64(8))
	f.Add(uint32(0x1A124001), true, make([]byte, 16), uint64(0))
	f.Add(uint32(0x400), false, []byte{}, uint64(0))
	f.Fuzz(func(t *testing.T, id uint32, fd bool, data []byte, next uint64) {
		l := Classic()
		if fd {
			l, _ = FD(16)
		}
		v, err := NewVerifier(telKey, l, next, DefaultPolicy())
		if err != nil {
			t.Fatal(err)
		}
		fr := bus.Frame{ID: id & 0x1FFFFFFF, Extended: true, FD: fd}
		fr.Len = uint8(min(len(data), 64))
		copy(fr.Data[:], data)
		got, _, err := v.Open(&fr, time.Unix(0, 0))
		if err != nil {
			if !errors.Is(err, ErrMAC) && !errors.Is(err, ErrShortFrame) && !errors.Is(err, ErrLockedOut) {
				t.Fatalf("untyped error %v", err)
			}
			if v.Next() != next {
				t.Fatal("a rejected frame moved the counter")
			}
			return
		}
		if got.Counter < next || v.Next() != got.Counter+1 || len(got.Payload) != l.PayloadLen() {
			t.Fatalf("accepted %+v with next %d", got, next)
		}
	})
}

// FuzzWindow feeds a window arbitrary counters and compares it with the set-based model.
func FuzzWindow(f *testing.F) {
	f.Add(uint16(64), []byte{0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 5})
	f.Add(uint16(1), []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(uint16(100), make([]byte, 80))
	f.Fuzz(func(t *testing.T, size uint16, in []byte) {
		n := int(size)%MaxWindow + 1
		w, err := NewWindow(n)
		if err != nil {
			t.Fatal(err)
		}
		m := &model{size: uint64(n), seen: map[uint64]bool{}}
		var base uint64
		for len(in) >= 2 {
			// Mostly small steps around a moving base so the window is exercised, sometimes a
			// full 64-bit value.
			var c uint64
			if in[0]&0x80 != 0 && len(in) >= 9 {
				c = binary.BigEndian.Uint64(in[1:9])
				in = in[9:]
			} else {
				step := uint64(in[1]) | uint64(in[0]&0x3F)<<8
				if in[0]&0x40 != 0 {
					c = base + step
				} else {
					c = base - min(base, step)
				}
				in = in[2:]
			}
			want := m.accept(c)
			got := w.Accept(c)
			if (want == nil) != (got == nil) || (want != nil && !errors.Is(got, want)) {
				t.Fatalf("counter %d: got %v, want %v", c, got, want)
			}
			if h, _ := w.Highest(); h != m.highest {
				t.Fatalf("highest %d, want %d", h, m.highest)
			}
			base = m.highest
			// Keep the model small: forget what the window can no longer reach.
			if len(m.seen) > 4*MaxWindow {
				for k := range m.seen {
					if m.highest-k >= m.size {
						delete(m.seen, k)
					}
				}
			}
		}
	})
}
