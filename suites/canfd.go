package suites

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

// fdDataBitrate is the data phase of the FD variant: what the pack's MCP2518FD controller
// could run beside 500 kbit/s arbitration (docs/protocol.md, System).
const fdDataBitrate = 2_000_000

// fdBuses brings the rig up with the app bus in CAN FD mode (500 kbit/s arbitration,
// 2 Mbit/s data), as rigs/emulated-fd.yaml does; the rig file itself is left as it is. The
// module bus stays classic: the modules' ATmega64M1 has a CAN 2.0 controller, which would
// destroy every FD frame with an error frame. Only an emulated bus the bench makes can be
// switched: on a rig with another app bus the container is skipped.
func fdBuses(o *framework.Options) {
	r := *o.Rig
	r.Buses = append([]rig.Bus(nil), o.Rig.Buses...)
	app := appBus(&r)
	for i := range r.Buses {
		b := &r.Buses[i]
		if b.Name != app || b.FD {
			continue
		}
		if b.Transport.Kind != rig.TransportEmulated || b.Transport.Address != "" {
			Skip("bus " + b.Name + " is not an in-process emulated bus: run this rig's FD variant instead")
		}
		b.FD, b.DataBitrate = true, fdDataBitrate
	}
	o.Rig = &r
}

// appBus is the app's bus: the first bus of the rig's app device.
func appBus(r *rig.Rig) string {
	for _, d := range r.Devices {
		if d.Role == rig.RoleApp && len(d.Buses) > 0 {
			return d.Buses[0]
		}
	}
	return "can1"
}

// The same L5 flows as on classic CAN, with the app bus in FD mode: an FD bus carries the
// profile's classic ISO-TP frames unchanged beside FD frames.
var _ = Describe("L5 commands and telemetry with an app bus in CAN FD mode", Ordered, Label("command", "telemetry", "fd"), func() {
	sys := rigUp("can-fd", functional, fdBuses)
	events := pairedEvents(sys)

	It("runs the app bus in FD mode and carries FD frames on it", func(ctx SpecContext) {
		name := sys().Pack.Rig.Buses[0]
		if b, ok := sys().Bus(name); ok {
			c := b.Config()
			Expect(c.FD).To(BeTrue(), "bus %s", name)
			Expect(c.Timing.Data).To(Equal(fdDataBitrate), "bus %s", name)
		}
		// A 64-byte FD frame with bit-rate switching goes through where a classic bus refuses
		// it (bus.ErrNoFD). It is addressed to a node that does not exist, so nobody acts on it.
		p, ok := sys().Probe(name)
		Expect(ok).To(BeTrue())
		f := bus.Frame{ID: canid.New(canid.TypeDiscovery, false, 0, 0x7D, 0x7E).Encode(), Extended: true,
			FD: true, BRS: true, Len: 64}
		Expect(p.Send(ctx, f)).To(Succeed(), "an FD frame on %s", name)
	}, NodeTimeout(flowTimeout))

	It("acknowledges an L5 command to every module through the pack, and to the pack", func(ctx SpecContext) {
		p, _ := sys().Probe(sys().Pack.Rig.Buses[0])
		mark := p.Mark()
		for _, m := range sys().Modules {
			ack, err := sys().App.Command(ctx, m.Rig.ModuleID, chargeEnable())
			Expect(err).NotTo(HaveOccurred(), "%s", m.Name())
			Expect(ack.Status).To(Equal(message.StatusOK), "%s", m.Name())
		}
		ack, err := sys().App.Command(ctx, sys().Pack.Addr(), chargeEnable())
		Expect(err).NotTo(HaveOccurred())
		Expect(ack.Status).To(Equal(message.StatusOK))
		if !sys().Programs { // the programs' engines segment classic frames on every bus
			fd := 0
			for _, r := range p.Frames(mark) {
				if _, err := canid.Decode(r.Frame.ID, r.Frame.Extended); err == nil && r.Frame.FD && r.Frame.Len > 8 {
					fd++
				}
			}
			Expect(fd).To(BeNumerically(">", 0), "the app and the pack segment Web4 messages into FD frames on the FD bus")
		}
	}, NodeTimeout(flowTimeout))

	It("carries protected telemetry from every module to the app", func(ctx SpecContext) {
		seen := map[uint8]bool{}
		deadline := time.After(30 * time.Second)
		for len(seen) < len(sys().Modules) {
			select {
			case ev := <-events():
				if e, ok := ev.(session.EventTelemetry); ok {
					Expect(e.Protected).To(BeTrue(), "telemetry from 0x%02X arrived unprotected", e.Telemetry.Addr)
					seen[e.Telemetry.Addr] = true
				}
			case <-deadline:
				Fail("telemetry reached the app only from these modules: " + formatSeen(seen))
			case <-ctx.Done():
				Fail("telemetry reached the app only from these modules: " + formatSeen(seen))
			}
		}
	}, NodeTimeout(flowTimeout))
})
