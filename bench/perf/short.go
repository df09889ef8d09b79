package perf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/modbatt/hilrun/bench/latency"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/protocol/canid"
)

// shortWait bounds the wait for one single frame and its relay: modules send one every 100 ms
// when their pairing's policy lets telemetry travel at exchange level.
const shortWait = 3 * time.Second

// shortTelemetry measures single-frame telemetry (truncated MAC, docs/protocol.md 6.5) from the
// start of a module's frame on the module bus to the end of the pack's relay of the same sample
// to the app on CAN1: one frame on each bus, the pack's verification and its own MAC between.
// The compute is the pack's, charged from just before the module's frame to the relay's end
// (the module's MAC precedes the window); other work of the pack in that span (an AEAD record
// relayed meanwhile) adds to it, which errs on the side of explaining less overhead.
func (m *meas) shortTelemetry(ctx context.Context) (int, error) {
	n := pick(m.o.Telemetry, DefaultTelemetry)
	p1, ok1 := m.sys.Probe(m.busOf("can1"))
	p2, ok2 := m.sys.Probe(m.busOf("can2"))
	if !ok1 || !ok2 {
		return 0, errors.New("no probe on the buses")
	}
	pack := m.sys.Pack.Addr()
	tm2 := m.timing(m.busOf("can2"))
	is := func(f bus.Frame, src, dst uint8) bool {
		id, err := canid.Decode(f.ID, f.Extended)
		return err == nil && id.Type == canid.TypeTelemetryShort && (src == 0 || id.Src == src) && id.Dst == dst
	}
	for done := range n {
		wctx, cancel := context.WithTimeout(ctx, shortWait)
		mark1, mark2 := p1.Mark(), p2.Mark()
		base := m.packMeter.Tallies()
		in, _, err := p2.Wait(wctx, mark2, "a module's single-frame telemetry", func(f bus.Frame) bool { return is(f, 0, pack) })
		if err != nil {
			cancel()
			return done, fmt.Errorf("single-frame telemetry: %w", err)
		}
		id, _ := canid.Decode(in.Frame.ID, in.Frame.Extended)
		sample := in.Frame.Data[:3] // signal and value: the pack relays them unchanged
		out, _, err := p1.Wait(wctx, mark1, "its relay to the app", func(f bus.Frame) bool {
			return is(f, id.Src, canid.AddrApp) && bytes.Equal(f.Data[:3], sample)
		})
		cancel()
		if err != nil {
			return done, fmt.Errorf("single-frame telemetry from %#02x: %w", id.Src, err)
		}
		s := latency.Sample{Operation: "l5-telemetry", Variant: "short", Start: in.Time.Add(-tm2.Duration(&in.Frame, bus.Exact)),
			End: out.Time, Nodes: []uint8{pack, canid.AddrApp}}
		s.Measured = s.End.Sub(s.Start)
		if t := diff(m.packMeter.Tallies(), base); len(t) > 0 {
			s.Compute = append(s.Compute, latency.ComputeOf(m.sys.Pack.Name(), latency.RolePack, m.sys.Pack.Profile(), t))
		}
		m.rec.Add(s)
	}
	return n, nil
}
