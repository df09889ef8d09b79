package suites

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

// wholeMessage finds the frames of the first whole ISO-TP message (classic frames) of type t
// from src to dst seen on the app bus since mark: its first frame and as many consecutive
// frames as its length needs. A transfer cut short by a new first frame is passed over.
func wholeMessage(s *framework.System, mark int, t canid.Type, src, dst uint8) (canid.ID, []bus.Frame, bool) {
	p, _ := s.Probe(s.Pack.Rig.Buses[0])
	var id canid.ID
	var frames []bus.Frame
	need := 0
	for _, r := range p.Frames(mark) {
		f := r.Frame
		if !f.Extended || f.FD {
			continue
		}
		d, err := canid.Decode(f.ID, true)
		if err != nil || d.Type != t || d.Src != src || d.Dst != dst {
			continue
		}
		switch f.Data[0] >> 4 {
		case 1: // first frame: 6 bytes, then 7 per consecutive frame
			size := int(f.Data[0]&0x0F)<<8 | int(f.Data[1])
			id, frames, need = d, []bus.Frame{f}, 1+(size-6+6)/7
		case 2:
			if frames != nil {
				frames = append(frames, f)
			}
		}
		if frames != nil && len(frames) == need {
			return id, frames, true
		}
	}
	return id, nil, false
}

// firstMessage waits until the probe has seen a whole message (it reads the bus on its own,
// and may be behind the app) and returns it.
func firstMessage(ctx context.Context, s *framework.System, mark int, t canid.Type, src, dst uint8) (canid.ID, []bus.Frame) {
	var id canid.ID
	var frames []bus.Frame
	Eventually(ctx, func() bool {
		var ok bool
		id, frames, ok = wholeMessage(s, mark, t, src, dst)
		return ok
	}).WithTimeout(10*time.Second).Should(BeTrue(), "a whole %s message from 0x%02X on the app bus", t, src)
	return id, frames
}

// statesHeard waits until every module has reported its state (0x502) since bring-up. The pack
// witnesses a change it saw: it must have heard each module Off before the app switches the
// pack on, or the first state it hears is already On and there is no change to witness.
func statesHeard(ctx context.Context, s *framework.System) {
	for _, m := range s.Modules {
		p, _ := s.Probe(m.Rig.Buses[0])
		wctx, cancel := wait(ctx)
		_, _, err := p.Wait(wctx, 0, m.Name()+"'s status (0x502)", func(f bus.Frame) bool {
			d, err := legacy.Decode(f)
			if err != nil {
				return false
			}
			_, ok := d.Msg.(*legacy.Status1)
			return ok && d.ModuleID == m.Rig.ModuleID
		})
		cancel()
		Expect(err).NotTo(HaveOccurred())
	}
}

// The pack witnesses what it sees on the module bus to the app (L2): a signed statement the
// app verifies against the pack's binding key.
var _ = Describe("L2 witness of a module's state change", Ordered, Label("validation"), func() {
	sys := rigUp("witness", functional)
	var sub <-chan session.Event
	var mark int
	BeforeAll(func(ctx SpecContext) {
		sub = sys().App.Subscribe(4096)
		bindAll(ctx, sys())
	}, NodeTimeout(flowTimeout))

	It("reaches the app signed by the pack and verified against its binding key", func(ctx SpecContext) {
		statesHeard(ctx, sys())
		p, _ := sys().Probe(sys().Pack.Rig.Buses[0])
		mark = p.Mark()
		keep, stop := context.WithCancel(ctx)
		defer stop()
		appKeepsPack(keep, sys(), legacy.StateOn)
		subjects := map[string]bool{}
		for _, m := range sys().Modules {
			subjects[m.EntityID()] = true
		}
		for {
			select {
			case ev := <-sub:
				e, ok := ev.(session.EventWitness)
				if !ok {
					continue
				}
				w := e.Witness
				Expect(e.Peer).To(Equal(sys().Pack.Addr()), "the pack is the witness")
				Expect(w.Witness).To(Equal(sys().Pack.EntityID()))
				Expect(subjects).To(HaveKey(w.Subject), "the subject is one of the rig's modules")
				Expect(w.Event).To(Equal(message.EventStateChange))
				Expect(w.State).NotTo(BeNil())
				if legacy.State(*w.State) == legacy.StateOn {
					return
				}
			case <-ctx.Done():
				Fail("no witness of a module switching on reached the app")
			}
		}
	}, NodeTimeout(flowTimeout))

	It("refuses a witness statement at the wrong key level, and one played again", Label("robustness"), func(ctx SpecContext) {
		// The spec before leaves a witness on the bus; run alone (a label filter), this one
		// makes its own.
		statesHeard(ctx, sys())
		keep, stop := context.WithCancel(ctx)
		defer stop()
		appKeepsPack(keep, sys(), legacy.StateOn)
		id, frames := firstMessage(ctx, sys(), mark, canid.TypeWitness, sys().Pack.Addr(), canid.AddrApp)
		rejected := func(c session.Cause) func() uint64 {
			return func() uint64 { return sys().App.Engine().Stats().Rejected[c] }
		}
		wrongBefore, replayBefore := rejected(session.CauseWrongLevel)(), rejected(session.CauseReplay)()+rejected(session.CauseStale)()

		wrong := id
		wrong.Level = canid.LevelPairing
		moved := append([]bus.Frame(nil), frames...)
		for i := range moved {
			moved[i].ID = wrong.Encode()
		}
		resend(ctx, sys(), wrong, moved)
		Eventually(rejected(session.CauseWrongLevel)).WithTimeout(5*time.Second).Should(BeNumerically(">", wrongBefore),
			"counted as wrongly levelled")

		resend(ctx, sys(), id, frames)
		Eventually(func() uint64 { return rejected(session.CauseReplay)() + rejected(session.CauseStale)() }).
			WithTimeout(5*time.Second).Should(BeNumerically(">", replayBefore), "counted as a replay")
	}, NodeTimeout(flowTimeout))
})
