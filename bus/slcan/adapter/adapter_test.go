package adapter

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/bustest"
	"github.com/modbatt/hilrun/bus/pty"
)

// rig is an adapter serving a pty, bridged to a hub with one more member, peer.
type rig struct {
	pair *pty.Pair
	ad   *Adapter
	peer *bustest.Endpoint
}

func newRig(t testing.TB, cfg Config) *rig {
	t.Helper()
	h := bustest.NewHub(500_000)
	r := &rig{peer: h.Join()}
	var err error
	if r.pair, err = pty.Open(); err != nil {
		t.Fatal(err)
	}
	r.ad = New(h.Join(), cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.ad.ServePTY(ctx, r.pair) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServePTY: %v", err)
		}
		r.pair.Close()
	})
	return r
}

// host is the test's end of the serial port.
type host struct {
	t *testing.T
	f *os.File
}

func (r *rig) host(t *testing.T) *host {
	t.Helper()
	f, err := os.OpenFile(r.pair.Path(), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &host{t, f}
}

// expect reads exactly len(want) bytes and compares.
func (h *host) expect(want string) {
	h.t.Helper()
	h.f.SetReadDeadline(time.Now().Add(2 * time.Second))
	got := make([]byte, 0, len(want))
	buf := make([]byte, len(want))
	for len(got) < len(want) {
		n, err := h.f.Read(buf[:len(want)-len(got)])
		if err != nil {
			h.t.Fatalf("read %q so far, want %q: %v", got, want, err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != want {
		h.t.Fatalf("adapter sent %q, want %q", got, want)
	}
}

func (h *host) say(s string) {
	h.t.Helper()
	if _, err := h.f.Write([]byte(s)); err != nil {
		h.t.Fatal(err)
	}
}

// A conversation with golden bytes: command, reply.
func TestConversation(t *testing.T) {
	r := newRig(t, Config{})
	h := r.host(t)
	for _, step := range [][2]string{
		{"V\r", "V1013\r"},
		{"v\r", "vhilrun-slcan\r"},
		{"N\r", "NHIL0\r"},
		{"\r", "\r"},
		{"F\r", "\a"},           // status needs an open channel
		{"t1230\r", "\a"},       // so does a transmit
		{"C\r", "\a"},           // already closed
		{"X\r", "\a"},           // unknown command
		{"t12\r", "\a"},         // malformed
		{"Y2\r", "\a"},          // no FD on this adapter
		{"S6\r", "\r"},          //
		{"s031C\r", "\r"},       // custom timing: taken as matching
		{"S6\r", "\r"},          //
		{"Z0\r", "\r"},          //
		{"M00000000\r", "\r"},   //
		{"mFFFFFFFF\r", "\r"},   //
		{"O\r", "\r"},           //
		{"O\r", "\a"},           // already open
		{"S5\r", "\a"},          // no configuration while open
		{"Z1\r", "\a"},          //
		{"t1232AABB\r", "z\r"},  //
		{"T1ABCDEF00\r", "Z\r"}, //
		{"r7FF8\r", "z\r"},      //
		{"d1230\r", "\a"},       // FD refused
		{"F\r", "F00\r"},        //
		{"C\r", "\r"},           //
	} {
		h.say(step[0])
		h.expect(step[1])
	}
	ctx := context.Background()
	for _, want := range []string{"123#AABB", "1ABCDEF0#", "7FF#R8"} {
		got, err := r.peer.Receive(ctx)
		if err != nil || got.Frame.String() != want {
			t.Fatalf("peer got %v, %v; want %s", got.Frame, err, want)
		}
	}
	if s := r.ad.Stats(); s.ToBus != 3 || s.Refused != 10 {
		t.Fatalf("stats %+v", s)
	}
}

func TestFramesToHost(t *testing.T) {
	r := newRig(t, Config{FD: true, CRAcks: true})
	h := r.host(t)
	ctx := context.Background()
	// Closed: the adapter hears the bus but tells the host nothing.
	r.peer.Send(ctx, bus.Frame{ID: 0x100, Len: 1})
	waitFor(t, func() bool { return r.ad.Stats().Dropped == 1 })
	h.say("Y2\rO\r")
	h.expect("\r\r")
	f := bus.Frame{ID: 0x1FFFFFFF, Extended: true, FD: true, BRS: true, Len: 12}
	f.Data[11] = 0xEE
	for _, fr := range []bus.Frame{{ID: 0x123, Len: 2, Data: [64]byte{0xAA, 0xBB}}, {ID: 0x10, Extended: true, Remote: true, Len: 2}, f} {
		if err := r.peer.Send(ctx, fr); err != nil {
			t.Fatal(err)
		}
	}
	h.expect("t1232AABB\rR000000102\rB1FFFFFFF9" + strings.Repeat("00", 11) + "EE\r")
	h.say("b1231FF\r")
	h.expect("\r") // CANable-style acknowledgement
	if got, err := r.peer.Receive(ctx); err != nil || got.Frame.String() != "123##1FF" {
		t.Fatalf("peer got %v, %v", got.Frame, err)
	}
	h.say("C\rZ1\rO\r")
	h.expect("\r\r\r")
	r.peer.Send(ctx, bus.Frame{ID: 0x7FF})
	line := make([]byte, 9)
	h.f.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := h.f.Read(line); err != nil || n < 9 || !strings.HasPrefix(string(line), "t7FF0") || line[8] == '\r' {
		t.Fatalf("stamped frame: %q, %v", line[:n], err)
	}
}

func TestListenOnlyAndBitrateMismatch(t *testing.T) {
	r := newRig(t, Config{})
	h := r.host(t)
	h.say("L\rt1230\rF\rC\r")
	h.expect("\r\aF00\r\r")
	// 250k on a 500k bus: the channel opens, hears nothing and cannot send.
	h.say("S5\rO\r")
	h.expect("\r\r")
	r.peer.Send(context.Background(), bus.Frame{ID: 1})
	h.say("t0010\rF\r")
	h.expect("\aFA0\r")
}

// A host that goes away and comes back finds the adapter still answering.
func TestHostReopens(t *testing.T) {
	r := newRig(t, Config{})
	h := r.host(t)
	h.say("O\r")
	h.expect("\r")
	h.f.Close()
	for range 50 {
		r.peer.Send(context.Background(), bus.Frame{ID: 0x42, Len: 8})
	}
	time.Sleep(50 * time.Millisecond)
	h = r.host(t)
	h.say("C\rV\r")
	// Frames may have been queued before the adapter noticed the hangup; skip to the replies.
	h.f.SetReadDeadline(time.Now().Add(2 * time.Second))
	var got []byte
	buf := make([]byte, 256)
	for !strings.HasSuffix(string(got), "\rV1013\r") {
		n, err := h.f.Read(buf)
		if err != nil {
			t.Fatalf("after reopen read %q: %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
	if s := r.ad.Stats(); s.HostDetach != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("condition not reached in 1 s")
}

// Serve on a plain stream ends at EOF and leaves nothing running.
func TestServeEndsAtEOF(t *testing.T) {
	h := bustest.NewHub(500_000)
	ad := New(h.Join(), Config{})
	var out strings.Builder
	rw := struct {
		io.Reader
		io.Writer
	}{strings.NewReader("V\rS6\rO\rt1230\r"), &out}
	done := make(chan error, 1)
	go func() { done <- ad.Serve(context.Background(), rw) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return at EOF")
	}
	if out.String() != "V1013\r\r\rz\r" {
		t.Fatalf("replies %q", out.String())
	}
}

// When the bus endpoint goes away (the emulated bus server stopped), ServePTY ends with its error.
func TestServeEndsWhenBusFails(t *testing.T) {
	h := bustest.NewHub(500_000)
	ep := h.Join()
	pair, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer pair.Close()
	done := make(chan error, 1)
	go func() { done <- New(ep, Config{}).ServePTY(context.Background(), pair) }()
	ep.Close()
	select {
	case err := <-done:
		if !errors.Is(err, bus.ErrClosed) {
			t.Fatalf("ServePTY = %v, want the endpoint's ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServePTY kept running without a bus")
	}
}
