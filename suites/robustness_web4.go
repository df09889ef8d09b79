package suites

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

// recordCommand sends an L5 command from the app to a module and returns the frames the app
// put on the app bus for it (first frame and consecutive frames, in order).
func recordCommand(ctx context.Context, s *framework.System, target uint8) (canid.ID, []bus.Frame) {
	p, _ := s.Probe(s.Pack.Rig.Buses[0])
	mark := p.Mark()
	ack, err := s.App.Command(ctx, target, chargeEnable())
	Expect(err).NotTo(HaveOccurred())
	Expect(ack.Status).To(Equal(message.StatusOK))
	var id canid.ID
	var frames []bus.Frame
	for _, r := range p.Frames(mark) {
		if !r.Frame.Extended {
			continue
		}
		d, err := canid.Decode(r.Frame.ID, true)
		if err != nil || d.Type != canid.TypeCommand || d.Src != canid.AddrApp {
			continue
		}
		id = d
		frames = append(frames, r.Frame)
	}
	Expect(frames).NotTo(BeEmpty(), "no command frames from the app on the app bus")
	return id, frames
}

// resend plays frames of an ISO-TP message from the bench, as a sender does: the first
// frame, then the rest once the receiver's flow control has come.
func resend(ctx context.Context, s *framework.System, id canid.ID, frames []bus.Frame) {
	p, _ := s.Probe(s.Pack.Rig.Buses[0])
	mark := p.Mark()
	Expect(p.Send(ctx, frames[0])).To(Succeed())
	if len(frames) == 1 {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, _, err := p.Wait(wctx, mark, "the pack's flow control", func(f bus.Frame) bool {
		if !f.Extended {
			return false
		}
		d, err := canid.Decode(f.ID, true)
		return err == nil && d.Dst == id.Src && d.Src == id.Dst && d.Type == id.Type
	})
	Expect(err).NotTo(HaveOccurred())
	for _, f := range frames[1:] {
		Expect(p.Send(ctx, f)).To(Succeed())
	}
}

var _ = Describe("The pack given bad Web4 input from the app side", Ordered, Label("robustness"), func() {
	sys := rigUp("robustness-pack", inProcessOnly, functional)
	var m *framework.Module
	BeforeAll(func(ctx SpecContext) {
		bindAll(ctx, sys())
		pairAll(ctx, sys(), pairingContext)
		m = sys().Modules[0]
	}, NodeTimeout(flowTimeout))

	rejected := func(c session.Cause) func() uint64 {
		return func() uint64 { return sys().Pack.Stats().Web4App.Rejected[c] }
	}
	executed := func() uint64 { return m.Stats().Commands[message.StatusOK.String()] }
	stillServes := func(ctx context.Context) {
		ack, err := sys().App.Command(ctx, m.Rig.ModuleID, chargeEnable())
		Expect(err).NotTo(HaveOccurred(), "the pack keeps serving the app")
		Expect(ack.Status).To(Equal(message.StatusOK))
	}

	It("refuses a replayed L5 command and does not pass it on", func(ctx SpecContext) {
		id, frames := recordCommand(ctx, sys(), m.Rig.ModuleID)
		Eventually(executed).Should(BeNumerically(">", 0))
		before, ran := sys().Pack.Stats().Web4App.Rejected, executed()
		resend(ctx, sys(), id, frames)
		Eventually(func() uint64 {
			r := sys().Pack.Stats().Web4App.Rejected
			return r[session.CauseReplay] + r[session.CauseStale] - before[session.CauseReplay] - before[session.CauseStale]
		}).Should(BeNumerically(">", 0), "counted as a replay")
		Consistently(executed).WithTimeout(200*time.Millisecond).Should(Equal(ran), "the module did not execute it again")
		stillServes(ctx)
	}, NodeTimeout(flowTimeout))

	It("refuses a tampered L5 command", func(ctx SpecContext) {
		id, frames := recordCommand(ctx, sys(), m.Rig.ModuleID)
		before, ran := rejected(session.CauseAuth)(), executed()
		// A bit of the message itself (not ISO-TP padding): the first consecutive frame's
		// last byte, or the single frame's.
		f := &frames[min(1, len(frames)-1)]
		f.Data[f.Len-1] ^= 0x40
		resend(ctx, sys(), id, frames)
		Eventually(rejected(session.CauseAuth)).Should(BeNumerically(">", before), "counted as failed authentication")
		Consistently(executed).WithTimeout(200 * time.Millisecond).Should(Equal(ran))
		stillServes(ctx)
	}, NodeTimeout(flowTimeout))

	It("refuses an L5 command sent at the wrong key level", func(ctx SpecContext) {
		id, frames := recordCommand(ctx, sys(), m.Rig.ModuleID)
		before, ran := rejected(session.CauseWrongLevel)(), executed()
		wrong := id
		wrong.Level = canid.LevelExchange
		for i := range frames {
			frames[i].ID = wrong.Encode()
		}
		resend(ctx, sys(), wrong, frames)
		Eventually(rejected(session.CauseWrongLevel)).Should(BeNumerically(">", before), "counted as wrongly levelled")
		Consistently(executed).WithTimeout(200 * time.Millisecond).Should(Equal(ran))
		stillServes(ctx)
	}, NodeTimeout(flowTimeout))

	It("drops a malformed Web4 frame and keeps serving", func(ctx SpecContext) {
		id, _ := recordCommand(ctx, sys(), m.Rig.ModuleID)
		st := sys().Pack.Stats().Web4App.Rejected
		total := func() (n uint64) {
			for _, v := range sys().Pack.Stats().Web4App.Rejected {
				n += v
			}
			return n
		}
		var sum uint64
		for _, v := range st {
			sum += v
		}
		p, _ := sys().Probe(sys().Pack.Rig.Buses[0])
		// 0xF… is no ISO-TP frame type.
		Expect(p.Send(ctx, bus.Frame{ID: id.Encode(), Extended: true, Len: 8, Data: [64]byte{0xF3, 1, 2, 3, 4, 5, 6, 7}})).To(Succeed())
		Eventually(total).Should(BeNumerically(">", sum), "counted")
		stillServes(ctx)
	}, NodeTimeout(flowTimeout))
})
