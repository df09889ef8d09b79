package emu

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modbatt/hilrun/bus"
)

// ErrRefused is wrapped when a server answers a hello with a status other than StatusOK.
var ErrRefused = errors.New("emu: server refused the connection")

// Dialer joins a bus served by another process.
type Dialer struct {
	Name    string // endpoint name the server uses for fault rules and logs; "" lets it choose
	RxQueue int    // frames buffered on this side; 0 means DefaultRxQueue
}

// Dial joins the bus at address ("unix:PATH", "tcp:HOST:PORT", or the raw+ forms) with a
// default Dialer.
func Dial(ctx context.Context, address string) (*Client, error) {
	return Dialer{}.Dial(ctx, address)
}

// Dial joins the bus at address.
func (d Dialer) Dial(ctx context.Context, address string) (*Client, error) {
	a, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, a.Network, a.Addr)
	if err != nil {
		return nil, fmt.Errorf("emu: dial %s: %w", a, err)
	}
	q := d.RxQueue
	if q <= 0 {
		q = DefaultRxQueue
	}
	c := &Client{
		conn: conn, stamped: a.Mode == Framed,
		rx: make(chan item, q), tx: make(chan bus.Frame, DefaultTxQueue),
		done: make(chan struct{}), broken: make(chan struct{}), wdone: make(chan struct{}),
	}
	br := bufio.NewReaderSize(conn, 32<<10)
	if a.Mode == Framed {
		if dl, ok := ctx.Deadline(); ok {
			conn.SetDeadline(dl)
		}
		stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
		w, err := c.handshake(br, d.Name)
		if !stop() || err != nil {
			conn.Close()
			if err == nil {
				err = ctx.Err()
			}
			return nil, err
		}
		conn.SetDeadline(time.Time{})
		c.caps = bus.Capabilities{FD: w.FD, Remote: true, Bitrate: int(w.Nominal)}
	} else {
		c.caps = bus.Capabilities{FD: true, Remote: true} // unknown: the server decides
	}
	go c.readLoop(NewReader(br, c.stamped))
	go c.writeLoop()
	return c, nil
}

func (c *Client) handshake(br *bufio.Reader, name string) (Welcome, error) {
	if name != "" && !validName(name) {
		return Welcome{}, fmt.Errorf("emu: endpoint name %q: use letters, digits, '_', '-', '.', at most %d", name, maxNameLen)
	}
	if _, err := c.conn.Write(AppendHello(nil, name)); err != nil {
		return Welcome{}, fmt.Errorf("emu: send hello: %w", err)
	}
	w, err := ReadWelcome(br)
	if err != nil {
		return Welcome{}, err
	}
	if w.Status != StatusOK {
		return Welcome{}, fmt.Errorf("%w: status %d (server speaks version %d)", ErrRefused, w.Status, w.Version)
	}
	return w, nil
}

// Client is an endpoint on a bus served by another process. It implements bus.Endpoint and
// bus.Describer. Frames the server could not queue for this client are counted by the server.
type Client struct {
	conn    net.Conn
	stamped bool
	caps    bus.Capabilities

	rx        chan item
	tx        chan bus.Frame
	done      chan struct{} // Close was called
	wdone     chan struct{} // the writer has flushed and stopped
	broken    chan struct{} // a write failed: the stream is unusable
	breakOnce sync.Once
	closeOnce sync.Once
	busOff    atomic.Bool

	txFrames, txErrors, rxFrames, busOffs atomic.Uint64
}

type item struct {
	r   bus.Received
	err error
}

var (
	_ bus.Endpoint  = (*Client)(nil)
	_ bus.Describer = (*Client)(nil)
)

// Capabilities reports what the server announced (in raw mode: FD allowed, bitrate unknown).
func (c *Client) Capabilities() bus.Capabilities { return c.caps }

func (c *Client) readLoop(rd *Reader) {
	for {
		m, err := rd.Next()
		if err != nil {
			select {
			case <-c.done:
				return
			default:
			}
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				err = fmt.Errorf("emu: server closed the connection: %w", bus.ErrUnplugged)
			} else {
				err = fmt.Errorf("emu: connection lost: %w: %w", bus.ErrUnplugged, err)
			}
			c.push(item{err: err})
			return
		}
		switch m.ErrClass {
		case 0:
			t := m.Time
			if t.IsZero() {
				t = time.Now() // raw mode has no bus timestamps
			}
			if !c.push(item{r: bus.Received{Frame: m.Frame, Time: t}}) {
				return
			}
		case ErrClassBusOff:
			c.busOff.Store(true)
			c.busOffs.Add(1)
			if !c.push(item{err: fmt.Errorf("emu: %w", bus.ErrBusOff)}) {
				return
			}
		case ErrClassRestarted:
			c.busOff.Store(false)
		}
	}
}

func (c *Client) push(it item) bool {
	select {
	case c.rx <- it:
		return true
	case <-c.done:
		return false
	}
}

// Send queues f for the server; frames queued together go out in one write.
func (c *Client) Send(ctx context.Context, f bus.Frame) error {
	fail := func(err error) error {
		c.txErrors.Add(1)
		return err
	}
	if err := f.Validate(); err != nil {
		return fail(err)
	}
	if f.FD && !c.caps.FD {
		return fail(bus.ErrNoFD)
	}
	if c.busOff.Load() {
		return fail(fmt.Errorf("emu: %w", bus.ErrBusOff))
	}
	select {
	case <-c.done:
		return bus.ErrClosed
	case <-c.broken:
		return fail(fmt.Errorf("emu: send: %w", bus.ErrUnplugged))
	default:
	}
	select {
	case c.tx <- f:
		c.txFrames.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return bus.ErrClosed
	case <-c.broken:
		return fail(fmt.Errorf("emu: send: %w", bus.ErrUnplugged))
	}
}

// writeLoop writes queued frames, batching what is queued, until Close; then it flushes.
func (c *Client) writeLoop() {
	defer close(c.wdone)
	var buf []byte
	flush := func() bool {
		if len(buf) == 0 {
			return true
		}
		_, err := c.conn.Write(buf)
		buf = buf[:0]
		if err != nil {
			c.breakOnce.Do(func() { close(c.broken) })
			return false
		}
		return true
	}
	add := func(f bus.Frame) { buf = AppendMessage(buf, c.stamped, &Message{Frame: f}) }
	for {
		select {
		case f := <-c.tx:
			add(f)
			for len(buf) < 32<<10 && len(c.tx) > 0 {
				add(<-c.tx)
			}
			if !flush() {
				return
			}
		case <-c.done:
			for len(c.tx) > 0 {
				add(<-c.tx)
			}
			flush()
			return
		}
	}
}

// Receive returns the next frame from the bus; a bus-off is reported as an error wrapping
// bus.ErrBusOff, a lost server as one wrapping bus.ErrUnplugged.
func (c *Client) Receive(ctx context.Context) (bus.Received, error) {
	select {
	case <-c.done:
		return bus.Received{}, bus.ErrClosed
	default:
	}
	select {
	case <-ctx.Done():
		return bus.Received{}, ctx.Err()
	case <-c.done:
		return bus.Received{}, bus.ErrClosed
	case it := <-c.rx:
		if it.err != nil {
			if errors.Is(it.err, bus.ErrUnplugged) {
				c.push(it) // stays failed for every later call
			}
			return bus.Received{}, it.err
		}
		c.rxFrames.Add(1)
		return it.r, nil
	}
}

// Stats returns the client's counters.
func (c *Client) Stats() bus.Stats {
	return bus.Stats{
		TxFrames: c.txFrames.Load(), TxErrors: c.txErrors.Load(),
		RxFrames: c.rxFrames.Load(), BusOff: c.busOffs.Load(),
	}
}

// Close sends what is queued and leaves the bus.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.done)
		c.conn.SetWriteDeadline(time.Now().Add(time.Second)) // a server that stopped reading
		<-c.wdone
		err = c.conn.Close()
	})
	return err
}
