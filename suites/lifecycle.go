package suites

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/protocol/message"
)

var _ = Describe("Renewing a pairing", Ordered, Label("recovery", "pairing"), func() {
	sys := rigUp("renewal", functional)
	BeforeAll(func(ctx SpecContext) {
		bindAll(ctx, sys())
		pairAll(ctx, sys(), pairingContext)
	}, NodeTimeout(flowTimeout))

	It("completes a new pairing in the same context, and commands go on under it", func(ctx SpecContext) {
		m := sys().Modules[0]
		old, _ := sys().App.PairingID(m.EntityID())
		pid, err := sys().App.PairModule(ctx, pairingContext, m.EntityID())
		Expect(err).NotTo(HaveOccurred())
		Expect(pid).NotTo(Equal(old))
		p, err := sys().Authority.Pairing(pid)
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Status).To(Equal("completed"))
		for i := 0; i < 3; i++ {
			ack, err := sys().App.Command(ctx, m.Rig.ModuleID, chargeEnable())
			Expect(err).NotTo(HaveOccurred())
			Expect(ack.Status).To(Equal(message.StatusOK))
		}
	}, NodeTimeout(flowTimeout))
})

var _ = Describe("Factory reset of a module", Ordered, Label("recovery"), func() {
	sys := rigUp("factory-reset", inProcessOnly, functional)
	BeforeAll(func(ctx SpecContext) {
		bindAll(ctx, sys())
		pairAll(ctx, sys(), pairingContext)
	}, NodeTimeout(flowTimeout))

	It("comes back factory-default with its identity, registered at its ID again", func(ctx SpecContext) {
		m := sys().Modules[0]
		Expect(m.FactoryReset(ctx)).To(Succeed())
		Eventually(m.ModuleID).WithTimeout(5 * time.Second).Should(Equal(m.Rig.ModuleID))
		Expect(m.Config().UniqueID).To(Equal(m.Rig.UniqueID))
		Eventually(func() bool { return m.Stats().Web4Running }).Should(BeTrue())
		l, _, err := m.Link(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(l.Bound).To(BeFalse(), "no binding survives a factory reset")
		Expect(l.Paired).To(BeFalse(), "no pairing survives a factory reset")
		Expect(m.State()).To(Equal(legacy.StateOff))
	}, NodeTimeout(flowTimeout))

	It("is refused a fresh binding while its old one stands", func(ctx SpecContext) {
		_, err := sys().App.BindModule(ctx, sys().Modules[0].EntityID())
		Expect(err).To(MatchError(ContainSubstring("binding_exists")))
	}, NodeTimeout(flowTimeout))

	It("is revoked, bound and paired again through recovery, and then takes commands", func(ctx SpecContext) {
		m := sys().Modules[0]
		Expect(sys().App.Recover(ctx, m.EntityID(), pairingContext)).To(Succeed())
		ack, err := sys().App.Command(ctx, m.Rig.ModuleID, chargeEnable())
		Expect(err).NotTo(HaveOccurred())
		Expect(ack.Status).To(Equal(message.StatusOK))
	}, NodeTimeout(flowTimeout))
})
