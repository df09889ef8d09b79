package suites

import (
	"encoding/base64"
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/authority"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

// A pairing context is one of four (battery_management, diagnostics, firmware_update,
// emergency; docs/protocol.md 4.5.1). A request or frame naming a context, or a pairing, that
// does not exist is refused with its own error and counted; nothing reaches a device's keys.
var _ = Describe("A pairing context that does not exist", Ordered, Label("robustness", "pairing"), func() {
	sys := rigUp("unknown-context", functional)
	BeforeAll(func(ctx SpecContext) { bindAll(ctx, sys()) }, NodeTimeout(flowTimeout))

	It("is refused by the authority, counted, and nothing goes on the bus", func(ctx SpecContext) {
		p, _ := sys().Probe(sys().Pack.Rig.Buses[0])
		mark := p.Mark()
		before := sys().Authority.Stats().Errors[string(authority.CodeBadRequest)]

		_, err := sys().App.PairPack(ctx, "no_such_context")
		Expect(err).To(HaveOccurred())
		Expect(errors.Is(err, authority.ErrBadRequest)).To(BeTrue(), "refused as a bad request: %v", err)
		Expect(err.Error()).To(ContainSubstring("no_such_context"))
		Expect(sys().Authority.Stats().Errors[string(authority.CodeBadRequest)]).To(Equal(before+1), "counted by the authority")

		certs := 0
		for _, r := range p.Frames(mark) {
			if d, err := canid.Decode(r.Frame.ID, r.Frame.Extended); err == nil && d.Type == canid.TypePairingCert {
				certs++
			}
		}
		Expect(certs).To(BeZero(), "no certificate went on the app bus")
	}, NodeTimeout(flowTimeout))

	It("refuses a command under a pairing the pack no longer holds (revoked by L6), and counts it", func(ctx SpecContext) {
		if sys().Programs {
			Skip("reads the pack's counters: needs the pack in-process")
		}
		pid, err := sys().App.PairPack(ctx, pairingContext)
		Expect(err).NotTo(HaveOccurred())
		ack, err := sys().App.Command(ctx, sys().Pack.Addr(), chargeEnable())
		Expect(err).NotTo(HaveOccurred())
		Expect(ack.Status).To(Equal(message.StatusOK))

		// The authority revokes the pairing; its signed L6 reaches the pack, which drops it.
		l6, err := sys().Authority.Client.RevokePairing(ctx, pid, "operator")
		Expect(err).NotTo(HaveOccurred())
		signed, err := base64.StdEncoding.DecodeString(l6.PairingValidation)
		Expect(err).NotTo(HaveOccurred())
		Expect(sys().App.Engine().Deliver(ctx, session.Hop{Dst: sys().Pack.Addr()}, canid.TypePairingValid, signed)).To(Succeed())
		// The statement was on the bus whole before the command starts: the pack handles it first.
		notPaired := func() uint64 { return sys().Pack.Stats().Web4App.Rejected[session.CauseNotPaired] }
		before := notPaired()
		_, err = sys().App.Command(ctx, sys().Pack.Addr(), chargeEnable())
		Expect(err).To(HaveOccurred(), "no ACK for a command under a pairing the pack does not hold")
		Expect(notPaired()).To(BeNumerically(">", before), "refused as not paired, and counted")

		_, err = sys().App.PairPack(ctx, pairingContext)
		Expect(err).NotTo(HaveOccurred(), "a new pairing in an existing context succeeds")
		ack, err = sys().App.Command(ctx, sys().Pack.Addr(), chargeEnable())
		Expect(err).NotTo(HaveOccurred())
		Expect(ack.Status).To(Equal(message.StatusOK))
	}, NodeTimeout(flowTimeout))
})
