package suites

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/legacy"
)

// Timing that only real silicon and a real wire can show: on an emulated rig the devices
// run on the host's scheduler and these figures would say nothing about the hardware.
var _ = Describe("The pack controller's cyclic timing on the real bus", Ordered, Label("hardware-only"), func() {
	BeforeAll(func() {
		c, _ := current()
		if c.Rig != nil && !framework.HasHardware(c.Rig) {
			Skip("hardware-only: rig " + c.Rig.Name + " has no real pack; these specs measure the pack's firmware on its own silicon")
		}
	})
	sys := rigUp("hardware-timing")

	It("sends its app-bus block every 500 ms ± 5 %", func(ctx SpecContext) {
		p, ok := sys().Probe(sys().Pack.Rig.Buses[0])
		Expect(ok).To(BeTrue())
		mark := p.Mark()
		wctx, cancel := context.WithTimeout(ctx, 6*time.Second)
		defer cancel()
		var times []time.Time
		for len(times) < 10 {
			r, at, err := p.Wait(wctx, mark, "the pack state block (0x410)", func(f bus.Frame) bool {
				d, err := legacy.Decode(f)
				return err == nil && d.Msg.MsgID() == legacy.IDPackState
			})
			Expect(err).NotTo(HaveOccurred())
			times, mark = append(times, r.Time), at+1
		}
		for i := 1; i < len(times); i++ {
			Expect(times[i].Sub(times[i-1])).To(BeNumerically("~", 500*time.Millisecond, 25*time.Millisecond))
		}
	}, NodeTimeout(time.Minute))
})
