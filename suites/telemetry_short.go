package suites

import (
	"bytes"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

// shortFrom reports whether f is a single-frame telemetry frame from src to dst.
func shortFrom(f bus.Frame, src, dst uint8) bool {
	id, err := canid.Decode(f.ID, f.Extended)
	return err == nil && id.Type == canid.TypeTelemetryShort && id.Src == src && id.Dst == dst
}

// Single-frame telemetry with a truncated MAC (docs/protocol.md 6.5): modules send their fast
// telemetry one signal per frame; the pack verifies each frame and relays the sample to the app.
var _ = Describe("Single-frame telemetry", Ordered, Label("telemetry"), func() {
	sys := rigUp("telemetry-short", inProcessOnly, functional)
	events := pairedEvents(sys)

	It("reaches the app from every module, the sample relayed unchanged from CAN2 to CAN1", func(ctx SpecContext) {
		can1, ok1 := sys().Probe("can1")
		can2, ok2 := sys().Probe("can2")
		Expect(ok1 && ok2).To(BeTrue(), "the rig has no can1 and can2 probes")
		m1, m2 := can1.Mark(), can2.Mark()
		want := map[uint8]bool{}
		for _, m := range sys().Modules {
			want[m.Rig.ModuleID] = true
		}
		deadline := time.After(5 * time.Second)
		for len(want) > 0 {
			select {
			case ev := <-events():
				if e, ok := ev.(session.EventShortTelemetry); ok && e.Relayed && len(e.Samples) == 1 {
					delete(want, e.Peer)
				}
			case <-deadline:
				Fail("no single-frame telemetry reached the app from module(s)" + formatSeen(want))
			case <-ctx.Done():
				return
			}
		}
		// On the wires: the module's frame to the pack, then the pack's frame to the app with the
		// module's address as source and the same 3-byte sample (its FV and MAC are the pack's).
		addr := sys().Modules[0].Rig.ModuleID
		in, _, err := can2.Wait(ctx, m2, "a single frame from the module", func(f bus.Frame) bool { return shortFrom(f, addr, canid.AddrPack) })
		Expect(err).NotTo(HaveOccurred())
		out, _, err := can1.Wait(ctx, m1, "the relayed single frame", func(f bus.Frame) bool {
			return shortFrom(f, addr, canid.AddrApp) && bytes.Equal(f.Data[:3], in.Frame.Data[:3])
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(in.Frame.Len).To(BeEquivalentTo(8))
		Expect(out.Frame.Len).To(BeEquivalentTo(8))
		Expect(out.Time.Before(in.Time)).To(BeFalse(), "relayed before it arrived")
	}, NodeTimeout(time.Minute))

	It("locks a module out after three forged frames and escalates to the app", Label("escalation"), func(ctx SpecContext) {
		can2, _ := sys().Probe("can2")
		victim := sys().Modules[1].Rig.ModuleID
		before := sys().Pack.Stats().Web4Modules.Rejected[session.CauseLockedOut]
		id := canid.New(canid.TypeTelemetryShort, true, canid.LevelExchange, canid.AddrPack, victim)
		for i := range 4 {
			f := bus.Frame{ID: id.Encode(), Extended: true, Len: 8,
				Data: [64]byte{byte(message.SignalCurrent), 0x7F, byte(i), byte(0x80 + i), 0xDE, 0xAD, 0xBE, byte(i)}}
			Expect(can2.Send(ctx, f)).To(Succeed())
		}
		x, ok := awaitEscalation(ctx, events(), message.ReasonMACFailures, 5*time.Second)
		Expect(ok).To(BeTrue(), "no MAC-failure escalation reached the app")
		Expect(x.Source).To(Equal(victim), "the escalation names the module whose frames failed")
		Expect(x.Target).To(Equal(message.L6PairingValidation))
		Eventually(func() uint64 { return sys().Pack.Stats().Web4Modules.Rejected[session.CauseLockedOut] }).
			WithTimeout(5*time.Second).Should(BeNumerically(">", before), "frames refused during the lock-out")

		// While locked out, even the module's genuine frames stop at the pack; the others go on.
		drain := time.After(300 * time.Millisecond)
	flush:
		for {
			select {
			case <-events():
			case <-drain:
				break flush
			}
		}
		other := sys().Modules[2].Rig.ModuleID
		seen := map[uint8]int{}
		window := time.After(2 * time.Second)
	watch:
		for {
			select {
			case ev := <-events():
				if e, ok := ev.(session.EventShortTelemetry); ok {
					seen[e.Peer]++
				}
			case <-window:
				break watch
			}
		}
		Expect(seen[victim]).To(BeZero(), "frames of the locked-out module reached the app")
		Expect(seen[other]).To(BeNumerically(">", 5), "the other modules' frames go on")
	}, NodeTimeout(time.Minute))
})
