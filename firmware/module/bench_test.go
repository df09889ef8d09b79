package module

import (
	"context"
	"testing"
	"time"

	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/mcu"
)

// BenchmarkModelStep is one 100 ms chain read of a 94-cell module (ten per second per module).
func BenchmarkModelStep(b *testing.B) {
	c := newCells(MaxCells, 1, DefaultCapacityAh, DefaultAmbientC, DefaultSOC, DefaultSOH)
	lim := limits{chargeEnable: true, dischargeEnable: true, chargeA: 50, dischargeA: 100, cellMaxV: 4.2, cellMinV: 2.8, tempMaxC: 60, tempMinC: -20}
	for b.Loop() {
		c.step(100*time.Millisecond, -8, true, lim)
	}
}

// BenchmarkStatusAnswer is the module's answer to a 0x512: four frames encoded and sent.
func BenchmarkStatusAnswer(b *testing.B) {
	d, err := New(Config{Bus: &sink{}, UniqueID: 1, Profile: mcu.Zero(), NoWeb4: true, Cells: MaxCells})
	if err != nil {
		b.Fatal(err)
	}
	d.runCtx, d.moduleID, d.state = context.Background(), 1, legacy.StateOn
	for b.Loop() {
		d.answerStatus()
	}
}
