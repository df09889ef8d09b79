package suites

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/gateway/pack"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

// timingSlack is how late a real-time deadline of an emulated device may be seen on a
// loaded machine; on a hardware rig the same specs hold the devices to it too.
const timingSlack = time.Second

// appKeepsPack sends the legacy app command (0x400, contactor request) every 100 ms on the
// app bus until ctx ends, and returns when the last one went out.
func appKeepsPack(ctx context.Context, s *framework.System, want legacy.State) <-chan time.Time {
	p, ok := s.Probe(s.Pack.Rig.Buses[0])
	Expect(ok).To(BeTrue())
	f, err := legacy.EncodeApp(&legacy.AppCommand{Controls: legacy.Controls{Contactor: want, HVBusV: 48}}, s.Pack.Rig.PackID)
	Expect(err).NotTo(HaveOccurred())
	last := make(chan time.Time, 1)
	go func() {
		defer GinkgoRecover()
		var t time.Time
		for {
			if err := p.Send(context.Background(), f); err == nil {
				t = time.Now()
			}
			select {
			case <-ctx.Done():
				last <- t
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return last
}

// nextEvent waits for the next pack event that match accepts.
func nextEvent[E pack.Event](ctx context.Context, p *framework.Pack, match func(E) bool) (E, time.Time) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		select {
		case ev := <-p.Events:
			if e, ok := ev.(E); ok && match(e) {
				return e, time.Now()
			}
		case <-ctx.Done():
			var zero E
			Fail("the pack did not report the expected event in time")
			return zero, time.Time{}
		}
	}
}

func drain(p *framework.Pack) {
	for {
		select {
		case <-p.Events:
		default:
			return
		}
	}
}

var _ = Describe("Losing the app link", Ordered, Label("recovery", "legacy"), func() {
	sys := rigUp("app-link-loss", inProcessOnly, functional)

	It("limits the pack to Standby 600 ms after the app falls silent, and to Off at 1.2 s", func(ctx SpecContext) {
		p := sys().Pack
		drain(p)
		keep, stop := context.WithCancel(ctx)
		last := appKeepsPack(keep, sys(), legacy.StateOn)
		nextEvent(ctx, p, func(e pack.EventPackState) bool { return e.To == legacy.StateOn })
		for _, m := range sys().Modules {
			Eventually(m.State).WithTimeout(2*time.Second).Should(Equal(legacy.StateOn), "%s follows the pack", m.Name())
		}
		stop()
		t0 := <-last
		_, t1 := nextEvent(ctx, p, func(e pack.EventLinkLoss) bool { return e.Limit == legacy.StateStandby })
		_, t2 := nextEvent(ctx, p, func(e pack.EventLinkLoss) bool { return e.Limit == legacy.StateOff })
		AddReportEntry("app silent → Standby", t1.Sub(t0).String())
		AddReportEntry("app silent → Off", t2.Sub(t0).String())
		// The pack must hold on for its full grace period; the upper bounds allow for a
		// loaded machine running the emulated rig in real time.
		Expect(t1.Sub(t0)).To(BeNumerically(">=", 550*time.Millisecond), "not Standby before 600 ms")
		Expect(t1.Sub(t0)).To(BeNumerically("<", 600*time.Millisecond+timingSlack), "Standby after 600 ms")
		Expect(t2.Sub(t0)).To(BeNumerically(">=", 1150*time.Millisecond), "not Off before 1.2 s")
		Expect(t2.Sub(t0)).To(BeNumerically("<", 1200*time.Millisecond+timingSlack), "Off after 1.2 s")
		for _, m := range sys().Modules {
			Eventually(m.State).WithTimeout(2*time.Second).Should(Equal(legacy.StateOff), "%s follows the pack", m.Name())
		}
	}, NodeTimeout(time.Minute))
})

var _ = Describe("A module that stops answering", Ordered, Label("recovery", "legacy"), func() {
	sys := rigUp("module-timeout", inProcessOnly, functional)

	It("times out after 4 s, three times, and is deregistered", func(ctx SpecContext) {
		p := sys().Pack
		m := sys().Modules[len(sys().Modules)-1]
		id := m.Rig.ModuleID
		drain(p)
		Expect(sys().PowerOff(m.Name())).To(Succeed())
		t0 := time.Now()
		for n := 1; n <= 3; n++ {
			_, t := nextEvent(ctx, p, func(e pack.EventTimeout) bool { return e.ModuleID == id && e.Count == n })
			want := time.Duration(n) * 4 * time.Second
			Expect(t.Sub(t0)).To(BeNumerically(">=", want-100*time.Millisecond), "timeout %d not before %v", n, want)
			Expect(t.Sub(t0)).To(BeNumerically("<", want+timingSlack), "timeout %d at %v", n, want)
		}
		e, _ := nextEvent(ctx, p, func(e pack.EventDeregistered) bool { return e.ModuleID == id })
		Expect(e.Reason).To(Equal(pack.ReasonTimeout))
		for _, mi := range p.Modules() {
			Expect(mi.ID).NotTo(Equal(id), "module 0x%02X is still registered", id)
		}
	}, NodeTimeout(time.Minute))

	It("is registered again at its ID when it comes back", func(ctx SpecContext) {
		m := sys().Modules[len(sys().Modules)-1]
		Expect(sys().PowerOn(ctx, m.Name())).To(Succeed())
		Expect(m.ModuleID()).To(Equal(m.Rig.ModuleID))
	}, NodeTimeout(time.Minute))
})

var _ = Describe("Rebooting the pack controller", Ordered, Label("recovery"), func() {
	sys := rigUp("pack-reboot", functional)
	BeforeAll(func(ctx SpecContext) {
		bindAll(ctx, sys())
		pairAll(ctx, sys(), pairingContext)
	}, NodeTimeout(flowTimeout))

	It("keeps its bindings and pairings: commands are acknowledged again after the reboot", func(ctx SpecContext) {
		Expect(sys().PowerOff(sys().Pack.Name())).To(Succeed())
		Expect(sys().PowerOn(ctx, sys().Pack.Name())).To(Succeed())
		for _, m := range sys().Modules {
			Eventually(func() error {
				ack, err := sys().App.Command(ctx, m.Rig.ModuleID, chargeEnable())
				if err == nil && ack.Status != message.StatusOK {
					return StatusError(ack.Status)
				}
				return err
			}).WithTimeout(30*time.Second).WithPolling(500*time.Millisecond).Should(Succeed(), "%s after the reboot", m.Name())
		}
	}, NodeTimeout(2*time.Minute))
})

var _ = Describe("Clock skew on a module", Ordered, Label("recovery"), func() {
	sys := rigUp("clock-skew", inProcessOnly, functional)
	events := pairedEvents(sys)

	It("accepts L5 commands while its clock is within 5 minutes", func(ctx SpecContext) {
		m := sys().Modules[0]
		for _, d := range []time.Duration{4 * time.Minute, -4 * time.Minute} {
			Expect(sys().SetSkew(m.Name(), d)).To(Succeed())
			ack, err := sys().App.Command(ctx, m.Rig.ModuleID, chargeEnable())
			Expect(err).NotTo(HaveOccurred(), "skew %v", d)
			Expect(ack.Status).To(Equal(message.StatusOK), "skew %v", d)
		}
	}, NodeTimeout(flowTimeout))

	It("refuses them beyond 5 minutes, and asks for validation with reason clock skew", func(ctx SpecContext) {
		m := sys().Modules[0]
		Expect(sys().SetSkew(m.Name(), 6*time.Minute)).To(Succeed())
		before := m.Stats().Session.Rejected[session.CauseClockSkew]
		ack, err := sys().App.Command(ctx, m.Rig.ModuleID, chargeEnable())
		Expect(err).NotTo(HaveOccurred())
		Expect(ack.Status).NotTo(Equal(message.StatusOK))
		Expect(m.Stats().Session.Rejected[session.CauseClockSkew]).To(BeNumerically(">", before))
		for {
			select {
			case ev := <-events():
				if e, ok := ev.(session.EventEscalation); ok && !e.Local && e.Escalation.Reason == message.ReasonClockSkew {
					Expect(e.Escalation.Target).To(BeNumerically(">=", message.L6PairingValidation))
					return
				}
			case <-ctx.Done():
				Fail("no clock-skew escalation reached the app")
			}
		}
	}, NodeTimeout(flowTimeout))
})
