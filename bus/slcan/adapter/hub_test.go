package adapter

import (
	"context"
	"sync"
	"time"

	"github.com/modbatt/hilrun/bus"
)

// hub is an in-test loopback bus: every frame one endpoint sends reaches all the others.
type hub struct {
	mu      sync.Mutex
	members []*hubEP
	bitrate int
}

type hubEP struct {
	h     *hub
	rx    chan bus.Received
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	stats bus.Stats
}

func (h *hub) join() *hubEP {
	ep := &hubEP{h: h, rx: make(chan bus.Received, 256), done: make(chan struct{})}
	h.mu.Lock()
	h.members = append(h.members, ep)
	h.mu.Unlock()
	return ep
}

func (e *hubEP) Capabilities() bus.Capabilities {
	return bus.Capabilities{FD: true, Remote: true, Bitrate: e.h.bitrate}
}

func (e *hubEP) Send(ctx context.Context, f bus.Frame) error {
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

func (e *hubEP) Receive(ctx context.Context) (bus.Received, error) {
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

func (e *hubEP) Stats() bus.Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

func (e *hubEP) Close() error {
	e.once.Do(func() { close(e.done) })
	return nil
}
