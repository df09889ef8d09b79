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
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
)

// EndpointFactory gives a client its own endpoint on the bus it named in "< open NAME >". An
// error refuses the bus.
type EndpointFactory func(ctx context.Context, busName string) (bus.Endpoint, error)

// ServerStats are a server's counters since it was made.
type ServerStats struct {
	Accepted  uint64 // connections accepted
	Active    int64  // connections open now
	Dropped   uint64 // clients dropped for garbage, a broken element, or not reading
	Refused   uint64 // opens the factory refused
	FramesIn  uint64 // frames clients sent to the bus
	FramesOut uint64 // frames sent to clients
	BadSends  uint64 // send commands the bus or the parser refused (answered "< error … >")
}

// Server is a socketcand-compatible server in front of an EndpointFactory.
type Server struct {
	factory EndpointFactory
	log     *slog.Logger

	// Clock stamps frames whose endpoint gave no time; nil means clock.Real{}. Set it before
	// Serve.
	Clock clock.Clock
	// WriteTimeout is how long a client may leave the server's writes unread before it is
	// dropped; 0 means 5 s. Set it before Serve.
	WriteTimeout time.Duration

	accepted, dropped, refused, framesIn, framesOut, badSends atomic.Uint64
	active                                                    atomic.Int64
}

// NewServer makes a server; log nil means slog.Default().
func NewServer(factory EndpointFactory, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{factory: factory, log: log}
}

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	return ServerStats{
		Accepted:  s.accepted.Load(),
		Active:    s.active.Load(),
		Dropped:   s.dropped.Load(),
		Refused:   s.refused.Load(),
		FramesIn:  s.framesIn.Load(),
		FramesOut: s.framesOut.Load(),
		BadSends:  s.badSends.Load(),
	}
}

// Serve accepts clients on ln until ctx ends (then it closes ln and every client and returns
// nil) or ln fails. Each client runs on its own; one client's failure never stops another.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	var wg sync.WaitGroup
	defer func() {
		cancel() // a failed listener ends the clients too
		stop()
		wg.Wait()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("socketcand: accept: %w", err)
		}
		s.accepted.Add(1)
		s.active.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.active.Add(-1)
			s.handle(ctx, c)
		}()
	}
}

// session is one client.
type session struct {
	s    *Server
	c    net.Conn
	log  *slog.Logger
	wmu  sync.Mutex
	ep   bus.Endpoint
	raw  atomic.Bool
	out  []byte
	dead atomic.Bool
}

func (s *Server) handle(ctx context.Context, c net.Conn) {
	ss := &session{s: s, c: c, log: s.log.With("client", c.RemoteAddr().String())}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	var wg sync.WaitGroup
	defer func() {
		// Cancel first, so the forwarder takes the endpoint's closing as the end it is.
		cancel()
		stop()
		if ss.ep != nil {
			ss.ep.Close()
		}
		wg.Wait()
		c.Close()
	}()

	if !ss.send(&Message{Kind: KindHi}) {
		return
	}
	var sp Splitter
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			sp.Feed(buf[:n])
			for {
				elem, ok, gerr := sp.Next()
				if gerr != nil {
					ss.drop("garbage from client", gerr)
					return
				}
				if !ok {
					break
				}
				if !ss.command(ctx, elem, &wg) {
					return
				}
			}
		}
		if err != nil {
			switch {
			case ctx.Err() != nil || ss.dead.Load():
			case sp.Partial():
				ss.drop("client left in the middle of an element", err)
			case errors.Is(err, io.EOF):
				ss.log.Debug("socketcand: client left")
			default:
				ss.drop("read from client", err)
			}
			return
		}
	}
}

// drop logs and counts a client that broke the protocol or the connection.
func (ss *session) drop(why string, err error) {
	if ss.dead.Swap(true) {
		return
	}
	ss.s.dropped.Add(1)
	ss.log.Warn("socketcand: dropping client", "why", why, "err", err)
	ss.c.Close()
}

// send writes one element; false means the client is gone.
func (ss *session) send(m *Message) bool {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	var err error
	if ss.out, err = Append(ss.out[:0], m); err != nil {
		ss.log.Debug("socketcand: cannot write element", "err", err)
		return true
	}
	to := ss.s.WriteTimeout
	if to == 0 {
		to = 5 * time.Second
	}
	ss.c.SetWriteDeadline(time.Now().Add(to))
	if _, err := ss.c.Write(ss.out); err != nil {
		ss.drop("write to client", err)
		return false
	}
	return true
}

func (ss *session) replyError(text string) bool {
	return ss.send(&Message{Kind: KindError, Text: text})
}

// command executes one element; false ends the session.
func (ss *session) command(ctx context.Context, elem []byte, wg *sync.WaitGroup) bool {
	m, err := Parse(elem)
	if err != nil {
		ss.log.Debug("socketcand: bad element", "err", err)
		if isSendWord(elem) {
			ss.s.badSends.Add(1)
		}
		return ss.replyError("syntax error")
	}
	switch m.Kind {
	case KindEcho:
		return ss.send(&Message{Kind: KindEcho})
	case KindOpen:
		if ss.ep != nil {
			return ss.replyError("bus already open")
		}
		ep, err := ss.s.factory(ctx, m.Text)
		if err != nil {
			ss.s.refused.Add(1)
			ss.log.Info("socketcand: open refused", "bus", m.Text, "err", err)
			ss.replyError("could not open bus")
			return false
		}
		ss.ep = ep
		wg.Add(1)
		go func() {
			defer wg.Done()
			ss.forward(ctx)
		}()
		return ss.send(&Message{Kind: KindOK})
	case KindRawMode, KindBCMMode:
		if ss.ep == nil {
			return ss.replyError("no bus open")
		}
		ss.raw.Store(m.Kind == KindRawMode)
		return ss.send(&Message{Kind: KindOK})
	case KindSend:
		if ss.ep == nil {
			return ss.replyError("no bus open")
		}
		if err := ss.ep.Send(ctx, m.Frame); err != nil {
			ss.s.badSends.Add(1)
			if errors.Is(err, bus.ErrClosed) {
				return false
			}
			return ss.replyError("send failed")
		}
		ss.s.framesIn.Add(1)
		return true
	}
	return ss.replyError("unknown command")
}

func isSendWord(elem []byte) bool {
	for _, w := range []string{"< send ", "< sendrtr ", "< fdsend "} {
		if len(elem) >= len(w) && string(elem[:len(w)]) == w {
			return true
		}
	}
	return false
}

// forward sends the bus's frames to the client while it is in raw mode.
func (ss *session) forward(ctx context.Context) {
	clk := ss.s.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	for {
		r, err := ss.ep.Receive(ctx)
		if err != nil {
			if errors.Is(err, bus.ErrBusOff) {
				continue
			}
			if ctx.Err() == nil && !ss.dead.Load() {
				ss.log.Warn("socketcand: bus endpoint failed", "err", err)
				ss.replyError("bus gone")
				ss.c.Close()
			}
			return
		}
		if !ss.raw.Load() {
			continue
		}
		if r.Time.IsZero() {
			r.Time = clk.Now()
		}
		if !ss.send(&Message{Kind: KindFrame, Frame: r.Frame, Time: r.Time}) {
			return
		}
		ss.s.framesOut.Add(1)
	}
}
