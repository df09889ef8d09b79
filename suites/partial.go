package suites

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
)

// A handshake that never completes: the pack's key half is lost on the module bus.
var _ = Describe("A half-finished pairing", Ordered, Label("recovery", "slow"), func() {
	sys := rigUp("partial-pairing", inProcessOnly, emulatedBuses, functional)
	BeforeAll(func(ctx SpecContext) { bindAll(ctx, sys()) }, NodeTimeout(flowTimeout))

	It("times out after 30 s on both sides, and a new pairing then succeeds", func(ctx SpecContext) {
		m := sys().Modules[0]
		p := sys().Pack
		can2, ok := sys().Bus(p.Rig.Buses[1])
		Expect(ok).To(BeTrue())
		drop, err := can2.AddFault(emu.Fault{Kind: emu.Drop, Mask: 0x3F << 20, Value: uint32(canid.TypeKeyHalf) << 20,
			Fmt: emu.ExtendedOnly, From: p.Name()})
		Expect(err).NotTo(HaveOccurred())
		modBefore, packBefore := m.Stats().Session.Timeouts, p.Stats().Web4Modules.Timeouts

		t0 := time.Now()
		_, err = sys().App.PairModule(ctx, pairingContext, m.EntityID())
		Expect(err).To(HaveOccurred(), "the pairing cannot complete without the pack's key half")
		fired, _ := can2.Fired(drop)
		Expect(fired).To(BeNumerically(">", 0), "the pack's key half was sent (and lost)")

		Eventually(func() bool {
			return m.Stats().Session.Timeouts > modBefore && p.Stats().Web4Modules.Timeouts > packBefore
		}).WithTimeout(40*time.Second).WithPolling(100*time.Millisecond).Should(BeTrue(), "both sides time the pairing out")
		Expect(time.Since(t0)).To(BeNumerically(">=", 29*time.Second), "not before 30 s")
		l, _, err := m.Link(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(l.Pending).To(BeFalse(), "the module discarded the half-finished pairing")

		Expect(can2.RemoveFault(drop)).To(BeTrue())
		_, err = sys().App.PairPack(ctx, pairingContext)
		Expect(err).NotTo(HaveOccurred())
		_, err = sys().App.PairModule(ctx, pairingContext, m.EntityID())
		Expect(err).NotTo(HaveOccurred())
		ack, err := sys().App.Command(ctx, m.Rig.ModuleID, chargeEnable())
		Expect(err).NotTo(HaveOccurred())
		Expect(ack.Status).To(Equal(message.StatusOK))
	}, NodeTimeout(2*time.Minute))
})
