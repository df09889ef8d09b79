package socketcand

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/modbatt/hilrun/bus"
)

// Conn is a connection to a socketcand server in raw mode, as a bus.Endpoint.
type Conn struct {
	c   net.Conn
	log *slog.Logger
	rx  chan bus.Received

	wmu  sync.Mutex
	out  []byte
	done chan struct{}
	err  error // why the reader stopped; read after done
	stop atomic.Bool

	txFrames, rxFrames, txErrors, rxDropped atomic.Uint64
}

var (
	_ bus.Endpoint  = (*Conn)(nil)
	_ bus.Describer = (*Conn)(nil)
)

// Dial connects to the server at addr (host:port), opens busName and switches to raw mode.
func Dial(ctx context.Context, addr, busName string) (*Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("socketcand: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	var sp Splitter
	buf := make([]byte, 512)
	expect := func(want Kind) error {
		for {
			elem, ok, err := sp.Next()
			if err != nil {
				return err
			}
			if ok {
				m, err := Parse(elem)
				if err != nil {
					return err
				}
				if m.Kind == KindError {
					return fmt.Errorf("socketcand: server refused: %s", m.Text)
				}
				if m.Kind != want {
					return fmt.Errorf("%w: %q during the handshake", ErrMalformed, elem)
				}
				return nil
			}
			n, err := c.Read(buf)
			if n > 0 {
				sp.Feed(buf[:n])
				continue
			}
			if err != nil {
				return err
			}
		}
	}
	steps := []struct {
		say  *Message
		want Kind
	}{
		{nil, KindHi},
		{&Message{Kind: KindOpen, Text: busName}, KindOK},
		{&Message{Kind: KindRawMode}, KindOK},
	}
	for _, st := range steps {
		if st.say != nil {
			b, err := Append(nil, st.say)
			if err == nil {
				_, err = c.Write(b)
			}
			if err != nil {
				c.Close()
				return nil, fmt.Errorf("socketcand: handshake: %w", err)
			}
		}
		if err := expect(st.want); err != nil {
			c.Close()
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, fmt.Errorf("socketcand: handshake with %s: %w", addr, err)
		}
	}
	cn := &Conn{c: c, log: slog.Default(), rx: make(chan bus.Received, 1024), done: make(chan struct{})}
	go cn.readLoop(&sp)
	return cn, nil
}

func (cn *Conn) readLoop(sp *Splitter) {
	defer close(cn.done)
	buf := make([]byte, 4096)
	for {
		for {
			elem, ok, err := sp.Next()
			if err != nil {
				cn.fail(err)
				return
			}
			if !ok {
				break
			}
			m, err := Parse(elem)
			if err != nil {
				cn.rxDropped.Add(1)
				cn.log.Debug("socketcand: bad element from server", "err", err)
				continue
			}
			switch m.Kind {
			case KindFrame:
				select {
				case cn.rx <- bus.Received{Frame: m.Frame, Time: m.Time}:
					cn.rxFrames.Add(1)
				default:
					cn.rxDropped.Add(1)
				}
			case KindError:
				cn.log.Warn("socketcand: server reports an error", "text", m.Text)
			}
		}
		n, err := cn.c.Read(buf)
		if n > 0 {
			sp.Feed(buf[:n])
		}
		if err != nil {
			cn.fail(err)
			return
		}
	}
}

func (cn *Conn) fail(err error) {
	switch {
	case cn.stop.Load():
		cn.err = bus.ErrClosed
	case errors.Is(err, io.EOF):
		cn.err = fmt.Errorf("%w: socketcand server closed the connection", bus.ErrUnplugged)
	default:
		cn.err = fmt.Errorf("%w: %v", bus.ErrUnplugged, err)
	}
}

// Capabilities: socketcand carries FD and remote frames; the bitrate is not announced.
func (cn *Conn) Capabilities() bus.Capabilities { return bus.Capabilities{FD: true, Remote: true} }

// Send writes f as a send, sendrtr or fdsend element. The protocol has no acknowledgement:
// success means the server's socket took the bytes.
func (cn *Conn) Send(ctx context.Context, f bus.Frame) error {
	select {
	case <-cn.done:
		cn.txErrors.Add(1)
		return cn.err
	default:
	}
	cn.wmu.Lock()
	var err error
	cn.out, err = Append(cn.out[:0], &Message{Kind: KindSend, Frame: f})
	if err == nil {
		if dl, ok := ctx.Deadline(); ok {
			cn.c.SetWriteDeadline(dl)
		}
		_, err = cn.c.Write(cn.out)
		if err != nil {
			err = fmt.Errorf("%w: %v", bus.ErrUnplugged, err)
		}
	}
	cn.wmu.Unlock()
	if err != nil {
		cn.txErrors.Add(1)
		return err
	}
	cn.txFrames.Add(1)
	return nil
}

// Receive returns the next frame from the server.
func (cn *Conn) Receive(ctx context.Context) (bus.Received, error) {
	select {
	case r := <-cn.rx:
		return r, nil
	case <-ctx.Done():
		return bus.Received{}, ctx.Err()
	case <-cn.done:
		select {
		case r := <-cn.rx:
			return r, nil
		default:
			return bus.Received{}, cn.err
		}
	}
}

// Stats returns the connection's counters.
func (cn *Conn) Stats() bus.Stats {
	return bus.Stats{TxFrames: cn.txFrames.Load(), RxFrames: cn.rxFrames.Load(), TxErrors: cn.txErrors.Load(), RxDropped: cn.rxDropped.Load()}
}

// Close closes the connection.
func (cn *Conn) Close() error {
	if cn.stop.Swap(true) {
		<-cn.done
		return nil
	}
	err := cn.c.Close()
	<-cn.done
	return err
}
