package emu

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.einride.tech/can"
	"go.einride.tech/can/pkg/socketcan"

	"github.com/modbatt/hilrun/bus"
)

// serve starts a server for b on a fresh Unix socket and returns its address.
func serve(t testing.TB, b *Bus, mode Mode) (*Server, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "emu") // short: Unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	a := Address{Mode: mode, Network: "unix", Addr: filepath.Join(dir, "bus.sock")}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := Listen(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(b, slog.New(slog.DiscardHandler))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, mode) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return srv, a.String()
}

func dial(t testing.TB, addr, name string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dialer{Name: name}.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func receive(t testing.TB, ep bus.Endpoint) bus.Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := ep.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestMultiClientOverSocket(t *testing.T) {
	b := newBus(t, Config{Pacing: AsFastAsPossible, FD: true, Timing: bus.Timing{Nominal: 500_000, Data: 2_000_000}})
	_, addr := serve(t, b, Framed)
	local := b.Join("local")
	clients := []*Client{dial(t, addr, "c0"), dial(t, addr, "c1"), dial(t, addr, "c2")}
	waitFor(t, "clients to join", func() bool { return b.Endpoints() == 4 })
	if caps := clients[0].Capabilities(); !caps.FD || caps.Bitrate != 500_000 {
		t.Errorf("capabilities %+v", caps)
	}
	fd := bus.Frame{ID: 0x1ABCDEF, Extended: true, FD: true, BRS: true, Len: 64}
	fd.Data[63] = 0x5A
	send(t, clients[1], fd)
	first := receive(t, local)
	if first.Frame != fd {
		t.Fatalf("local got %v", first.Frame)
	}
	for _, i := range []int{0, 2} {
		if r := receive(t, clients[i]); r.Frame != first.Frame || !r.Time.Equal(first.Time) {
			t.Errorf("client %d got %v at %v, local %v at %v", i, r.Frame, r.Time, first.Frame, first.Time)
		}
	}
	send(t, local, std(0x42, 1))
	for i, c := range clients {
		if r := receive(t, c); r.Frame != std(0x42, 1) {
			t.Errorf("client %d got %v", i, r.Frame)
		}
	}
	// Names reach the server: a rule for c2 only.
	if _, err := b.AddFault(Fault{Kind: Drop, From: "c2"}); err != nil {
		t.Fatal(err)
	}
	send(t, clients[2], std(0x7))
	send(t, clients[0], std(0x8))
	if r := receive(t, local); r.Frame.ID != 0x8 {
		t.Errorf("local got %v", r.Frame)
	}
	if s := clients[1].Stats(); s.TxFrames != 1 || s.RxFrames != 1 {
		t.Errorf("client stats %+v", s)
	}
}

func TestArbitrationAcrossClients(t *testing.T) {
	b, sim := simBus(t, Config{})
	_, addr := serve(t, b, Framed)
	c1, c2 := dial(t, addr, "c1"), dial(t, addr, "c2")
	rx := b.Join("rx")
	waitFor(t, "clients", func() bool { return b.Endpoints() == 3 })
	send(t, c1, std(0x300))
	send(t, c2, std(0x100))
	// Both reach the bus before simulated time moves: they contend.
	waitFor(t, "frames queued", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		n := 0
		for _, ep := range b.eps {
			n += len(ep.txq)
		}
		return n == 2
	})
	got := collect(t, sim, rx, 2)
	if got[0].Frame.ID != 0x100 || got[1].Frame.ID != 0x300 {
		t.Errorf("order %v %v", got[0].Frame, got[1].Frame)
	}
}

func TestClientCrashAndMalformedInput(t *testing.T) {
	b := newBus(t, Config{Pacing: AsFastAsPossible})
	srv, addr := serve(t, b, Framed)
	good := dial(t, addr, "good")
	local := b.Join("local")
	path := addr[len("unix:"):]

	rawConn := func(t *testing.T, hello bool) net.Conn {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if hello {
			c.Write(AppendHello(nil, "raw"))
			if _, err := ReadWelcome(c); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	// 1. A client that dies halfway through a record.
	c := rawConn(t, true)
	rec := AppendMessage(nil, true, &Message{Frame: std(0x1, 1)})
	c.Write(rec[:13])
	c.Close()
	waitFor(t, "cut counted", func() bool { return srv.Stats().Cut == 1 })
	// 2. Garbage instead of a hello.
	c = rawConn(t, false)
	c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	if w, err := ReadWelcome(c); err != nil || w.Status != StatusBadHello {
		t.Errorf("welcome %+v %v", w, err)
	}
	// 3. A record with an impossible identifier, and an error record from a client.
	for _, bad := range []Message{{ErrClass: ErrClassBusOff}, {Frame: std(0x1)}} {
		c = rawConn(t, true)
		buf := AppendMessage(nil, true, &bad)
		if bad.ErrClass == 0 {
			buf[8+1] = 0x08 // standard ID 0x801
		}
		c.Write(buf)
	}
	waitFor(t, "malformed counted", func() bool { return srv.Stats().Malformed == 3 })
	waitFor(t, "bad clients dropped", func() bool { return b.Endpoints() == 2 })
	// 4. A client that speaks a future version is refused politely.
	c = rawConn(t, false)
	h := AppendHello(nil, "")
	h[4] = 9
	c.Write(h)
	if w, err := ReadWelcome(c); err != nil || w.Status != StatusBadVersion {
		t.Errorf("welcome %+v %v", w, err)
	}
	// The bus and the well-behaved client carry on.
	send(t, good, std(0x55, 5))
	if r := receive(t, local); r.Frame != std(0x55, 5) {
		t.Errorf("local got %v", r.Frame)
	}
	send(t, local, std(0x56))
	if r := receive(t, good); r.Frame != std(0x56) {
		t.Errorf("good got %v", r.Frame)
	}
}

func TestBusOffOverSocket(t *testing.T) {
	b := newBus(t, Config{Pacing: AsFastAsPossible, BusOffRecovery: 20 * time.Millisecond})
	_, addr := serve(t, b, Framed)
	c := dial(t, addr, "victim")
	waitFor(t, "join", func() bool { return b.Endpoints() == 1 })
	b.ForceBusOff("victim", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Receive(ctx); !errors.Is(err, bus.ErrBusOff) {
		t.Fatalf("receive: %v", err)
	}
	if err := c.Send(ctx, std(1)); !errors.Is(err, bus.ErrBusOff) {
		t.Errorf("send while bus-off: %v", err)
	}
	waitFor(t, "recovery", func() bool { return c.Send(ctx, std(1)) == nil })
	if s := c.Stats(); s.BusOff != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestServerGoneIsUnplugged(t *testing.T) {
	b := newBus(t, Config{Pacing: AsFastAsPossible})
	dir, _ := os.MkdirTemp("", "emu")
	defer os.RemoveAll(dir)
	a := Address{Network: "unix", Addr: filepath.Join(dir, "s")}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := Listen(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); NewServer(b, slog.New(slog.DiscardHandler)).Serve(ctx, ln, Framed) }()
	c := dial(t, a.String(), "")
	cancel()
	wg.Wait()
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	if _, err := c.Receive(rctx); !errors.Is(err, bus.ErrUnplugged) {
		t.Errorf("receive: %v", err)
	}
	if _, err := c.Receive(rctx); !errors.Is(err, bus.ErrUnplugged) {
		t.Errorf("second receive: %v", err)
	}
}

// TestEinrideReadsRawMode checks that the raw mode is the SocketCAN stream einride's socketcan
// package reads and writes.
func TestEinrideReadsRawMode(t *testing.T) {
	b := newBus(t, Config{Pacing: AsFastAsPossible})
	_, addr := serve(t, b, Raw)
	a, _ := ParseAddress(addr)
	conn, err := socketcan.DialContext(context.Background(), a.Network, a.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := b.Join("local")
	waitFor(t, "join", func() bool { return b.Endpoints() == 2 })

	tx := socketcan.NewTransmitter(conn)
	if err := tx.TransmitFrame(context.Background(), can.Frame{ID: 0x18FF0001, IsExtended: true, Length: 3, Data: can.Data{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	if r := receive(t, local); r.Frame != ext(0x18FF0001, 1, 2, 3) {
		t.Errorf("local got %v", r.Frame)
	}
	send(t, local, std(0x321, 9, 8))
	rx := socketcan.NewReceiver(conn)
	if !rx.Receive() {
		t.Fatal(rx.Err())
	}
	if f := rx.Frame(); f.ID != 0x321 || f.IsExtended || f.Length != 2 || f.Data[0] != 9 {
		t.Errorf("einride got %v", f)
	}
	b.mu.Lock()
	remote := b.eps[0]
	if remote == local {
		remote = b.eps[1]
	}
	b.mu.Unlock()
	b.ForceBusOff(remote.Name(), time.Hour)
	if !rx.Receive() || !rx.HasErrorFrame() {
		t.Fatal("no error frame for bus-off")
	}
	if ef := rx.ErrorFrame(); ef.ErrorClass != socketcan.ErrorClassBusOff {
		t.Errorf("error class %v", ef.ErrorClass)
	}
}

func TestParseAddress(t *testing.T) {
	for s, want := range map[string]Address{
		"unix:/tmp/x":          {Network: "unix", Addr: "/tmp/x"},
		"tcp:127.0.0.1:2900":   {Network: "tcp", Addr: "127.0.0.1:2900"},
		"raw+unix:/run/b.sock": {Mode: Raw, Network: "unix", Addr: "/run/b.sock"},
	} {
		if got, err := ParseAddress(s); err != nil || got != want || got.String() != s {
			t.Errorf("%q: %+v %v", s, got, err)
		}
	}
	for _, s := range []string{"", "udp:1", "unix:", "/tmp/x", "raw+tcp"} {
		if _, err := ParseAddress(s); !errors.Is(err, ErrBadAddress) {
			t.Errorf("%q: %v", s, err)
		}
	}
}
