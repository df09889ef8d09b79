package suites

import (
	"context"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

// pairingContext is the operational context the flows pair in.
const pairingContext = "battery_management"

// bindAll binds the app and the pack, then the pack and every module, through the
// authority, as an operator commissioning a factory-default pack does.
func bindAll(ctx context.Context, s *framework.System) {
	Expect(s.App).NotTo(BeNil(), "the rig has no app")
	Expect(s.Pack).NotTo(BeNil(), "the rig has no pack")
	_, err := s.App.BindPack(ctx)
	Expect(err).NotTo(HaveOccurred(), "binding app × pack")
	for _, m := range s.Modules {
		_, err := s.App.BindModule(ctx, m.EntityID())
		Expect(err).NotTo(HaveOccurred(), "binding pack × %s", m.Name())
	}
}

// pairedEvents, in an Ordered container, subscribes to the app's events, then binds and pairs
// every device in the operational context before the container's first spec; it returns the
// subscription, which holds every event from before the binding on.
func pairedEvents(sys func() *framework.System) func() <-chan session.Event {
	var sub <-chan session.Event
	BeforeAll(func(ctx SpecContext) {
		sub = sys().App.Subscribe(4096)
		bindAll(ctx, sys())
		pairAll(ctx, sys(), pairingContext)
	}, NodeTimeout(flowTimeout))
	return func() <-chan session.Event { return sub }
}

// pairAll pairs the app and the pack, then the pack and every module, in context.
func pairAll(ctx context.Context, s *framework.System, context string) {
	_, err := s.App.PairPack(ctx, context)
	Expect(err).NotTo(HaveOccurred(), "pairing app × pack in %s", context)
	for _, m := range s.Modules {
		_, err := s.App.PairModule(ctx, context, m.EntityID())
		Expect(err).NotTo(HaveOccurred(), "pairing pack × %s in %s", m.Name(), context)
	}
}

// chargeEnable is the L5 command the seeds' flow ends with.
func chargeEnable() *message.Command {
	on, off := true, false
	cl, dl := uint16(500), uint16(1000)
	return &message.Command{Code: message.CmdChargeDischarge, ChargeEnable: &on, DischargeEnable: &off, ChargeLimit: &cl, DischargeLimit: &dl}
}

func formatSeen(seen map[uint8]bool) string {
	out := ""
	for a := range seen {
		out += fmt.Sprintf(" 0x%02X", a)
	}
	if out == "" {
		return " none"
	}
	return out
}

// StatusError is an ACK status other than OK, as an error for Eventually.
type StatusError message.Status

func (e StatusError) Error() string { return "ACK status " + message.Status(e).String() }
