package emu

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/modbatt/hilrun/bus"
)

// Endpoint is one controller on an emulated bus. It implements bus.Endpoint and bus.Describer.
type Endpoint struct {
	b    *Bus
	name string

	// guarded by b.mu
	txq    []pending
	tec    int // transmit error counter
	busOff bool
	closed bool
	stats  bus.Stats

	rxFrames atomic.Uint64
	rx       chan bus.Received
	events   chan event
	room     chan struct{} // a transmit slot came free
	done     chan struct{} // closed by Close
}

type pending struct {
	f      bus.Frame
	queued time.Time
}

// ready is when the frame can start: when it was queued, or when the bus went idle.
func (p *pending) ready(idle time.Time) time.Time {
	if p.queued.After(idle) {
		return p.queued
	}
	return idle
}

type eventKind int

const (
	evBusOff eventKind = iota + 1
	evRestarted
)

type event struct{ kind eventKind }

var (
	_ bus.Endpoint  = (*Endpoint)(nil)
	_ bus.Describer = (*Endpoint)(nil)
)

// Name is the name the endpoint joined with.
func (ep *Endpoint) Name() string { return ep.name }

// Capabilities reports the bus's parameters.
func (ep *Endpoint) Capabilities() bus.Capabilities {
	return bus.Capabilities{FD: ep.b.cfg.FD, Remote: true, Bitrate: ep.b.cfg.Timing.Nominal}
}

// Send queues f for transmission, waiting while the transmit queue is full.
func (ep *Endpoint) Send(ctx context.Context, f bus.Frame) error {
	b := ep.b
	fail := func(err error) error {
		b.mu.Lock()
		ep.stats.TxErrors++
		b.mu.Unlock()
		return err
	}
	if err := f.Validate(); err != nil {
		return fail(err)
	}
	if f.FD && !b.cfg.FD {
		return fail(bus.ErrNoFD)
	}
	for i := int(f.Len); i < len(f.Data); i++ {
		f.Data[i] = 0 // bytes past Len never reach the wire
	}
	for {
		b.mu.Lock()
		switch {
		case ep.closed:
			b.mu.Unlock()
			return bus.ErrClosed
		case ep.busOff:
			ep.stats.TxErrors++
			b.mu.Unlock()
			return fmt.Errorf("emu: endpoint %q: %w", ep.name, bus.ErrBusOff)
		case len(ep.txq) < b.cfg.TxQueue:
			ep.txq = append(ep.txq, pending{f: f, queued: b.clk.Now()})
			ep.stats.TxFrames++
			if len(ep.txq) < b.cfg.TxQueue {
				ep.wakeSenders() // pass the free slot on to another waiting sender
			}
			b.mu.Unlock()
			b.signal()
			return nil
		}
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ep.done:
			return bus.ErrClosed
		case <-ep.room:
		}
	}
}

// Receive returns the next frame another endpoint sent. A bus-off of this endpoint is reported
// once as an error wrapping bus.ErrBusOff.
func (ep *Endpoint) Receive(ctx context.Context) (bus.Received, error) {
	for {
		r, ev, err := ep.next(ctx)
		if err != nil {
			return r, err
		}
		switch ev.kind {
		case 0:
			return r, nil
		case evBusOff:
			return bus.Received{}, fmt.Errorf("emu: endpoint %q: %w", ep.name, bus.ErrBusOff)
		}
	}
}

// next returns a frame, or a controller event (kind != 0).
func (ep *Endpoint) next(ctx context.Context) (bus.Received, event, error) {
	select {
	case <-ep.done:
		return bus.Received{}, event{}, bus.ErrClosed
	default:
	}
	select {
	case <-ctx.Done():
		return bus.Received{}, event{}, ctx.Err()
	case <-ep.done:
		return bus.Received{}, event{}, bus.ErrClosed
	case ev := <-ep.events:
		return bus.Received{}, ev, nil
	case r := <-ep.rx:
		ep.rxFrames.Add(1)
		return r, event{}, nil
	}
}

// tryNext is next without waiting; ok is false when nothing is queued.
func (ep *Endpoint) tryNext() (r bus.Received, ev event, ok bool) {
	select {
	case ev := <-ep.events:
		return bus.Received{}, ev, true
	case r := <-ep.rx:
		ep.rxFrames.Add(1)
		return r, event{}, true
	default:
		return bus.Received{}, event{}, false
	}
}

// Stats returns the endpoint's counters.
func (ep *Endpoint) Stats() bus.Stats {
	ep.b.mu.Lock()
	s := ep.stats
	ep.b.mu.Unlock()
	s.RxFrames = ep.rxFrames.Load()
	return s
}

// Close detaches the endpoint; frames still queued for transmission are discarded.
func (ep *Endpoint) Close() error {
	b := ep.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if ep.closed {
		return nil
	}
	ep.closeLocked()
	for i, x := range b.eps {
		if x == ep {
			b.eps = append(b.eps[:i:i], b.eps[i+1:]...)
			break
		}
	}
	return nil
}

func (ep *Endpoint) closeLocked() {
	ep.closed = true
	ep.txq = nil
	close(ep.done)
}

func (ep *Endpoint) popLocked() {
	ep.txq[0] = pending{}
	ep.txq = ep.txq[1:]
	ep.wakeSenders()
}

func (ep *Endpoint) wakeSenders() {
	select {
	case ep.room <- struct{}{}:
	default:
	}
}

// post queues a controller event; the oldest is dropped when nobody reads them.
func (ep *Endpoint) post(ev event) {
	for {
		select {
		case ep.events <- ev:
			return
		default:
		}
		select {
		case <-ep.events:
		default:
		}
	}
}
