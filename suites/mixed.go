package suites

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/protocol/message"
)

// A pack whose last module still runs the old (legacy-only) firmware.
var _ = Describe("A legacy-only module beside Web4 modules", Ordered, Label("legacy"), func() {
	var legacyName string
	sys := rigUp("mixed", inProcessOnly, functional, func(o *framework.Options) {
		for _, d := range o.Rig.Devices {
			if d.Role == "module" {
				legacyName = d.Name
			}
		}
		o.LegacyOnly = append(o.LegacyOnly, legacyName)
	})
	var old *framework.Module
	var web4 []*framework.Module
	BeforeAll(func() {
		Expect(len(sys().Modules)).To(BeNumerically(">=", 2), "the rig needs two modules or more")
		for _, m := range sys().Modules {
			if m.LegacyOnly {
				old = m
			} else {
				web4 = append(web4, m)
			}
		}
		Expect(old).NotTo(BeNil())
	})

	It("is registered and reported to the app like the others", func(ctx SpecContext) {
		p, _ := sys().Probe(sys().Pack.Rig.Buses[0])
		mark := p.Mark()
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, _, err := p.Wait(wctx, mark, "0x411 for the legacy-only module", func(f bus.Frame) bool {
			d, err := legacy.Decode(f)
			if err != nil {
				return false
			}
			ms, ok := d.Msg.(*legacy.ModuleState)
			return ok && ms.ModuleID == old.Rig.ModuleID
		})
		Expect(err).NotTo(HaveOccurred())
	}, NodeTimeout(time.Minute))

	It("cannot be bound, and says so within the bench's timeout", func(ctx SpecContext) {
		_, err := sys().App.BindPack(ctx)
		Expect(err).NotTo(HaveOccurred())
		bctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		_, err = sys().App.BindModule(bctx, old.EntityID())
		Expect(err).To(HaveOccurred())
	}, NodeTimeout(time.Minute))

	It("keeps reporting while the Web4 modules are bound, paired and commanded", func(ctx SpecContext) {
		for _, m := range web4 {
			_, err := sys().App.BindModule(ctx, m.EntityID())
			Expect(err).NotTo(HaveOccurred(), "%s", m.Name())
		}
		_, err := sys().App.PairPack(ctx, pairingContext)
		Expect(err).NotTo(HaveOccurred())
		for _, m := range web4 {
			_, err := sys().App.PairModule(ctx, pairingContext, m.EntityID())
			Expect(err).NotTo(HaveOccurred(), "%s", m.Name())
			ack, err := sys().App.Command(ctx, m.Rig.ModuleID, chargeEnable())
			Expect(err).NotTo(HaveOccurred(), "%s", m.Name())
			Expect(ack.Status).To(Equal(message.StatusOK), "%s", m.Name())
		}
		answers := old.Stats().StatusAnswers
		Eventually(func() uint64 { return old.Stats().StatusAnswers }).WithTimeout(3*time.Second).Should(BeNumerically(">", answers),
			"the pack still polls the legacy-only module")
		for _, mi := range sys().Pack.Modules() {
			if mi.ID == old.Rig.ModuleID {
				Expect(mi.Active).To(BeTrue())
			}
		}
	}, NodeTimeout(flowTimeout))
})
