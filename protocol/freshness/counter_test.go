package freshness

import (
	"errors"
	"math"
	"testing"
)

func TestCounterNeverRepeatsAcrossResets(t *testing.T) {
	store := NewMemStore(0)
	seen := map[uint64]bool{}
	var last uint64
	issued := 0
	// Power losses after 0, 1, 255, 256, 257 and 1000 values of each boot.
	for _, n := range []int{0, 1, 255, 256, 257, 1000, 3} {
		c, err := NewCounter(store, 256)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			v, err := c.Next()
			if err != nil {
				t.Fatal(err)
			}
			if seen[v] || (issued > 0 && v <= last) {
				t.Fatalf("value %d repeated or not increasing after %d", v, last)
			}
			seen[v], last = true, v
			issued++
		}
	}
	// Each boot skips at most one block.
	if last >= uint64(issued)+7*256 {
		t.Errorf("last %d after %d values: more than a block lost per boot", last, issued)
	}
	// One store write per block.
	if w := store.Writes(); w > issued/256+7 {
		t.Errorf("%d writes for %d values", w, issued)
	}
}

func TestCounterResumesAtCeiling(t *testing.T) {
	store := NewMemStore(0)
	c, _ := NewCounter(store, 16)
	for i := 0; i < 5; i++ {
		c.Next()
	}
	if ceil, _ := store.Load(); ceil != 16 {
		t.Fatalf("ceiling %d", ceil)
	}
	c2, _ := NewCounter(store, 16)
	if v, _ := c2.Next(); v != 16 {
		t.Fatalf("resumed at %d, want 16", v)
	}
	if ceil, _ := store.Load(); ceil != 32 {
		t.Fatalf("ceiling %d", ceil)
	}
}

func TestCounterStoreFailure(t *testing.T) {
	store := NewMemStore(0)
	c, _ := NewCounter(store, 2)
	c.Next()
	c.Next()
	bad := errors.New("flash write failed")
	store.FailWith(bad)
	if _, err := c.Next(); !errors.Is(err, bad) {
		t.Fatalf("got %v", err)
	}
	if c.Peek() != 2 {
		t.Fatal("value consumed without a reservation")
	}
	store.FailWith(nil)
	if v, err := c.Next(); err != nil || v != 2 {
		t.Fatalf("%d %v", v, err)
	}
}

func TestCounterExhaustion(t *testing.T) {
	store := NewMemStore(math.MaxUint64 - 3)
	c, _ := NewCounter(store, 256)
	for want := uint64(math.MaxUint64 - 3); want < math.MaxUint64; want++ {
		v, err := c.Next()
		if err != nil || v != want {
			t.Fatalf("%d %v, want %d", v, err, want)
		}
	}
	if _, err := c.Next(); !errors.Is(err, ErrExhausted) {
		t.Fatalf("got %v", err)
	}
	if ceil, _ := store.Load(); ceil != math.MaxUint64 {
		t.Fatalf("ceiling %d", ceil)
	}
}

func TestMemStoreRefusesLowering(t *testing.T) {
	if err := NewMemStore(10).Reserve(5); err == nil {
		t.Fatal("lowered")
	}
}
