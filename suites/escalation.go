package suites

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

// awaitEscalation waits for an escalation request with reason r that came over the bus to
// the app, and returns it.
func awaitEscalation(ctx context.Context, sub <-chan session.Event, r message.Reason, within time.Duration) (*message.Escalation, bool) {
	t := time.NewTimer(within)
	defer t.Stop()
	for {
		select {
		case ev := <-sub:
			if e, ok := ev.(session.EventEscalation); ok && !e.Local && e.Escalation.Reason == r {
				return e.Escalation, true
			}
		case <-t.C:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
}

var _ = Describe("Escalation from a module's readings", Ordered, Label("escalation"), func() {
	sys := rigUp("escalation", inProcessOnly, functional)
	events := pairedEvents(sys)

	It("asks for a paired diagnostic command (L5) on a temperature step beyond 10 °C", func(ctx SpecContext) {
		m := sys().Modules[1]
		Expect(m.TempStep(ctx, 3, 15)).To(Succeed())
		x, ok := awaitEscalation(ctx, events(), message.ReasonTempStep, 5*time.Second)
		Expect(ok).To(BeTrue(), "no temperature-step escalation reached the app")
		Expect(x.Target).To(Equal(message.L5PairedCommand))
	}, NodeTimeout(time.Minute))

	It("asks for L5 on a cell-voltage step beyond 300 mV", func(ctx SpecContext) {
		m := sys().Modules[2]
		Expect(m.VoltageStep(ctx, 5, -0.5)).To(Succeed())
		x, ok := awaitEscalation(ctx, events(), message.ReasonVoltageStep, 5*time.Second)
		Expect(ok).To(BeTrue(), "no voltage-step escalation reached the app")
		Expect(x.Target).To(Equal(message.L5PairedCommand))
	}, NodeTimeout(time.Minute))

	It("does not let a fault start a storm: one request per reason per second from a node", func(ctx SpecContext) {
		m := sys().Modules[3]
		cut := m.Stats().Session.EscalationsCut
		for i := range 5 {
			Expect(m.TempStep(ctx, i, 15)).To(Succeed())
			time.Sleep(120 * time.Millisecond) // each step lands in its own reading
		}
		n := 0
		for {
			if _, ok := awaitEscalation(ctx, events(), message.ReasonTempStep, 500*time.Millisecond); !ok {
				break
			}
			n++
		}
		Expect(n).To(BeNumerically(">=", 1))
		Expect(n).To(BeNumerically("<=", 2), "five steps within about 0.6 s give at most one request per second")
		Expect(m.Stats().Session.EscalationsCut).To(BeNumerically(">", cut), "the others were counted, not sent")
	}, NodeTimeout(time.Minute))
})
