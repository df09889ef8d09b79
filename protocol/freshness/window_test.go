package freshness

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// model is the obvious replay window: a set of every accepted counter.
type model struct {
	size    uint64
	highest uint64
	started bool
	seen    map[uint64]bool
}

func (m *model) accept(c uint64) error {
	if m.started && c <= m.highest {
		if m.highest-c >= m.size {
			return ErrStale
		}
		if m.seen[c] {
			return ErrReplay
		}
	}
	if !m.started || c > m.highest {
		m.highest, m.started = c, true
	}
	m.seen[c] = true
	return nil
}

func checkAgainstModel(t *testing.T, size int, counters []uint64) {
	t.Helper()
	w, err := NewWindow(size)
	if err != nil {
		t.Fatal(err)
	}
	m := &model{size: uint64(size), seen: map[uint64]bool{}}
	for i, c := range counters {
		want := m.accept(c)
		chk := w.Check(c)
		got := w.Accept(c)
		if !errors.Is(got, want) || (want == nil) != (got == nil) || !errors.Is(chk, want) {
			t.Fatalf("size %d step %d counter %d: got %v (check %v), want %v", size, i, c, got, chk, want)
		}
		if got != nil {
			var re *ReplayError
			if !errors.As(got, &re) || re.Counter != c || re.Highest != m.highest {
				t.Fatalf("error %#v", got)
			}
		}
		if h, ok := w.Highest(); h != m.highest || !ok {
			t.Fatalf("highest %d want %d", h, m.highest)
		}
	}
}

func TestWindowEdges(t *testing.T) {
	const top = math.MaxUint64
	tests := []struct {
		name string
		size int
		c    []uint64
	}{
		{"zero first", 64, []uint64{0, 0, 1, 0, 1}},
		{"inside window", 64, []uint64{100, 37, 36, 99, 98, 99, 37}},
		{"exact window edge", 64, []uint64{100, 37, 36, 101, 37, 38, 38}},
		{"bitmap wrap", 64, []uint64{63, 64, 65, 127, 128, 64, 65, 66, 65, 129, 191, 192, 128}},
		{"slide one at a time", 64, func() []uint64 {
			var c []uint64
			for i := uint64(0); i < 300; i++ {
				c = append(c, i, i, i-min(i, 63), i-min(i, 64))
			}
			return c
		}()},
		{"jump larger than window", 64, []uint64{5, 6, 1000, 6, 936, 937, 936, 999, 1000}},
		{"jump of exactly the ring", 64, []uint64{10, 74, 10, 11, 74}},
		{"maximum counter", 64, []uint64{top - 70, top - 1, top, top, top - 63, top - 64, top - 63, 0}},
		{"from zero to the top", 64, []uint64{0, top, 0, top - 1}},
		{"size 1", 1, []uint64{5, 5, 4, 6, 5, 7}},
		{"size 100 spans words", 100, []uint64{200, 101, 100, 150, 150, 299, 200, 201, 199}},
		{"size 4096", 4096, []uint64{10000, 5905, 5904, 14095, 10000, 9999}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkAgainstModel(t, tc.size, tc.c) })
	}
}

func TestWindowRandomAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 2, 63, 64, 65, 128, 200} {
		var cs []uint64
		base := uint64(r.IntN(1000))
		for i := 0; i < 5000; i++ {
			switch r.IntN(10) {
			case 0:
				base += uint64(r.IntN(3 * size))
			case 1:
				base += 1
			}
			cs = append(cs, base-min(base, uint64(r.IntN(2*size+2))))
		}
		checkAgainstModel(t, size, cs)
	}
}

func TestWindowSize(t *testing.T) {
	for _, bad := range []int{-1, MaxWindow + 1} {
		if _, err := NewWindow(bad); err == nil {
			t.Errorf("size %d accepted", bad)
		}
	}
	w, _ := NewWindow(0)
	if w.Size() != DefaultWindow {
		t.Fatal(w.Size())
	}
	if _, ok := w.Highest(); ok {
		t.Fatal("highest before any counter")
	}
}

// TestWindowExhaustive runs every sequence of four counters over a range a little wider than
// twice the window, near 0 and near the largest counter, for small windows (ring of 64 bits, so
// the ring wraps too) against the model.
func TestWindowExhaustive(t *testing.T) {
	for _, size := range []int{1, 2, 3, 5, 8} {
		span := uint64(2*size + 3)
		for _, base := range []uint64{0, 60, math.MaxUint64 - span + 1} {
			var seq [4]uint64
			var rec func(i int)
			rec = func(i int) {
				if i == len(seq) {
					checkAgainstModel(t, size, seq[:])
					return
				}
				for v := uint64(0); v < span; v++ {
					seq[i] = base + v
					rec(i + 1)
				}
			}
			rec(0)
		}
	}
}
