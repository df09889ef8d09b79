package pack

import (
	"testing"
	"time"

	"github.com/modbatt/hilrun/legacy"
)

// fullCore is a core with 31 registered modules that have reported status.
func fullCore(b *testing.B) *harness {
	h := newHarness(b, func(c *Config) { c.ModuleFramesPerBlock = -1 })
	for i := 0; i < 31; i++ {
		h.addModule(h.at(time.Duration(1+i)*ms), uint32(0x7000+i))
	}
	h.run(h.at(4 * time.Second))
	if h.c.stats.Modules != 31 {
		b.Fatalf("%d modules", h.c.stats.Modules)
	}
	return h
}

// BenchmarkHandleStatus is the pack's cost of one module status frame (0x502) on CAN2.
func BenchmarkHandleStatus(b *testing.B) {
	h := fullCore(b)
	f := mustModule(b, &legacy.Status1{State: legacy.StateOn, SOC: 60, SOH: 97, CellCount: 16, Current: 4, Voltage: 51.2}, 7)
	now := h.now
	b.ReportAllocs()
	for b.Loop() {
		var out output
		now = now.Add(time.Millisecond)
		h.c.handleModule(f, now, &out)
	}
}

// BenchmarkBlock is one 500 ms app-bus block with every module's 0x411–0x416 (31 modules).
func BenchmarkBlock(b *testing.B) {
	h := fullCore(b)
	b.ReportAllocs()
	for b.Loop() {
		var out output
		h.c.block(&out)
	}
}

// BenchmarkPollSlot is one 100 ms poll slot with 31 modules.
func BenchmarkPollSlot(b *testing.B) {
	h := fullCore(b)
	now := h.now
	b.ReportAllocs()
	for b.Loop() {
		var out output
		h.c.pollSlot(now, &out)
		for _, m := range h.c.mods {
			if m != nil {
				m.polled = false
			}
		}
	}
}
