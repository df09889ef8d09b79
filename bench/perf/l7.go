package perf

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/session"
	"github.com/modbatt/hilrun/protocol/suite"
)

// l7Settle is how long after the last verification charge the pack may still start another
// one for the same record (its CAN1 engine verifies the record, then hands it to its CAN2
// engine, which verifies it again): the software hops between the two, and a late timer on a
// loaded host. The next sample waits for it; the measurement does not.
const l7Settle = 50 * time.Millisecond

// l7 measures an L7 binding validation (kind verification) of a module's binding with the
// pack: the app asks the authority for the statement (it walks its ledger and signs; a host's
// HTTP round trip, outside the window), then the window runs from handing the signed record to
// the app's link engine, through its relay to the pack (docs/protocol.md 7.1: 29 frames), until
// the pack has finished verifying it. Nothing on the bus answers an L7 record, so the end is
// the pack's own: the moment its last verification charge for the record completed, read from
// its meter. The charge stands for the verification on the real part; the emulator's own Go
// verification after the last charge (≈ 0.1 ms) is not in the window.
func (m *meas) l7(ctx context.Context, mod *framework.Module) error {
	bid, ok := m.sys.App.BindingID(m.sys.Pack.EntityID(), mod.EntityID())
	if !ok {
		return fmt.Errorf("no binding of %s with the pack", mod.Name())
	}
	pack := m.sys.Pack.Addr()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	rec, err := m.sys.Authority.Client.VerifyBinding(ctx, bid)
	if err != nil {
		return fmt.Errorf("L7 verification of %s: %w", bid, err)
	}
	signed, err := base64.StdEncoding.DecodeString(rec.BindingValidation)
	if err != nil {
		return fmt.Errorf("L7 verification of %s: %w", bid, err)
	}
	p1, ok := m.sys.Probe(m.busOf("can1"))
	if !ok {
		return errors.New("no probe on the app bus")
	}
	mark := p1.Mark()
	start := m.begin()
	if err := m.sys.App.Engine().Deliver(ctx, session.Hop{Dst: pack, Via: pack}, canid.TypeBindingValid, signed); err != nil {
		return fmt.Errorf("deliver the L7 record to the pack: %w", err)
	}
	// Deliver returns once the frames are queued; wait (without polling) for the last one on
	// the bus, so that the meter is polled only while the pack works on the record.
	if _, _, err := p1.Wait(ctx, mark, "the L7 record's last frame", lastFrameOf(canid.TypeBindingValid, canid.AddrApp, pack)); err != nil {
		return err
	}
	cost := m.sys.Pack.Profile().Cost(suite.OpVerify, 1)
	end, n, err := awaitCharges(ctx, m.clk, m.packMeter, suite.OpVerify, cost, max(l7Settle, cost))
	if err != nil {
		m.packMeter.Reset()
		return fmt.Errorf("the pack's verification of the L7 record (%d seen): %w", n, err)
	}
	m.endAt("l7-validation", "verification", start, end, canid.AddrApp, pack)
	return nil
}

// awaitCharges waits until meter has recorded at least one op and then no further one for
// cost+settle (the longest the next could take to complete), and returns when the last one
// was seen and how many there were. It sleeps through most of each charge and polls the meter
// near its end, so the time it returns is the charge's end to within a scheduler pass.
func awaitCharges(ctx context.Context, clk clock.Clock, meter *mcu.Meter, op suite.Op, cost, settle time.Duration) (time.Time, int, error) {
	const poll = 2 * time.Millisecond // polled, not slept, before a charge may end
	calls := func() int {
		for _, t := range meter.Tallies() {
			if t.Op == op {
				return t.Calls
			}
		}
		return 0
	}
	now := clk.Now
	seen := calls()
	var last time.Time
	if seen > 0 {
		last = now()
	}
	began := now()
	for {
		if err := ctx.Err(); err != nil {
			return last, seen, err
		}
		t := now()
		if n := calls(); n > seen {
			seen, last = n, t
			continue
		}
		ref := began
		if seen == 0 && t.Sub(began) > cost+noChargeAfter {
			return last, seen, errNoCharge
		}
		if seen > 0 {
			ref = last
			if t.Sub(last) > cost+settle {
				return last, seen, nil
			}
		}
		if d := ref.Add(cost - poll).Sub(t); d > 0 {
			_ = clock.Sleep(ctx, clk, d) // a cancelled ctx ends the loop above
			continue
		}
		runtime.Gosched()
	}
}

// noChargeAfter bounds the wait for the first charge beyond its cost: the record is on the
// pack by then, or lost.
const noChargeAfter = 5 * time.Second

var errNoCharge = errors.New("no charge recorded")

// lastFrameOf matches the frame that completes the next ISO-TP message of type t from src to
// dst (classic frames: a first frame with a 12-bit length, then consecutive frames of 7 bytes;
// a single frame completes at once). It keeps state: use it for one Wait.
func lastFrameOf(t canid.Type, src, dst uint8) func(bus.Frame) bool {
	left := -1 // bytes still to come; -1 before the first frame
	return func(f bus.Frame) bool {
		id, err := canid.Decode(f.ID, f.Extended)
		if err != nil || id.Type != t || id.Src != src || id.Dst != dst || f.Len < 1 {
			return false
		}
		switch pci := f.Data[0] >> 4; {
		case pci == 0: // single frame
			return left < 0
		case pci == 1 && f.Len >= 2: // first frame
			left = int(f.Data[0]&0x0F)<<8 | int(f.Data[1])
			left -= int(f.Len) - 2
		case pci == 2 && left > 0: // consecutive frame
			left -= int(f.Len) - 1
			return left <= 0
		}
		return false
	}
}
