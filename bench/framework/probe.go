package framework

import (
	"context"
	"fmt"
	"sync"

	"github.com/modbatt/hilrun/bus"
)

// Probe is the bench's own endpoint on a bus: it keeps every frame it sees, in order, so a
// spec can wait for a frame that answers its stimulus, and it can send frames of its own.
type Probe struct {
	ep     bus.Endpoint
	mu     sync.Mutex
	frames []bus.Received
	notify chan struct{}
	done   chan struct{}
	stop   context.CancelFunc
}

// maxProbeFrames bounds what a probe keeps; a spec waits on recent traffic only.
const maxProbeFrames = 1 << 18

func newProbe(ep bus.Endpoint) *Probe {
	ctx, stop := context.WithCancel(context.Background())
	p := &Probe{ep: ep, notify: make(chan struct{}), done: make(chan struct{}), stop: stop}
	go p.read(ctx)
	return p
}

func (p *Probe) read(ctx context.Context) {
	defer close(p.done)
	for {
		r, err := p.ep.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			continue // bus-off and the like: a probe only listens
		}
		p.mu.Lock()
		if len(p.frames) < maxProbeFrames {
			p.frames = append(p.frames, r)
		}
		close(p.notify)
		p.notify = make(chan struct{})
		p.mu.Unlock()
	}
}

// Mark is the position of the next frame the probe will see: wait from it for answers to
// a stimulus sent after Mark.
func (p *Probe) Mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.frames)
}

// Frames returns a copy of the frames seen from position from on.
func (p *Probe) Frames(from int) []bus.Received {
	p.mu.Lock()
	defer p.mu.Unlock()
	if from > len(p.frames) {
		return nil
	}
	return append([]bus.Received(nil), p.frames[from:]...)
}

// Wait returns the first frame from position from on that match accepts, and its position.
func (p *Probe) Wait(ctx context.Context, from int, what string, match func(bus.Frame) bool) (bus.Received, int, error) {
	for {
		p.mu.Lock()
		for i := from; i < len(p.frames); i++ {
			if match(p.frames[i].Frame) {
				r := p.frames[i]
				p.mu.Unlock()
				return r, i, nil
			}
		}
		from = max(from, len(p.frames))
		ch := p.notify
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return bus.Received{}, 0, fmt.Errorf("framework: waiting for %s: %w", what, ctx.Err())
		}
	}
}

// Send puts a frame on the bus from the bench.
func (p *Probe) Send(ctx context.Context, f bus.Frame) error { return p.ep.Send(ctx, f) }

func (p *Probe) close() {
	p.stop()
	p.ep.Close()
	<-p.done
	p.mu.Lock()
	p.frames = nil // what a spec waited on is over with the bring-up
	p.mu.Unlock()
}
