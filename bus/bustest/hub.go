// Package bustest provides an in-memory loopback bus for transport tests: every frame one endpoint
// sends reaches all the others at once, with no timing or arbitration. Tests that need CAN timing
// use bus/emu instead.
package bustest

import (
	"context"
	"sync"
	"time"

	"github.com/modbatt/hilrun/bus"
)

// Hub is a loopback bus. Its zero value reports bitrate 0.
type Hub struct {
	mu      sync.Mutex
	members []*Endpoint
	bitrate int
}

// NewHub returns a hub whose endpoints report the given bitrate.
func NewHub(bitrate int) *Hub { return &Hub{bitrate: bitrate} }

// Endpoint is one attachment to a Hub; it implements bus.Endpoint and bus.Describer.
type Endpoint struct {
	h     *Hub
	rx    chan bus.Received
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	stats bus.Stats
}

// Join attaches a new endpoint with a 256-frame receive queue; overflow is dropped and counted.
func (h *Hub) Join() *Endpoint {
	ep := &Endpoint{h: h, rx: make(chan bus.Received, 256), done: make(chan struct{})}
	h.mu.Lock()
	h.members = append(h.members, ep)
	h.mu.Unlock()
	return ep
}

// Capabilities says the hub carries FD and remote frames.
func (e *Endpoint) Capabilities() bus.Capabilities {
	return bus.Capabilities{FD: true, Remote: true, Bitrate: e.h.bitrate}
}

// Send delivers f to every other endpoint.
func (e *Endpoint) Send(ctx context.Context, f bus.Frame) error {
	if err := f.Validate(); err != nil {
		return err
	}
	select {
	case <-e.done:
		return bus.ErrClosed
	default:
	}
	now := time.Now()
	e.h.mu.Lock()
	for _, m := range e.h.members {
		if m == e {
			continue
		}
		select {
		case m.rx <- bus.Received{Frame: f, Time: now}:
		default:
			m.mu.Lock()
			m.stats.RxDropped++
			m.mu.Unlock()
		}
	}
	e.h.mu.Unlock()
	e.mu.Lock()
	e.stats.TxFrames++
	e.mu.Unlock()
	return nil
}

// Receive returns the next frame.
func (e *Endpoint) Receive(ctx context.Context) (bus.Received, error) {
	select {
	case r := <-e.rx:
		e.mu.Lock()
		e.stats.RxFrames++
		e.mu.Unlock()
		return r, nil
	case <-ctx.Done():
		return bus.Received{}, ctx.Err()
	case <-e.done:
		return bus.Received{}, bus.ErrClosed
	}
}

// Stats returns the endpoint's counters.
func (e *Endpoint) Stats() bus.Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// Close detaches the endpoint; pending and later Receives return bus.ErrClosed.
func (e *Endpoint) Close() error {
	e.once.Do(func() { close(e.done) })
	return nil
}
