package isotp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
)

// ErrConnClosed is returned by a Conn's Send and Receive once it has stopped.
var ErrConnClosed = errors.New("isotp: connection closed")

// Conn runs a Node over a bus endpoint and a clock: one goroutine reads frames, another owns
// the node, its timers and the sending of its frames. Frames that are not ISO-TP frames for the
// node are dropped. The endpoint stays the caller's: Close does not close it.
type Conn struct {
	ep   bus.Endpoint
	clk  clock.Clock
	log  *slog.Logger
	node *Node // owned by the loop; mu guards it for Stats

	mu      sync.Mutex
	dropped uint64
	rxErrs  uint64

	sends  chan sendReq
	msgs   chan Message
	cancel context.CancelFunc
	done   chan struct{}
	err    error // why the loop stopped; read after done is closed
}

type sendReq struct {
	msg Message
	res chan error
}

// ConnOption adjusts a Conn.
type ConnOption func(*Conn)

// WithLogger logs reception failures and send errors at debug level.
func WithLogger(l *slog.Logger) ConnOption { return func(c *Conn) { c.log = l } }

// WithQueue sets how many received messages wait for Receive before newer ones are dropped
// (default 64).
func WithQueue(n int) ConnOption { return func(c *Conn) { c.msgs = make(chan Message, max(n, 1)) } }

// ConnStats are the node's counters and the connection's own.
type ConnStats struct {
	Stats
	Dropped     uint64 // messages dropped because nobody called Receive
	RxErrors    uint64 // reception failures reported by the node
	LastFailure error  // the error that stopped the connection, if it stopped
}

// NewConn starts running node over ep. The Conn owns node from now on.
func NewConn(ep bus.Endpoint, clk clock.Clock, node *Node, opts ...ConnOption) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{ep: ep, clk: clk, node: node, log: slog.New(slog.DiscardHandler),
		sends: make(chan sendReq), msgs: make(chan Message, 64), cancel: cancel, done: make(chan struct{})}
	for _, o := range opts {
		o(c)
	}
	frames := make(chan bus.Received, 64)
	rerr := make(chan error, 1)
	go c.read(ctx, frames, rerr)
	go c.loop(ctx, frames, rerr)
	return c
}

// Send sends msg and waits until its last frame has been handed to the endpoint or the
// transmission failed. If ctx ends first, Send returns and the transmission runs on to its end.
// While a transmission to the same destination and type runs, Send fails at once with ErrBusy.
func (c *Conn) Send(ctx context.Context, msg Message) error {
	req := sendReq{msg: msg, res: make(chan error, 1)}
	select {
	case c.sends <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.closedErr()
	}
	select {
	case err := <-req.res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.closedErr()
	}
}

// Receive returns the next reassembled message.
func (c *Conn) Receive(ctx context.Context) (Message, error) {
	select {
	case m := <-c.msgs:
		return m, nil
	case <-ctx.Done():
		return Message{}, ctx.Err()
	case <-c.done:
		select {
		case m := <-c.msgs:
			return m, nil
		default:
		}
		return Message{}, c.closedErr()
	}
}

// Stats returns the counters.
func (c *Conn) Stats() ConnStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := ConnStats{Stats: c.node.Stats(), Dropped: c.dropped, RxErrors: c.rxErrs}
	select {
	case <-c.done:
		s.LastFailure = c.err
	default:
	}
	return s
}

// Close stops the connection; transmissions in progress fail with ErrConnClosed.
func (c *Conn) Close() error {
	c.cancel()
	<-c.done
	return nil
}

func (c *Conn) closedErr() error {
	if c.err != nil {
		return fmt.Errorf("%w: %w", ErrConnClosed, c.err)
	}
	return ErrConnClosed
}

func (c *Conn) read(ctx context.Context, frames chan<- bus.Received, rerr chan<- error) {
	for {
		r, err := c.ep.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, bus.ErrBusOff) { // the controller recovers; keep listening
				continue
			}
			rerr <- err
			return
		}
		select {
		case frames <- r:
		case <-ctx.Done():
			return
		}
	}
}

func (c *Conn) loop(ctx context.Context, frames <-chan bus.Received, rerr <-chan error) {
	waiters := map[uint32]chan error{}
	defer func() {
		for _, w := range waiters {
			w <- c.closedErr()
		}
		close(c.done)
	}()
	wake := clock.NewDeadline(c.clk)
	defer wake.Stop()
	for {
		c.mu.Lock()
		dl, ok := c.node.NextDeadline()
		c.mu.Unlock()
		tick := wake.C(dl, ok)
		select {
		case <-ctx.Done():
			return
		case err := <-rerr:
			c.err = err
			return
		case r := <-frames:
			c.mu.Lock()
			out, err := c.node.HandleFrame(r.Frame, c.clk.Now())
			c.mu.Unlock()
			if err != nil && !errors.Is(err, ErrNotAddressed) {
				c.rxError(err)
			}
			c.apply(ctx, out, waiters)
		case req := <-c.sends:
			c.mu.Lock()
			out, err := c.node.Send(req.msg, c.clk.Now())
			c.mu.Unlock()
			if err != nil {
				req.res <- err
				continue
			}
			waiters[req.msg.ID.Encode()] = req.res
			c.apply(ctx, out, waiters)
		case <-tick:
			wake.Fired()
			c.mu.Lock()
			out := c.node.Tick(c.clk.Now())
			c.mu.Unlock()
			c.apply(ctx, out, waiters)
		}
	}
}

// apply sends the node's frames (each within N_As, or N_Ar for flow control), then settles
// finished transmissions and hands over messages.
func (c *Conn) apply(ctx context.Context, out Output, waiters map[uint32]chan error) {
	cfg := c.node.cfg
	failed := map[uint32]error{}
	for _, f := range out.Frames {
		if failed[f.ID] != nil {
			continue // the rest of a transmission that already failed
		}
		limit := cfg.NAs
		if f.Len > 0 && PCIType(f.Data[0]>>4) == FlowControl {
			limit = cfg.NAr
		}
		if err := c.sendFrame(ctx, f, limit); err != nil {
			c.log.Debug("isotp: send failed", "frame", f.String(), "err", err)
			failed[f.ID] = err
			c.mu.Lock()
			more := c.node.Abort(f, err)
			c.mu.Unlock()
			out.Done = append(out.Done, more.Done...)
			out.Errors = append(out.Errors, more.Errors...)
		}
	}
	for _, d := range out.Done {
		raw := d.ID.Encode()
		err := d.Err
		if err == nil && failed[raw] != nil {
			err = &Error{ID: d.ID, Err: ErrTimeoutAs, Cause: failed[raw]}
		}
		if w, ok := waiters[raw]; ok {
			w <- err
			delete(waiters, raw)
		}
	}
	for _, m := range out.Messages {
		select {
		case c.msgs <- m:
		default:
			c.mu.Lock()
			c.dropped++
			c.mu.Unlock()
		}
	}
	for _, e := range out.Errors {
		c.rxError(e)
	}
}

func (c *Conn) rxError(err error) {
	c.mu.Lock()
	c.rxErrs++
	c.mu.Unlock()
	c.log.Debug("isotp: reception failed", "err", err)
}

// sendFrame sends one frame, giving up after limit on the connection's clock.
func (c *Conn) sendFrame(ctx context.Context, f bus.Frame, limit time.Duration) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := c.clk.NewTimer(limit)
	defer t.Stop()
	expired := make(chan struct{})
	go func() {
		select {
		case <-t.C():
			close(expired)
			cancel()
		case <-sctx.Done():
		}
	}()
	err := c.ep.Send(sctx, f)
	if err != nil {
		select {
		case <-expired:
			return fmt.Errorf("no transmit confirmation within %v: %w", limit, err)
		default:
		}
	}
	return err
}
