package emu

import (
	"errors"
	"testing"

	"github.com/modbatt/hilrun/bus"
)

func TestSetStuffing(t *testing.T) {
	b, sim := simBus(t, Config{})
	tx, rx := b.Join("tx"), b.Join("rx")
	f := ext(0x1234567, 1, 2, 3, 4, 5, 6, 7, 8)
	tm := bus.Timing{Nominal: 500_000}
	send(t, tx, f)
	got := collect(t, sim, rx, 1)
	if d := got[0].Time.Sub(t0); d != tm.Duration(&f, bus.WorstCase) {
		t.Fatalf("before: %v, want worst case", d)
	}
	if err := b.SetStuffing(bus.Exact); err != nil {
		t.Fatal(err)
	}
	if b.Config().Stuffing != bus.Exact {
		t.Errorf("Config().Stuffing = %v", b.Config().Stuffing)
	}
	send(t, tx, f)
	got2 := collect(t, sim, rx, 1)
	if d := got2[0].Time.Sub(got[0].Time); d != tm.Duration(&f, bus.Exact) || d >= tm.Duration(&f, bus.WorstCase) {
		t.Errorf("after: %v, want exact %v", d, tm.Duration(&f, bus.Exact))
	}
	for _, bad := range []bus.Stuffing{bus.WorstCase - 1, bus.Exact + 1} {
		if err := b.SetStuffing(bad); !errors.Is(err, ErrBadConfig) {
			t.Errorf("SetStuffing(%d): %v", bad, err)
		}
	}
	if b.Config().Stuffing != bus.Exact {
		t.Error("a refused model changed the bus")
	}
}
