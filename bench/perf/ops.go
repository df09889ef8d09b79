package perf

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bench/latency"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

// stepTimeout bounds one sample; a module binding at the ATmega64M1 profile takes ≈ 14 s.
const stepTimeout = 3 * time.Minute

// all measures every operation, in the sign-off's order of priority, after the bindings and
// pairings the later operations need (themselves measured).
func (m *meas) all(ctx context.Context) error {
	s := m.sys
	pack := s.Pack.Addr()
	// Every module the commands go to is bound and paired first (each a sample).
	nmod := len(s.Modules)
	if m.o.Modules > 0 {
		nmod = min(m.o.Modules, nmod)
	}
	mods := s.Modules[:nmod]
	events := s.App.Subscribe(4096)

	steps := []struct {
		op string
		fn func(context.Context) (int, error)
	}{
		{"binding-pack", func(ctx context.Context) (int, error) {
			return 1, m.one(ctx, "binding-pack", "", func(ctx context.Context) error {
				_, err := s.App.BindPack(ctx)
				return err
			}, canid.AddrApp, pack)
		}},
		{"binding-module", func(ctx context.Context) (int, error) {
			for i, mod := range mods {
				if err := m.one(ctx, "binding-module", "", func(ctx context.Context) error {
					_, err := s.App.BindModule(ctx, mod.EntityID())
					return err
				}, pack, mod.Rig.ModuleID); err != nil {
					return i, fmt.Errorf("%s: %w", mod.Name(), err)
				}
			}
			return len(mods), nil
		}},
		{"pairing-pack", func(ctx context.Context) (int, error) {
			return 1, m.one(ctx, "pairing-pack", "", func(ctx context.Context) error {
				_, err := s.App.PairPack(ctx, PairingContext)
				return err
			}, canid.AddrApp, pack)
		}},
		{"pairing-module", func(ctx context.Context) (int, error) {
			for i, mod := range mods {
				if err := m.pairModule(ctx, mod); err != nil {
					return i, fmt.Errorf("%s: %w", mod.Name(), err)
				}
			}
			return len(mods), nil
		}},
		{"l5-command-ack", func(ctx context.Context) (int, error) { return m.commands(ctx, mods) }},
		{"l5-telemetry", func(ctx context.Context) (int, error) { return m.telemetry(ctx, events) }},
		{"l5-telemetry/short", m.shortTelemetry},
		{"l3-handshake", func(ctx context.Context) (int, error) {
			n := pick(m.o.Rare, DefaultRare)
			for i := range n {
				if err := m.one(ctx, "l3-handshake", "", func(ctx context.Context) error {
					return s.App.Engine().SignedHandshake(ctx, pack)
				}, canid.AddrApp, pack); err != nil {
					return i, err
				}
			}
			return n, nil
		}},
		{"l7-validation", func(ctx context.Context) (int, error) {
			n := pick(m.o.Rare, DefaultRare)
			for i := range n {
				if err := m.l7(ctx, mods[i%len(mods)]); err != nil {
					return i, err
				}
			}
			return n, nil
		}},
		{"key-loss-recovery", func(ctx context.Context) (int, error) {
			n := min(pick(m.o.Recovery, DefaultRecovery), len(mods))
			for i, mod := range mods[:n] {
				if err := m.recovery(ctx, mod, events); err != nil {
					return i, fmt.Errorf("%s: %w", mod.Name(), err)
				}
			}
			return n, nil
		}},
		{"poll-cycle", func(context.Context) (int, error) { return m.pollCycles(), nil }},
		{"poll-slot", func(context.Context) (int, error) { return m.pollSlots(), nil }},
	}
	var errs []error
	for _, st := range steps {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		t0 := time.Now()
		n, err := st.fn(ctx)
		m.progress(st.op, n, time.Since(t0))
		if err != nil {
			err = fmt.Errorf("perf: %s: %w", st.op, err)
			errs = append(errs, err)
			fmt.Fprintf(m.o.Progress, "    %v\n", err)
			if st.op == "binding-pack" || st.op == "pairing-pack" || st.op == "binding-module" || st.op == "pairing-module" {
				break // everything after needs them
			}
		}
	}
	return errors.Join(errs...)
}

// one takes one sample of fn, from before its first frame is queued to after its last is
// received.
func (m *meas) one(ctx context.Context, op, variant string, fn func(context.Context) error, nodes ...uint8) error {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	start := m.begin()
	if err := fn(ctx); err != nil {
		m.packMeter.Reset()
		return err
	}
	m.end(op, variant, start, nodes...)
	return nil
}

// pairModule measures a module's pairing and, inside it, the L6 pairing validation: from the
// start of the module's handshake completion on the module bus (after its completion MAC)
// through the pack's signed completion to the app, until the app has the authority's
// acceptance. Its compute is what the pack charged from the moment the module's completion
// was seen on the bus (its signed completion); the module's completion MAC precedes the
// window, and what the module charges after it (its first records under the new pairing) is
// not on the path.
func (m *meas) pairModule(ctx context.Context, mod *framework.Module) error {
	p2, ok := m.sys.Probe(m.busOf("can2"))
	if !ok {
		return errors.New("no probe on the module bus")
	}
	pack := m.sys.Pack.Addr()
	type snap struct {
		r    bus.Received
		pack []mcu.Tally
	}
	seen := make(chan snap, 1)
	var l6 *snap
	err := m.one(ctx, "pairing-module", "", func(ctx context.Context) error {
		wctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			r, _, err := p2.Wait(wctx, p2.Mark(), "the module's handshake completion", func(f bus.Frame) bool {
				id, err := canid.Decode(f.ID, f.Extended)
				return err == nil && id.Type == canid.TypeCompletion && id.Src == mod.Rig.ModuleID && id.Dst == pack
			})
			if err == nil {
				seen <- snap{r: r, pack: m.packMeter.Tallies()}
			}
		}()
		_, err := m.sys.App.PairModule(ctx, PairingContext, mod.EntityID())
		if err == nil {
			select {
			case sn := <-seen:
				end := m.clk.Now()
				l6 = &sn
				s := latency.Sample{Operation: "l6-validation", Variant: "module", Start: sn.r.Time.Add(-m.timing(m.busOf("can2")).Duration(&sn.r.Frame, bus.Exact)),
					End: end, Nodes: []uint8{canid.AddrApp, pack, mod.Rig.ModuleID}}
				s.Measured = s.End.Sub(s.Start)
				if t := diff(m.packMeter.Tallies(), sn.pack); len(t) > 0 {
					s.Compute = append(s.Compute, latency.ComputeOf(m.sys.Pack.Name(), latency.RolePack, m.sys.Pack.Profile(), t))
				}
				m.rec.Add(s)
			default:
			}
		}
		return err
	}, pack, mod.Rig.ModuleID)
	if err == nil && l6 == nil {
		return errors.New("the module's handshake completion was not seen on the bus")
	}
	return err
}

// commandClasses are the L5 command classes, each with a valid command; emergency isolate
// comes last, as it drops the module to Off.
func commandClasses() []struct {
	variant string
	cmd     func() *message.Command
} {
	b := func(v bool) *bool { return &v }
	u := func(v uint16) *uint16 { return &v }
	i := func(v int16) *int16 { return &v }
	reason := message.ReasonOperator
	return []struct {
		variant string
		cmd     func() *message.Command
	}{
		{"charge-discharge", func() *message.Command {
			return &message.Command{Code: message.CmdChargeDischarge, ChargeEnable: b(true), DischargeEnable: b(false), ChargeLimit: u(500), DischargeLimit: u(1000)}
		}},
		{"safety-limits", func() *message.Command {
			return &message.Command{Code: message.CmdSafetyLimits, CellMaxMV: u(4200), CellMinMV: u(2800), TempMaxDC: i(600), TempMinDC: i(-200), CurrentMax: u(400)}
		}},
		{"cell-balancing", func() *message.Command {
			return &message.Command{Code: message.CmdCellBalancing, BalanceEnable: b(true), BalanceTargetMV: u(3900)}
		}},
		{"diagnostic-mode", func() *message.Command {
			return &message.Command{Code: message.CmdDiagnosticMode, DiagEnable: b(true), DiagDuration: u(60)}
		}},
		{"emergency-isolate", func() *message.Command {
			return &message.Command{Code: message.CmdEmergencyIsolate, IsolateReason: &reason}
		}},
	}
}

// commands measures an L5 command and its ACK, app → pack → module and back, per class, to
// the modules in turn (round robin), so every module's path is in every class's samples.
func (m *meas) commands(ctx context.Context, mods []*framework.Module) (int, error) {
	n := pick(m.o.Samples, DefaultSamples)
	done := 0
	for _, c := range commandClasses() {
		for i := range n {
			mod := mods[i%len(mods)]
			var st message.Status
			err := m.one(ctx, "l5-command-ack", c.variant, func(ctx context.Context) error {
				ack, err := m.sys.App.Command(ctx, mod.Rig.ModuleID, c.cmd())
				if err == nil {
					st = ack.Status
				}
				return err
			}, canid.AddrApp, m.sys.Pack.Addr(), mod.Rig.ModuleID)
			if err != nil {
				return done, fmt.Errorf("%s to %s: %w", c.variant, mod.Name(), err)
			}
			if st != message.StatusOK {
				return done, fmt.Errorf("%s to %s: ACK status %s", c.variant, mod.Name(), st)
			}
			done++
		}
	}
	return done, nil
}

// telemetry measures protected telemetry records (AEAD) from their first frame on the module
// bus to their last frame relayed to the app, one record per sample, as the modules send them.
func (m *meas) telemetry(ctx context.Context, events <-chan session.Event) (int, error) {
	n := pick(m.o.Telemetry, DefaultTelemetry)
	p1, ok1 := m.sys.Probe(m.busOf("can1"))
	p2, ok2 := m.sys.Probe(m.busOf("can2"))
	if !ok1 || !ok2 {
		return 0, errors.New("no probe on the buses")
	}
	drain(events)
	tm2 := m.timing(m.busOf("can2"))
	pack := m.sys.Pack.Addr()
	mark1, mark2 := p1.Mark(), p2.Mark()
	m.begin()
	wait, cancel := context.WithTimeout(ctx, time.Duration(n)*3*time.Second+10*time.Second)
	defer cancel()
	done := 0
	for done < n {
		var ev session.EventTelemetry
		select {
		case e := <-events:
			t, ok := e.(session.EventTelemetry)
			if !ok || t.Telemetry == nil || !t.Protected {
				continue
			}
			ev = t
		case <-wait.Done():
			return done, fmt.Errorf("telemetry: %d of %d records reached the app: %w", done, n, wait.Err())
		}
		addr := ev.Telemetry.Addr
		var first, last *bus.Received
		for _, r := range p2.Frames(mark2) {
			if id, err := canid.Decode(r.Frame.ID, r.Frame.Extended); err == nil && id.Type == canid.TypeTelemetry && id.Src == addr && id.Dst == pack {
				first = &r
				break
			}
		}
		f1 := p1.Frames(mark1)
		for i := len(f1) - 1; i >= 0; i-- {
			r := f1[i]
			if id, err := canid.Decode(r.Frame.ID, r.Frame.Extended); err == nil && id.Type == canid.TypeTelemetry && id.Src == pack && id.Dst == canid.AddrApp {
				last = &r
				break
			}
		}
		if first == nil || last == nil || !last.Time.After(first.Time) {
			// A record begun before the sampling started: the next one is whole.
			mark1, mark2 = p1.Mark(), p2.Mark()
			m.begin()
			continue
		}
		start := first.Time.Add(-tm2.Duration(&first.Frame, bus.Exact))
		m.endAt("l5-telemetry", "aead-record", start, last.Time, addr, pack, canid.AddrApp)
		done++
		mark1, mark2 = p1.Mark(), p2.Mark()
		m.begin()
	}
	return done, nil
}

// recovery measures key-loss recovery end to end: the module loses its keys, the loss reaches
// the app as an escalation, and the app re-binds and re-pairs the module.
func (m *meas) recovery(ctx context.Context, mod *framework.Module, events <-chan session.Event) error {
	drain(events)
	return m.one(ctx, "key-loss-recovery", "", func(ctx context.Context) error {
		if err := mod.LoseKeys(ctx); err != nil {
			return err
		}
		for {
			select {
			case ev := <-events:
				e, ok := ev.(session.EventEscalation)
				if !ok || e.Local || e.Escalation == nil || e.Escalation.Reason != message.ReasonKeyLoss {
					continue
				}
			case <-ctx.Done():
				return fmt.Errorf("no key-loss escalation reached the app: %w", ctx.Err())
			}
			break
		}
		return m.sys.App.Recover(ctx, mod.EntityID(), PairingContext)
	}, m.sys.Pack.Addr(), mod.Rig.ModuleID)
}

// pollCycles takes the pack's legacy polling cycles from everything the module bus carried:
// from the start of a status request to the first registered module to the last answer
// (cell comm 1) of the last module polled in that round. The pack polls one module per 100 ms
// slot, so a cycle lasts about one slot per module.
func (m *meas) pollCycles() int {
	p, ok := m.sys.Probe(m.busOf("can2"))
	if !ok {
		return 0
	}
	cycles := pollCycles(p.Frames(0), registered(m.sys), m.timing(m.busOf("can2")))
	for _, c := range cycles {
		// Legacy traffic: no crypto, no Web4 nodes; the floor counts every frame in the window.
		m.rec.Add(latency.Sample{Operation: "poll-cycle", Start: c[0], End: c[1], Measured: c[1].Sub(c[0]), Paced: true})
	}
	return len(cycles)
}

// pollSlots takes the pack's poll slots from the module bus: the time from one status request to
// the next. The pack polls one module per slot, so the slot, not the cycle, has a fixed deadline
// (100 ms); a cycle lasts one slot per module by design.
func (m *meas) pollSlots() int {
	p, ok := m.sys.Probe(m.busOf("can2"))
	if !ok {
		return 0
	}
	slots := pollSlots(p.Frames(0))
	for _, sl := range slots {
		m.rec.Add(latency.Sample{Operation: "poll-slot", Start: sl[0], End: sl[1], Measured: sl[1].Sub(sl[0]), Paced: true})
	}
	return len(slots)
}

// pollSlots returns [request, next request] for each pair of consecutive status requests.
func pollSlots(frames []bus.Received) [][2]time.Time {
	var out [][2]time.Time
	var last time.Time
	for i := range frames {
		d, err := legacy.Decode(frames[i].Frame)
		if err != nil {
			continue
		}
		if _, ok := d.Msg.(*legacy.StatusRequest); !ok {
			continue
		}
		if !last.IsZero() {
			out = append(out, [2]time.Time{last, frames[i].Time})
		}
		last = frames[i].Time
	}
	return out
}

// registered lists the module IDs the pack gave the rig's modules, in the rig's order.
func registered(s *framework.System) []uint8 {
	var ids []uint8
	for _, mod := range s.Modules {
		if mod.ModuleID() == mod.Rig.ModuleID {
			ids = append(ids, mod.Rig.ModuleID)
		}
	}
	return ids
}

// pollCycles finds complete polling rounds over ids in frames: [start, end] of each.
func pollCycles(frames []bus.Received, ids []uint8, tm bus.Timing) [][2]time.Time {
	if len(ids) == 0 {
		return nil
	}
	var out [][2]time.Time
	for i := range frames {
		d, err := legacy.Decode(frames[i].Frame)
		if err != nil {
			continue
		}
		req, ok := d.Msg.(*legacy.StatusRequest)
		if !ok || req.ModuleID != ids[0] {
			continue
		}
		start := frames[i].Time.Add(-tm.Duration(&frames[i].Frame, bus.Exact))
		next := 1
		var end time.Time
		for j := i + 1; j < len(frames) && end.IsZero(); j++ {
			d, err := legacy.Decode(frames[j].Frame)
			if err != nil {
				continue
			}
			switch msg := d.Msg.(type) {
			case *legacy.StatusRequest:
				if msg.ModuleID == ids[0] {
					j = len(frames) // the next round began: this one is incomplete
				} else if next < len(ids) && msg.ModuleID == ids[next] {
					next++
				}
			case *legacy.CellComm1:
				if next == len(ids) && d.ModuleID == ids[len(ids)-1] {
					end = frames[j].Time
				}
			}
		}
		if !end.IsZero() {
			out = append(out, [2]time.Time{start, end})
		}
	}
	return out
}

// busOf is the rig's bus of that role's default name, or the first bus.
func (m *meas) busOf(name string) string {
	if _, ok := m.sys.Rig.Bus(name); ok {
		return name
	}
	return m.sys.Rig.Buses[0].Name
}

func (m *meas) timing(name string) bus.Timing {
	b, ok := m.sys.Rig.Bus(name)
	if !ok {
		return bus.Timing{Nominal: 500_000}
	}
	return bus.Timing{Nominal: b.Bitrate, Data: b.DataBitrate}
}

func drain(ch <-chan session.Event) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
