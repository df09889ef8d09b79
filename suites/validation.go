package suites

import (
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/app"
	"github.com/modbatt/hilrun/authority"
	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/protocol/message"
)

// unknownID names no pairing and no binding of the authority.
const unknownID = "5eed0000-0000-4000-8000-00000000dead"

// refusedWith expects err to be the app's refusal of a verified verdict.
func refusedWith(err error, v message.Verdict) {
	GinkgoHelper()
	var ve *app.VerdictError
	Expect(errors.As(err, &ve)).To(BeTrue(), "a verdict refused by the app, got %v", err)
	Expect(errors.Is(err, app.ErrNotValid)).To(BeTrue())
	Expect(app.VerdictName(ve.Verdict)).To(Equal(app.VerdictName(v)))
}

// L6 and L7 results are signed by the authority; the app takes nothing as validated without
// verifying one (docs/protocol.md 4.9, recovery R9).
var _ = Describe("L6 pairing and L7 binding validation results at the app", Ordered, Label("validation", "pairing", "binding"), func() {
	sys := rigUp("validation", functional)
	BeforeAll(func(ctx SpecContext) {
		bindAll(ctx, sys())
		pairAll(ctx, sys(), pairingContext)
	}, NodeTimeout(flowTimeout))

	It("L6: every completed pairing is valid", func(ctx SpecContext) {
		for _, e := range append([]string{sys().Pack.EntityID()}, entities(sys())...) {
			pid, ok := sys().App.PairingID(e)
			Expect(ok).To(BeTrue(), "pairing of %s", e)
			r, err := sys().App.ValidatePairing(ctx, pid)
			Expect(err).NotTo(HaveOccurred(), "%s", e)
			Expect(r.Level).To(Equal(message.L6PairingValidation))
			Expect(r.Verdict).To(Equal(message.VerdictValid))
		}
	}, NodeTimeout(flowTimeout))

	It("L7: every binding is valid", func(ctx SpecContext) {
		bid, ok := sys().App.BindingID(sys().App.Access().DeviceID, sys().Pack.EntityID())
		Expect(ok).To(BeTrue())
		ids := []string{bid}
		for _, e := range entities(sys()) {
			bid, ok := sys().App.BindingID(sys().Pack.EntityID(), e)
			Expect(ok).To(BeTrue(), "binding of %s", e)
			ids = append(ids, bid)
		}
		for _, id := range ids {
			r, err := sys().App.ValidateBinding(ctx, id)
			Expect(err).NotTo(HaveOccurred(), "%s", id)
			Expect(r.Level).To(Equal(message.L7BindingValidation))
			Expect(r.Verdict).To(Equal(message.VerdictValid))
		}
	}, NodeTimeout(flowTimeout))

	It("refuses a pairing and a binding the authority does not know (verdict unknown)", func(ctx SpecContext) {
		_, err := sys().App.ValidatePairing(ctx, unknownID)
		refusedWith(err, message.VerdictUnknown)
		_, err = sys().App.ValidateBinding(ctx, unknownID)
		refusedWith(err, message.VerdictUnknown)
	}, NodeTimeout(flowTimeout))

	It("refuses a revoked pairing", func(ctx SpecContext) {
		m := sys().Modules[len(sys().Modules)-1]
		pid, _ := sys().App.PairingID(m.EntityID())
		_, err := sys().Authority.Client.RevokePairing(ctx, pid, "operator")
		Expect(err).NotTo(HaveOccurred())
		_, err = sys().App.ValidatePairing(ctx, pid)
		refusedWith(err, message.VerdictRevoked)
	}, NodeTimeout(flowTimeout))

	It("refuses a revoked binding, and with it every pairing over it", func(ctx SpecContext) {
		m := sys().Modules[0]
		bid, _ := sys().App.BindingID(sys().Pack.EntityID(), m.EntityID())
		pid, _ := sys().App.PairingID(m.EntityID())
		_, err := sys().Authority.Client.RevokeBinding(ctx, bid, authority.RevokeBindingRequest{Reason: "key_loss", Entity: m.EntityID()})
		Expect(err).NotTo(HaveOccurred())
		_, err = sys().App.ValidateBinding(ctx, bid)
		refusedWith(err, message.VerdictRevoked)
		_, err = sys().App.ValidatePairing(ctx, pid)
		refusedWith(err, message.VerdictRevoked)
	}, NodeTimeout(flowTimeout))
})

// entities are the entity IDs of the rig's modules.
func entities(s *framework.System) []string {
	var out []string
	for _, m := range s.Modules {
		out = append(out, m.EntityID())
	}
	return out
}
