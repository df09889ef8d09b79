package pack

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestRegistryRoundTrip(t *testing.T) {
	h := newHarness(t, nil)
	h.addModule(h.at(10*ms), 0x01020304)
	h.addModule(h.at(11*ms), 0xA0B0C0D0)
	h.run(h.at(20 * ms))
	b := encodeRegistry(h.c)
	want := []byte{1, 1, 2, 3, 0x01, 0x02, 0x03, 0x04, 2, 2, 3, 0xA0, 0xB0, 0xC0, 0xD0}
	if !bytes.Equal(b, want) {
		t.Fatalf("registry % x, want % x", b, want)
	}
	es, err := decodeRegistry(b)
	if err != nil {
		t.Fatal(err)
	}
	h2 := newHarness(t, nil)
	h2.c.restore(es, h2.now)
	if got := encodeRegistry(h2.c); !bytes.Equal(got, b) {
		t.Errorf("restored registry % x", got)
	}
	// A restored module is polled; silent, it times out like any other.
	h2.run(h2.at(5 * time.Second))
	if h2.c.stats.Timeouts != 2 || h2.c.stats.Polls == 0 {
		t.Errorf("restored modules: %d timeouts, %d polls", h2.c.stats.Timeouts, h2.c.stats.Polls)
	}
}

func TestRegistryRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"version", []byte{2}},
		{"partial entry", []byte{1, 1, 2, 3, 4}},
		{"module 0", []byte{1, 0, 2, 3, 0, 0, 0, 1}},
		{"module 0x20", []byte{1, 0x20, 2, 3, 0, 0, 0, 1}},
		{"order", []byte{1, 2, 2, 3, 0, 0, 0, 1, 1, 2, 3, 0, 0, 0, 2}},
		{"duplicate ID", []byte{1, 2, 2, 3, 0, 0, 0, 1, 2, 2, 3, 0, 0, 0, 2}},
		{"duplicate unique ID", []byte{1, 1, 2, 3, 0, 0, 0, 1, 2, 2, 3, 0, 0, 0, 1}},
	} {
		if _, err := decodeRegistry(c.b); !errors.Is(err, ErrRegistry) {
			t.Errorf("%s: %v, want ErrRegistry", c.name, err)
		}
	}
	if es, err := decodeRegistry([]byte{1}); err != nil || len(es) != 0 {
		t.Errorf("empty registry: %v %v", es, err)
	}
}

// FuzzRegistry: the registry loader never panics, and what it accepts encodes back to the
// same bytes.
func FuzzRegistry(f *testing.F) {
	f.Add([]byte{1, 1, 2, 3, 0x01, 0x02, 0x03, 0x04, 2, 2, 3, 0xA0, 0xB0, 0xC0, 0xD0})
	f.Add([]byte{1})
	f.Add([]byte{1, 0x20, 2, 3, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := decodeRegistry(b)
		if err != nil {
			return
		}
		h := newHarness(t, nil)
		h.c.restore(es, h.now)
		if got := encodeRegistry(h.c); !bytes.Equal(got, b) {
			t.Fatalf("accepted % x, encodes as % x", b, got)
		}
	})
}
