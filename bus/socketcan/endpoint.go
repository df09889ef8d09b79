// Package socketcan attaches hilrun to a Linux SocketCAN interface (real adapters such as
// PCAN-USB through peak_usb, slcan lines, vcan) as a bus.Endpoint, and manages CAN network
// interfaces over rtnetlink without the ip binary.
//
// Classic endpoints go through go.einride.tech/can's connection, receiver and transmitter.
// That connection hides its descriptor and reads fixed 16-byte records, so it can neither enable
// CAN_RAW_FD_FRAMES nor read the kernel's receive timestamps; FD endpoints (WithFD) therefore
// open the raw socket directly, read one record per recvmsg and take the kernel's SO_TIMESTAMPNS
// stamp and the kernel's count of frames it dropped for want of buffer space (SO_RXQ_OVFL),
// which Stats adds to RxDropped. Classic endpoints stamp frames with the time the read returned.
package socketcan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
)

// backend is one open CAN_RAW socket.
type backend interface {
	// read blocks for the next record and returns it with its receive time (zero if unknown).
	read() (Record, time.Time, error)
	write(ctx context.Context, f *bus.Frame) error
	close() error
}

type options struct {
	fd    bool
	queue int
	clk   clock.Clock
	log   *slog.Logger
}

// Option configures Open.
type Option func(*options)

// WithFD opens the endpoint for CAN FD frames as well as classic ones. Open fails with an error
// wrapping bus.ErrNoFD when the interface's MTU is not CANFD_MTU or the kernel refuses FD frames.
func WithFD() Option { return func(o *options) { o.fd = true } }

// WithQueue sets how many received frames wait for Receive before the reader stops reading and
// the kernel's socket buffer takes over (default 256).
func WithQueue(n int) Option { return func(o *options) { o.queue = max(n, 1) } }

// WithClock sets the clock that stamps frames when the kernel gives no timestamp.
func WithClock(c clock.Clock) Option { return func(o *options) { o.clk = c } }

// WithLogger sets where controller error reports other than bus-off are logged (debug level).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Endpoint is a bus.Endpoint on one SocketCAN interface. Own frames are not received back
// (CAN_RAW_RECV_OWN_MSGS stays off), while other sockets on the interface, candump among them,
// see them through the kernel's loopback.
type Endpoint struct {
	name    string
	fd      bool
	bitrate int
	b       backend
	log     *slog.Logger

	rx         chan rxItem
	done       chan struct{}
	readerDone chan struct{}
	fatal      error // set by the reader before readerDone closes
	closeOnce  sync.Once
	closeErr   error

	busOff                                           atomic.Bool
	txFrames, rxFrames, txErrors, rxDropped, nBusOff atomic.Uint64
}

type rxItem struct {
	r   bus.Received
	err error
}

var _ bus.Endpoint = (*Endpoint)(nil)
var _ bus.Describer = (*Endpoint)(nil)

// Open attaches to the CAN interface called name (for example "can0", "vcan0", "slcan0").
func Open(ctx context.Context, name string, opts ...Option) (*Endpoint, error) {
	o := options{queue: 256, clk: clock.Real{}}
	for _, f := range opts {
		f(&o)
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("socketcan: interface %s: %w", name, err)
	}
	var b backend
	if o.fd {
		if ifi.MTU != FDRecordLen {
			return nil, fmt.Errorf("socketcan: %s has MTU %d, not %d: %w", name, ifi.MTU, FDRecordLen, bus.ErrNoFD)
		}
		b, err = openRaw(name, ifi.Index, o.clk)
	} else {
		b, err = openEinride(ctx, name, o.clk)
	}
	if err != nil {
		return nil, err
	}
	e := newEndpoint(name, o, b)
	if all, err := Interfaces(); err == nil {
		for _, i := range all {
			if i.Name == name {
				e.bitrate = i.Bitrate
			}
		}
	}
	return e, nil
}

func newEndpoint(name string, o options, b backend) *Endpoint {
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	e := &Endpoint{
		name:       name,
		fd:         o.fd,
		b:          b,
		log:        o.log,
		rx:         make(chan rxItem, o.queue),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	go e.reader()
	return e
}

// Name returns the interface name.
func (e *Endpoint) Name() string { return e.name }

// Capabilities reports FD when the endpoint was opened WithFD, and the controller's nominal
// bitrate when the driver reports one (0 for vcan).
func (e *Endpoint) Capabilities() bus.Capabilities {
	return bus.Capabilities{FD: e.fd, Remote: true, Bitrate: e.bitrate}
}

func (e *Endpoint) reader() {
	defer close(e.readerDone)
	for {
		rec, t, err := e.b.read()
		switch {
		case err != nil && e.isClosed():
			return
		case errors.Is(err, ErrMalformed):
			e.rxDropped.Add(1)
			e.log.Debug("socketcan: dropped record", "if", e.name, "err", err)
			continue
		case err != nil:
			e.fatal = fmt.Errorf("socketcan: %s: read: %w", e.name, err)
			return
		}
		e.rxDropped.Add(uint64(rec.Lost))
		if rec.IsError {
			e.errorFrame(rec.Error)
			if rec.Error.BusOff() && !e.deliver(rxItem{err: fmt.Errorf("socketcan: %s: %w", e.name, bus.ErrBusOff)}) {
				return
			}
			continue
		}
		e.busOff.Store(false) // a frame arrived, so the controller takes part in the bus again
		if !e.deliver(rxItem{r: bus.Received{Frame: rec.Frame, Time: t}}) {
			return
		}
	}
}

func (e *Endpoint) errorFrame(ef ErrorFrame) {
	switch {
	case ef.BusOff():
		e.busOff.Store(true)
		e.nBusOff.Add(1)
	case ef.Restarted():
		e.busOff.Store(false)
	}
	e.log.Debug("socketcan: controller error", "if", e.name, "class", fmt.Sprintf("%#x", ef.Class), "data", fmt.Sprintf("% x", ef.Data))
}

func (e *Endpoint) deliver(it rxItem) bool {
	select {
	case e.rx <- it:
		return true
	case <-e.done:
		return false
	}
}

func (e *Endpoint) isClosed() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// Send writes f to the interface. It fails with bus.ErrNoFD for an FD frame on a classic
// endpoint, bus.ErrBusOff after a bus-off report and until the controller restarts, and
// bus.ErrTxFull when the interface's transmit queue is full.
func (e *Endpoint) Send(ctx context.Context, f bus.Frame) error {
	if e.isClosed() {
		return bus.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return err
	}
	if f.FD && !e.fd {
		return fmt.Errorf("socketcan: %s: %w", e.name, bus.ErrNoFD)
	}
	if e.busOff.Load() {
		e.txErrors.Add(1)
		return fmt.Errorf("socketcan: %s: %w", e.name, bus.ErrBusOff)
	}
	if err := e.b.write(ctx, &f); err != nil {
		e.txErrors.Add(1)
		if e.isClosed() {
			return bus.ErrClosed
		}
		return fmt.Errorf("socketcan: %s: send %v: %w", e.name, f, err)
	}
	e.txFrames.Add(1)
	return nil
}

// Receive returns the next frame from the interface, or an error wrapping bus.ErrBusOff when
// the controller reports bus-off (Receive may be called again after it).
func (e *Endpoint) Receive(ctx context.Context) (bus.Received, error) {
	take := func(it rxItem) (bus.Received, error) {
		if it.err == nil {
			e.rxFrames.Add(1)
		}
		return it.r, it.err
	}
	select {
	case it := <-e.rx:
		return take(it)
	case <-ctx.Done():
		return bus.Received{}, ctx.Err()
	case <-e.done:
		return bus.Received{}, bus.ErrClosed
	case <-e.readerDone:
		select {
		case it := <-e.rx:
			return take(it)
		default:
		}
		if e.isClosed() {
			return bus.Received{}, bus.ErrClosed
		}
		return bus.Received{}, e.fatal
	}
}

// Stats returns the endpoint's counters.
func (e *Endpoint) Stats() bus.Stats {
	return bus.Stats{
		TxFrames:  e.txFrames.Load(),
		RxFrames:  e.rxFrames.Load(),
		TxErrors:  e.txErrors.Load(),
		RxDropped: e.rxDropped.Load(),
		BusOff:    e.nBusOff.Load(),
	}
}

// Close releases the socket; pending and later calls fail with bus.ErrClosed.
func (e *Endpoint) Close() error {
	e.closeOnce.Do(func() {
		close(e.done)
		e.closeErr = e.b.close()
		<-e.readerDone
	})
	return e.closeErr
}
