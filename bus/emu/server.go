package emu

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modbatt/hilrun/bus"
)

// Mode is the wire mode of a listener.
type Mode int

const (
	// Framed: hello/welcome, then timestamped records.
	Framed Mode = iota
	// Raw: bare SocketCAN records, as einride's socketcan package reads and writes them.
	Raw
)

func (m Mode) String() string {
	if m == Raw {
		return "raw"
	}
	return "framed"
}

// ErrBadAddress is wrapped by errors about a listen or dial address.
var ErrBadAddress = errors.New("emu: bad address")

// Address is a parsed "[raw+]unix:PATH" or "[raw+]tcp:HOST:PORT".
type Address struct {
	Mode    Mode
	Network string // "unix" or "tcp"
	Addr    string
}

func (a Address) String() string {
	p := ""
	if a.Mode == Raw {
		p = "raw+"
	}
	return p + a.Network + ":" + a.Addr
}

// ParseAddress reads an address of the form [raw+]unix:PATH or [raw+]tcp:HOST:PORT. TCP is
// meant for loopback; the server does not refuse other hosts, the caller chooses.
func ParseAddress(s string) (Address, error) {
	var a Address
	rest := s
	if r, ok := strings.CutPrefix(rest, "raw+"); ok {
		a.Mode, rest = Raw, r
	}
	network, addr, ok := strings.Cut(rest, ":")
	if !ok || addr == "" || (network != "unix" && network != "tcp") {
		return Address{}, fmt.Errorf("%w %q: want [raw+]unix:PATH or [raw+]tcp:HOST:PORT", ErrBadAddress, s)
	}
	a.Network, a.Addr = network, addr
	return a, nil
}

// Listen opens a listener for a; a stale Unix socket file at the path is removed first.
func Listen(ctx context.Context, a Address) (net.Listener, error) {
	if a.Network == "unix" {
		if fi, err := os.Lstat(a.Addr); err == nil && fi.Mode()&os.ModeSocket != 0 {
			if c, err := net.Dial("unix", a.Addr); err == nil {
				c.Close()
				return nil, fmt.Errorf("emu: %s is in use by another server", a.Addr)
			}
			os.Remove(a.Addr)
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, a.Network, a.Addr)
	if err != nil {
		return nil, fmt.Errorf("emu: listen %s: %w", a, err)
	}
	return ln, nil
}

// ServerStats are a server's connection counters.
type ServerStats struct {
	Accepted  uint64 // connections accepted
	Active    int64  // connections open now
	Malformed uint64 // connections dropped for bad bytes (hello or records)
	Cut       uint64 // connections that ended inside a record
}

// Server exposes a bus to other processes. One Server may serve several listeners.
type Server struct {
	b   *Bus
	log *slog.Logger

	accepted, malformed, cut atomic.Uint64
	active                   atomic.Int64
	seq                      atomic.Uint64
}

// NewServer serves b; log nil means the bus's logger.
func NewServer(b *Bus, log *slog.Logger) *Server {
	if log == nil {
		log = b.log
	}
	return &Server{b: b, log: log}
}

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	return ServerStats{
		Accepted: s.accepted.Load(), Active: s.active.Load(),
		Malformed: s.malformed.Load(), Cut: s.cut.Load(),
	}
}

// Serve accepts clients on ln in the given mode until ctx ends (then it closes ln and every
// connection it accepted, and returns nil) or ln fails.
func (s *Server) Serve(ctx context.Context, ln net.Listener, mode Mode) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("emu: accept: %w", err)
		}
		s.accepted.Add(1)
		conns.Add(1)
		go func() {
			defer conns.Done()
			s.handle(ctx, c, mode)
		}()
	}
}

// EndpointFactory returns a function that joins the bus once per call; other servers (a
// socketcand bridge, say) use it to give each of their clients an endpoint.
func (s *Server) EndpointFactory(prefix string) func() (bus.Endpoint, error) {
	return func() (bus.Endpoint, error) {
		s.b.mu.Lock()
		closed := s.b.closed
		s.b.mu.Unlock()
		if closed {
			return nil, bus.ErrClosed
		}
		return s.b.Join(fmt.Sprintf("%s-%d", prefix, s.seq.Add(1))), nil
	}
}

func (s *Server) handle(ctx context.Context, c net.Conn, mode Mode) {
	s.active.Add(1)
	defer s.active.Add(-1)
	defer c.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	br := bufio.NewReaderSize(c, 32<<10)
	name := fmt.Sprintf("%s-%d", mode, s.seq.Add(1))
	if mode == Framed {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		v, n, err := ReadHello(br)
		w := Welcome{Version: WireVersion, FD: s.b.cfg.FD, Nominal: uint32(s.b.cfg.Timing.Nominal), Data: uint32(s.b.cfg.Timing.Data)}
		switch {
		case err != nil:
			s.malformed.Add(1)
			s.log.Warn("emu: bad hello, client dropped", "remote", remoteName(c), "err", err)
			w.Status = StatusBadHello
		case v != WireVersion:
			s.log.Warn("emu: client speaks another wire version", "remote", remoteName(c), "version", v)
			w.Status = StatusBadVersion
		}
		if _, werr := c.Write(AppendWelcome(nil, w)); werr != nil || w.Status != StatusOK {
			return
		}
		c.SetDeadline(time.Time{})
		if n != "" {
			name = n
		}
	}
	ep := s.b.Join(name)
	defer ep.Close()
	s.log.Debug("emu: client joined", "endpoint", name, "mode", mode)

	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		if err := s.writeLoop(ctx, c, ep, mode == Framed); ctx.Err() == nil {
			s.log.Debug("emu: write to client failed", "endpoint", name, "err", err)
		}
	}()
	rd := NewReader(br, mode == Framed)
	for {
		m, err := rd.Next()
		if err != nil {
			switch {
			case ctx.Err() != nil:
			case errors.Is(err, io.EOF):
				s.log.Debug("emu: client left", "endpoint", name)
			case errors.Is(err, io.ErrUnexpectedEOF):
				s.cut.Add(1)
				s.log.Warn("emu: client left inside a record, dropped", "endpoint", name, "err", err)
			case errors.Is(err, ErrMalformed):
				s.malformed.Add(1)
				s.log.Warn("emu: malformed input, client dropped", "endpoint", name, "err", err)
			default:
				s.log.Debug("emu: read from client failed", "endpoint", name, "err", err)
			}
			break
		}
		if m.ErrClass != 0 {
			s.malformed.Add(1)
			s.log.Warn("emu: client sent an error record, dropped", "endpoint", name, "class", m.ErrClass)
			break
		}
		if err := ep.Send(ctx, m.Frame); err != nil {
			if ctx.Err() != nil || errors.Is(err, bus.ErrClosed) {
				break
			}
			// Bus-off (the client hears of it through an error record) or an FD frame on a
			// classic bus: counted in the endpoint's TxErrors, the connection stays.
			s.log.Debug("emu: frame from client refused", "endpoint", name, "err", err)
		}
	}
	cancel()
	<-done
}

// writeLoop sends the endpoint's frames and controller events, batching what is queued, until
// it fails or ctx ends.
func (s *Server) writeLoop(ctx context.Context, c net.Conn, ep *Endpoint, stamped bool) error {
	bw := bufio.NewWriterSize(c, 32<<10)
	var buf []byte
	put := func(r bus.Received, ev event) error {
		m := Message{Time: r.Time, Frame: r.Frame}
		switch ev.kind {
		case evBusOff:
			m = Message{Time: s.b.clk.Now(), ErrClass: ErrClassBusOff}
		case evRestarted:
			m = Message{Time: s.b.clk.Now(), ErrClass: ErrClassRestarted}
		}
		buf = AppendMessage(buf[:0], stamped, &m)
		_, err := bw.Write(buf)
		return err
	}
	for {
		r, ev, err := ep.next(ctx)
		if err != nil {
			return err
		}
		if err := put(r, ev); err != nil {
			return err
		}
		for bw.Buffered() < 24<<10 {
			r, ev, ok := ep.tryNext()
			if !ok {
				break
			}
			if err := put(r, ev); err != nil {
				return err
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
	}
}

func remoteName(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil && a.String() != "" && a.String() != "@" {
		return a.String()
	}
	return c.LocalAddr().String()
}
