package socketcand

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/bustest"
)

type serverRig struct {
	srv  *Server
	addr string
	hub  *bustest.Hub
	peer *bustest.Endpoint
	stop func() // stops the server and waits for Serve
}

// newServer serves a hub as bus "can0"; any other name is refused.
func newServer(t testing.TB) *serverRig {
	t.Helper()
	h := bustest.NewHub(500_000)
	r := &serverRig{hub: h, peer: h.Join()}
	r.srv = NewServer(func(ctx context.Context, name string) (bus.Endpoint, error) {
		if name != "can0" {
			return nil, fmt.Errorf("no bus %q", name)
		}
		return h.Join(), nil
	}, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.srv.Serve(ctx, ln) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(r.stop)
	return r
}

// raw is a hand-driven client.
type raw struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func (r *serverRig) dialRaw(t testing.TB) *raw {
	t.Helper()
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &raw{t, c, bufio.NewReader(c)}
}

func (c *raw) say(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatal(err)
	}
}

// expect reads one element and compares it; a prefix ending in "*" matches any tail.
func (c *raw) expect(want string) {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(3 * time.Second))
	got, err := c.br.ReadString('>')
	if err != nil {
		c.t.Fatalf("reading for %q: got %q, %v", want, got, err)
	}
	if p, ok := strings.CutSuffix(want, "*"); ok && strings.HasPrefix(got, p) {
		return
	}
	if got != want {
		c.t.Fatalf("server sent %q, want %q", got, want)
	}
}

func (c *raw) expectEOF() {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if b, err := c.br.ReadString('>'); err == nil {
		c.t.Fatalf("still talking: %q", b)
	}
}

func TestSession(t *testing.T) {
	r := newServer(t)
	c := r.dialRaw(t)
	ctx := context.Background()
	c.expect("< hi >")
	c.say("< echo >")
	c.expect("< echo >")
	c.say("< send 123 0 >")
	c.expect("< error no bus open >")
	c.say("< open can0 >")
	c.expect("< ok >")
	// BCM mode: sends work, frames are not forwarded.
	c.say("< send 123 2 AA BB >")
	if got, err := r.peer.Receive(ctx); err != nil || got.Frame.String() != "123#AABB" {
		t.Fatalf("peer got %v, %v", got.Frame, err)
	}
	c.say("< subscribe 0 0 123 >")
	c.expect("< error unknown command >")
	c.say("< rawmode >")
	c.expect("< ok >")
	r.peer.Send(ctx, fr(0x321, false, 1, 2, 3))
	c.expect("< frame 321 *")
	r.peer.Send(ctx, fr(0x1ABCDEF0, true))
	c.expect("< frame 1ABCDEF0 *")
	r.peer.Send(ctx, bus.Frame{ID: 0x10, Remote: true, Len: 8})
	c.expect("< rtr 010 *")
	fd := bus.Frame{ID: 0x18FF0040, Extended: true, FD: true, BRS: true, Len: 16}
	r.peer.Send(ctx, fd)
	c.expect("< fdframe 18FF0040 05 *")
	c.say("< sendrtr 7FF 3 >< send 1ABCDE 3 a b c >< fdsend 00000040 1 16 " + strings.Repeat("0 ", 16) + ">")
	for _, want := range []string{"7FF#R3", "001ABCDE#0A0B0C", "00000040##1" + strings.Repeat("00", 16)} {
		if got, err := r.peer.Receive(ctx); err != nil || got.Frame.String() != want {
			t.Fatalf("peer got %v, %v; want %s", got.Frame, err, want)
		}
	}
	c.say("< send 123 9 >")
	c.expect("< error syntax error >")
	c.say("< bcmmode >")
	c.expect("< ok >")
	c.say("< echo >")
	c.expect("< echo >")
	if s := r.srv.Stats(); s.FramesIn != 4 || s.FramesOut != 4 || s.BadSends != 1 || s.Dropped != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestOpenRefused(t *testing.T) {
	r := newServer(t)
	c := r.dialRaw(t)
	c.expect("< hi >")
	c.say("< open vcan9 >")
	c.expect("< error could not open bus >")
	c.expectEOF()
	if s := r.srv.Stats(); s.Refused != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// Garbage, or a client vanishing mid-element, drops that client only.
func TestBadClientsDropped(t *testing.T) {
	r := newServer(t)
	ctx := context.Background()
	good, err := Dial(ctx, r.addr, "can0")
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()

	junk := r.dialRaw(t)
	junk.expect("< hi >")
	junk.say("GET / HTTP/1.1\r\n\r\n")
	junk.expectEOF()

	half := r.dialRaw(t)
	half.expect("< hi >")
	half.say("< open can0 >< rawmode >< send 123 4 11 2")
	half.expect("< ok >")
	half.expect("< ok >")
	half.c.Close()

	huge := r.dialRaw(t)
	huge.expect("< hi >")
	huge.say("< " + strings.Repeat("A", 2*MaxElement))
	huge.expectEOF()

	waitFor(t, func() bool { return r.srv.Stats().Dropped == 3 })
	// The good client still works both ways.
	if err := good.Send(ctx, fr(0x55, false, 5)); err != nil {
		t.Fatal(err)
	}
	if got, err := r.peer.Receive(ctx); err != nil || got.Frame.String() != "055#05" {
		t.Fatalf("peer got %v, %v", got.Frame, err)
	}
	r.peer.Send(ctx, fr(0x66, false, 6))
	if got, err := good.Receive(ctx); err != nil || got.Frame.String() != "066#06" {
		t.Fatalf("good client got %v, %v", got.Frame, err)
	}
}

func TestDialRoundTrip(t *testing.T) {
	r := newServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := Dial(ctx, r.addr, "can0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Dial(ctx, r.addr, "can0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Dial(ctx, r.addr, "can7"); err == nil || !strings.Contains(err.Error(), "could not open bus") {
		t.Fatalf("Dial to a refused bus: %v", err)
	}
	fd := bus.Frame{ID: 0x1FFFFFFF, Extended: true, FD: true, BRS: true, ESI: true, Len: 64}
	for i := range 64 {
		fd.Data[i] = byte(255 - i)
	}
	frames := []bus.Frame{fr(0x123, false, 1, 2), fr(0x1ABCDEF0, true, 1, 2, 3, 4, 5, 6, 7, 8), fr(0x7FF, false),
		{ID: 0x100, Remote: true, Len: 5}, {ID: 0x1, Extended: true, Remote: true}, fd}
	for _, f := range frames {
		if err := a.Send(ctx, f); err != nil {
			t.Fatal(err)
		}
		got, err := b.Receive(ctx)
		if err != nil || got.Frame != f {
			t.Fatalf("b got %v, %v; want %v", got.Frame, err, f)
		}
		if got.Time.IsZero() {
			t.Fatal("no time on a received frame")
		}
	}
	b.Close()
	if err := b.Send(ctx, frames[0]); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	// Server going away is an unplug for the client.
	r.stop()
	if _, err := a.Receive(context.Background()); !errors.Is(err, bus.ErrUnplugged) {
		t.Fatalf("Receive after server stop: %v", err)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for range 400 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("condition not reached in 2 s")
}

// failingListener accepts one connection, then fails once fail is closed.
type failingListener struct {
	net.Listener
	n    int
	fail chan struct{}
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.n++; l.n > 1 {
		<-l.fail
		return nil, errors.New("listener broke")
	}
	return l.Listener.Accept()
}

// A failed listener ends Serve with its error and takes the clients down with it.
func TestServeListenerFails(t *testing.T) {
	h := bustest.NewHub(0)
	srv := NewServer(func(context.Context, string) (bus.Endpoint, error) { return h.Join(), nil }, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	fail := make(chan struct{})
	go func() { done <- srv.Serve(context.Background(), &failingListener{Listener: ln, fail: fail}) }()
	c, err := Dial(t.Context(), ln.Addr().String(), "can0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	close(fail)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Serve returned nil after its listener failed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve hung with a client connected")
	}
	if _, err := c.Receive(t.Context()); !errors.Is(err, bus.ErrUnplugged) {
		t.Fatalf("client after server end: %v", err)
	}
	ln.Close()
}
