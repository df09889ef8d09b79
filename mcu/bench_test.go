package mcu

import (
	"context"
	"testing"
	"time"

	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/suite"
)

// Devices charge around every frame they protect: the zero profile's charge must cost nothing
// measurable next to the AEAD itself (≈ 0.1 µs).
func BenchmarkChargeZero(b *testing.B) {
	c := Charger{Clock: clock.NewSim(time.Unix(0, 0)), Profile: Zero(), Meter: new(Meter)}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := c.AEAD(ctx, 16, 20); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCost(b *testing.B) {
	p := ATmega64M1()
	b.ReportAllocs()
	var d time.Duration
	for i := 0; i < b.N; i++ {
		d += p.Cost(suite.OpAEADBlock, 5)
	}
	_ = d
}
