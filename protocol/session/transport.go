package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/isotp"
)

// transport runs the ISO-TP nodes: it feeds them frames, runs their timers, sends what they
// ask, and hands whole messages to the protocol goroutine without ever waiting for it.
func (e *Engine) transport(ctx context.Context) {
	defer e.failSends()
	wake := clock.NewDeadline(e.clk)
	defer wake.Stop()
	for {
		dl, ok := e.isotpDeadline()
		tick := wake.C(dl, ok)
		select {
		case <-ctx.Done():
			return
		case r := <-e.input:
			e.handleFrame(r)
		case <-e.txKick:
			e.txMu.Lock()
			q := e.txPending
			e.txPending = nil
			e.txMu.Unlock()
			for _, m := range q {
				e.queue(m)
			}
		case <-tick:
			wake.Fired()
			now := e.clk.Now()
			e.apply(e.node.Tick(now), e.node)
			for _, n := range e.proxies {
				e.apply(n.Tick(now), n)
			}
		}
	}
}

func (e *Engine) failSends() {
	e.txMu.Lock()
	q := e.txPending
	e.txPending = nil
	e.txMu.Unlock()
	for _, m := range q {
		if m.res != nil {
			m.res <- ErrClosed
		}
	}
	for id, m := range e.busy {
		if m.res != nil {
			m.res <- ErrClosed
		}
		delete(e.busy, id)
	}
	for id, q := range e.txq {
		for _, m := range q {
			if m.res != nil {
				m.res <- ErrClosed
			}
		}
		delete(e.txq, id)
	}
}

func (e *Engine) isotpDeadline() (time.Time, bool) {
	best, ok := e.node.NextDeadline()
	for _, n := range e.proxies {
		if t, has := n.NextDeadline(); has && (!ok || t.Before(best)) {
			best, ok = t, true
		}
	}
	return best, ok
}

// toProtocol hands an inbound item over; when the protocol goroutine is far behind, the item
// is dropped and counted rather than stalling the bus.
func (e *Engine) toProtocol(in inbound) {
	select {
	case e.inbox <- in:
	default:
		e.count(func(s *Stats) { s.Rejected[CauseOverload]++ })
	}
}

// handleFrame feeds one Web4 frame to the ISO-TP node it is addressed to, or passes a
// single-frame telemetry frame on.
func (e *Engine) handleFrame(r bus.Received) {
	f := r.Frame
	id, err := canid.Decode(f.ID, f.Extended)
	if err != nil {
		e.reject(0, CauseNotWeb4, err)
		return
	}
	if id.Type.Framing() == canid.Raw {
		if id.Dst == e.cfg.Identity.Addr {
			e.toProtocol(inbound{raw: &f})
		}
		return
	}
	n := e.node
	if p, ok := e.proxies[id.Dst]; ok {
		n = p
	}
	out, err := n.HandleFrame(f, e.clk.Now())
	if err != nil && !errors.Is(err, isotp.ErrNotAddressed) {
		e.reject(id.Src, CauseTransport, err)
	}
	e.apply(out, n)
}

// apply sends a node's frames and settles what they finished.
func (e *Engine) apply(out isotp.Output, n *isotp.Node) {
	for _, f := range out.Frames {
		ctx, cancel := context.WithTimeout(e.runCtx, n.Config().NAs)
		err := e.cfg.Endpoint.Send(ctx, f)
		cancel()
		if err != nil {
			more := n.Abort(f, err)
			out.Done = append(out.Done, more.Done...)
			out.Errors = append(out.Errors, more.Errors...)
		}
	}
	for _, d := range out.Done {
		raw := d.ID.Encode()
		if m := e.busy[raw]; m != nil {
			delete(e.busy, raw)
			if m.res != nil {
				m.res <- d.Err
			}
		}
		if q := e.txq[raw]; len(q) > 0 {
			next := q[0]
			if len(q) == 1 {
				delete(e.txq, raw)
			} else {
				e.txq[raw] = q[1:]
			}
			e.start(next)
		}
	}
	for _, err := range out.Errors {
		var ie *isotp.Error
		peer := uint8(0)
		if errors.As(err, &ie) {
			peer = ie.ID.Src
		}
		e.reject(peer, CauseTransport, err)
	}
	for _, m := range out.Messages {
		e.count(func(s *Stats) { s.RxMessages++ })
		e.toProtocol(inbound{msg: m})
	}
}

// queue starts a transmission, or queues it behind the one running on the same identifier.
func (e *Engine) queue(m *outMsg) {
	n := e.node
	if m.msg.ID.Src != e.cfg.Identity.Addr {
		n = e.proxies[m.msg.ID.Src]
		if n == nil {
			if m.res != nil {
				m.res <- fmt.Errorf("session: %#02x is not a proxied address", m.msg.ID.Src)
			}
			return
		}
	}
	m.from = n
	raw := m.msg.ID.Encode()
	if e.busy[raw] != nil {
		e.txq[raw] = append(e.txq[raw], m)
		return
	}
	e.start(m)
}

func (e *Engine) start(m *outMsg) {
	raw := m.msg.ID.Encode()
	out, err := m.from.Send(m.msg, e.clk.Now())
	if err != nil {
		if m.res != nil {
			m.res <- err
		}
		return
	}
	e.count(func(s *Stats) { s.TxMessages++ })
	e.busy[raw] = m
	e.apply(out, m.from)
}
