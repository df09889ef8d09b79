package suites

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

// flowTimeout bounds one flow step on the emulated rig (devices at zero modelled cost).
const flowTimeout = 2 * time.Minute

var _ = Describe("Binding a factory-default pack and its modules", Ordered, Label("binding"), func() {
	sys := rigUp("binding", functional)

	It("binds the app and the pack through the authority, recorded in its ledger", func(ctx SpecContext) {
		bid, err := sys().App.BindPack(ctx)
		Expect(err).NotTo(HaveOccurred())
		got, ok := sys().App.BindingID(sys().App.Access().DeviceID, "pack-0")
		Expect(ok).To(BeTrue())
		Expect(got).To(Equal(bid))
	}, NodeTimeout(flowTimeout))

	It("binds the pack and every module, each key made on its device", func(ctx SpecContext) {
		for _, m := range sys().Modules {
			_, err := sys().App.BindModule(ctx, m.EntityID())
			Expect(err).NotTo(HaveOccurred(), "%s", m.Name())
			_, ok := sys().App.BindingID("pack-0", m.EntityID())
			Expect(ok).To(BeTrue())
		}
	}, NodeTimeout(flowTimeout))
})

var _ = Describe("Pairing in battery_management", Ordered, Label("pairing"), func() {
	sys := rigUp("pairing", functional)
	BeforeAll(func(ctx SpecContext) { bindAll(ctx, sys()) }, NodeTimeout(flowTimeout))

	It("pairs the app and the pack, the completion accepted by the authority", func(ctx SpecContext) {
		pid, err := sys().App.PairPack(ctx, pairingContext)
		Expect(err).NotTo(HaveOccurred())
		p, err := sys().Authority.Pairing(pid)
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Status).To(Equal("completed"))
	}, NodeTimeout(flowTimeout))

	It("pairs the pack and every module, each completion accepted by the authority", func(ctx SpecContext) {
		for _, m := range sys().Modules {
			pid, err := sys().App.PairModule(ctx, pairingContext, m.EntityID())
			Expect(err).NotTo(HaveOccurred(), "%s", m.Name())
			p, err := sys().Authority.Pairing(pid)
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Status).To(Equal("completed"), "%s", m.Name())
		}
	}, NodeTimeout(flowTimeout))
})

var _ = Describe("L5 commands with ACKs", Ordered, Label("command"), func() {
	sys := rigUp("command", functional)
	BeforeAll(func(ctx SpecContext) {
		bindAll(ctx, sys())
		pairAll(ctx, sys(), pairingContext)
	}, NodeTimeout(flowTimeout))

	It("acknowledges a charge-enable command to a module through the pack", func(ctx SpecContext) {
		m := sys().Modules[0]
		ack, err := sys().App.Command(ctx, m.Rig.ModuleID, chargeEnable())
		Expect(err).NotTo(HaveOccurred())
		Expect(ack.Status).To(Equal(message.StatusOK))
		if m.Device != nil { // in-process: its counters are at hand
			Eventually(func() uint64 { return m.Stats().Commands[message.StatusOK.String()] }).Should(BeNumerically(">", 0),
				"the module executed it")
		}
	}, NodeTimeout(flowTimeout))

	It("acknowledges a command to every module", func(ctx SpecContext) {
		for _, m := range sys().Modules {
			ack, err := sys().App.Command(ctx, m.Rig.ModuleID, chargeEnable())
			Expect(err).NotTo(HaveOccurred(), "%s", m.Name())
			Expect(ack.Status).To(Equal(message.StatusOK), "%s", m.Name())
		}
	}, NodeTimeout(flowTimeout))

	It("acknowledges a command to the pack itself", func(ctx SpecContext) {
		ack, err := sys().App.Command(ctx, sys().Pack.Addr(), chargeEnable())
		Expect(err).NotTo(HaveOccurred())
		Expect(ack.Status).To(Equal(message.StatusOK))
	}, NodeTimeout(flowTimeout))
})

var _ = Describe("Protected telemetry", Ordered, Label("telemetry"), func() {
	sys := rigUp("telemetry", functional)
	events := pairedEvents(sys)

	It("reaches the app from every module, protected end to end", func(ctx SpecContext) {
		seen := map[uint8]bool{}
		for len(seen) < len(sys().Modules) {
			select {
			case ev := <-events():
				if e, ok := ev.(session.EventTelemetry); ok {
					Expect(e.Protected).To(BeTrue(), "telemetry from 0x%02X arrived unprotected", e.Telemetry.Addr)
					Expect(e.Peer).To(Equal(canid.AddrPack), "the pack relays it")
					seen[e.Telemetry.Addr] = true
				}
			case <-ctx.Done():
				Fail("telemetry reached the app only from these modules: " + formatSeen(seen))
			}
		}
	}, NodeTimeout(flowTimeout))
})

var _ = Describe("Key loss on a module", Ordered, Label("recovery", "escalation"), func() {
	sys := rigUp("key-loss", inProcessOnly, functional)
	events := pairedEvents(sys)

	var oldPID string
	var oldCert []byte
	It("is announced and escalated to binding validation (L7) at the app", func(ctx SpecContext) {
		m := sys().Modules[0]
		oldPID, _ = sys().App.PairingID(m.EntityID())
		oldCert, _ = sys().App.Certificate(m.EntityID())
		Expect(m.LoseKeys(ctx)).To(Succeed())
		for {
			select {
			case ev := <-events():
				e, ok := ev.(session.EventEscalation)
				if !ok || e.Local || e.Escalation.Reason != message.ReasonKeyLoss {
					continue
				}
				Expect(e.Escalation.Target).To(Equal(message.L7BindingValidation))
				Expect(e.Escalation.Source).To(Equal(m.Rig.ModuleID))
				return
			case <-ctx.Done():
				Fail("no key-loss escalation reached the app")
			}
		}
	}, NodeTimeout(flowTimeout))

	It("is recovered: re-bound with new keys and re-paired, the old pairing revoked", func(ctx SpecContext) {
		m := sys().Modules[0]
		Expect(sys().App.Recover(ctx, m.EntityID(), pairingContext)).To(Succeed())
		p, err := sys().Authority.Pairing(oldPID)
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Status).To(Equal("revoked"))
		newPID, _ := sys().App.PairingID(m.EntityID())
		Expect(newPID).NotTo(Equal(oldPID))
	}, NodeTimeout(flowTimeout))

	It("refuses the old pairing certificate on the module", func(ctx SpecContext) {
		m := sys().Modules[0]
		refused := func() uint64 { return m.Stats().Session.Rejected[session.CausePairing] }
		before := refused()
		Expect(sys().App.DeliverPairing(ctx, m.EntityID(), oldCert)).To(Succeed())
		Eventually(refused).WithTimeout(5 * time.Second).Should(BeNumerically(">", before))
	}, NodeTimeout(flowTimeout))

	It("acknowledges commands to every module again", func(ctx SpecContext) {
		for _, m := range sys().Modules {
			ack, err := sys().App.Command(ctx, m.Rig.ModuleID, chargeEnable())
			Expect(err).NotTo(HaveOccurred(), "%s", m.Name())
			Expect(ack.Status).To(Equal(message.StatusOK), "%s", m.Name())
		}
	}, NodeTimeout(flowTimeout))
})
