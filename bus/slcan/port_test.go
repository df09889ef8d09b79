package slcan

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/pty"
)

// device is a scripted adapter on the master side of a pty.
type device struct {
	t      *testing.T
	pair   *pty.Pair
	answer func(line string) string // reply to a host line, terminator included

	mu   sync.Mutex
	seen []string
	wmu  sync.Mutex
}

func newDevice(t *testing.T, answer func(string) string) *device {
	t.Helper()
	p, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	d := &device{t: t, pair: p, answer: answer}
	t.Cleanup(func() { p.Close() })
	go d.run()
	return d
}

func (d *device) run() {
	var sp Splitter
	buf := make([]byte, 512)
	for {
		n, err := d.pair.Master.Read(buf)
		if err != nil {
			if pty.IsHangup(err) {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return
		}
		sp.Feed(buf[:n])
		for {
			tok, ok, _ := sp.Next()
			if !ok {
				break
			}
			line := string(tok.Line)
			d.mu.Lock()
			d.seen = append(d.seen, line)
			d.mu.Unlock()
			d.write(d.answer(line))
		}
	}
}

func (d *device) write(s string) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	d.pair.Master.Write([]byte(s))
}

func (d *device) lines() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.seen...)
}

// lawicel answers like a CANUSB: z/Z for transmits, BEL for C while closed.
func lawicel(line string) string {
	switch {
	case line == "C":
		return "\a"
	case strings.HasPrefix(line, "t"), strings.HasPrefix(line, "r"):
		return "z\r"
	case strings.HasPrefix(line, "T"), strings.HasPrefix(line, "R"):
		return "Z\r"
	case line == "V":
		return "V1013\r"
	case line == "N":
		return "NHIL1\r"
	case line == "F":
		return "F08\r"
	}
	return "\r"
}

func open(t *testing.T, d *device, cfg Config) *Port {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := Open(ctx, d.pair.Path(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestInitSequence(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"default", Config{}, []string{"", "C", "S6", "Z0", "O"}},
		{"fd listen stamped", Config{Bitrate: 1_000_000, DataBitrate: 2_000_000, ListenOnly: true, Timestamps: true},
			[]string{"", "C", "S8", "Y2", "Z1", "L"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDevice(t, lawicel)
			p := open(t, d, tc.cfg)
			if got := d.lines(); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("init sent %q, want %q", got, tc.want)
			}
			caps := p.Capabilities()
			if caps.FD != (tc.cfg.DataBitrate != 0) || !caps.Remote {
				t.Fatalf("capabilities %+v", caps)
			}
			p.Close()
			if got := d.lines(); got[len(got)-1] != "C" {
				t.Fatalf("Close did not send C: %q", got)
			}
		})
	}
}

func TestInitRefusedBitrate(t *testing.T) {
	d := newDevice(t, func(l string) string {
		if l == "S6" {
			return "\a"
		}
		return "\r"
	})
	_, err := Open(ctxT(t), d.pair.Path(), Config{})
	if !errors.Is(err, ErrDevice) {
		t.Fatalf("Open = %v, want ErrDevice", err)
	}
	if _, err := Open(ctxT(t), d.pair.Path(), Config{Bitrate: 750_000}); err == nil {
		t.Fatal("750k accepted")
	}
}

func TestSendReceive(t *testing.T) {
	d := newDevice(t, lawicel)
	p := open(t, d, Config{})
	ctx := ctxT(t)
	frames := []bus.Frame{
		frame(0x123, false, 0xAA, 0xBB),
		frame(0x1ABCDEF0, true, 1, 2, 3, 4, 5, 6, 7, 8),
		{ID: 0x7FF, Remote: true, Len: 3},
		{ID: 0x1FFFFFFF, Extended: true, Remote: true},
	}
	for _, f := range frames {
		if err := p.Send(ctx, f); err != nil {
			t.Fatalf("Send(%v): %v", f, err)
		}
	}
	got := d.lines()[5:]
	want := []string{"t1232AABB", "T1ABCDEF080102030405060708", "r7FF3", "R1FFFFFFF0"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("device saw %q", got)
	}
	// Received frames, one cut in the middle of a line and one with a CR LF ending.
	d.write("t1232AA")
	time.Sleep(20 * time.Millisecond)
	d.write("BB\rT1ABCDEF080102030405060708\r\nr7FF3\rR1FFFFFFF0\r")
	for _, want := range frames {
		r, err := p.Receive(ctx)
		if err != nil || r.Frame != want {
			t.Fatalf("Receive = %v, %v; want %v", r.Frame, err, want)
		}
	}
	if s := p.Stats(); s.TxFrames != 4 || s.RxFrames != 4 || s.TxErrors != 0 {
		t.Fatalf("stats %+v", s)
	}
	if v, err := p.Version(ctx); err != nil || v != "1013" {
		t.Fatalf("Version = %q, %v", v, err)
	}
	if n, err := p.Serial(ctx); err != nil || n != "HIL1" {
		t.Fatalf("Serial = %q, %v", n, err)
	}
	if st, err := p.Status(ctx); err != nil || st != StatusOverrun {
		t.Fatalf("Status = %v, %v", st, err)
	}
}

func TestSendErrors(t *testing.T) {
	d := newDevice(t, func(l string) string {
		if strings.HasPrefix(l, "t") {
			return "\a"
		}
		if strings.HasPrefix(l, "T") {
			return "" // the adapter swallows it
		}
		return "\r"
	})
	p := open(t, d, Config{ReplyTimeout: 200 * time.Millisecond})
	ctx := ctxT(t)
	if err := p.Send(ctx, frame(1, false)); !errors.Is(err, ErrDevice) {
		t.Fatalf("BEL: %v", err)
	}
	if err := p.Send(ctx, frame(1, true)); !errors.Is(err, ErrNoReply) {
		t.Fatalf("silence: %v", err)
	}
	// The lost reply does not shift later ones.
	if err := p.Send(ctx, frame(2, false)); !errors.Is(err, ErrDevice) {
		t.Fatalf("after silence: %v", err)
	}
	if err := p.Send(ctx, bus.Frame{ID: 1, FD: true}); !errors.Is(err, bus.ErrNoFD) {
		t.Fatalf("FD on classic: %v", err)
	}
	if err := p.Send(ctx, bus.Frame{ID: 0x800}); err == nil {
		t.Fatal("bad frame sent")
	}
	if s := p.Stats(); s.TxErrors != 5 || s.TxFrames != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestFDAndTimestamps(t *testing.T) {
	d := newDevice(t, lawicel)
	p := open(t, d, Config{DataBitrate: 2_000_000, Timestamps: true})
	ctx := ctxT(t)
	f := fdFrame(0x1FFFFFFF, true, true, 64)
	if err := p.Send(ctx, f); err != nil {
		t.Fatal(err)
	}
	if got := d.lines(); got[len(got)-1] != "B1FFFFFFFF"+hexCount(64) {
		t.Fatalf("device saw %q", got[len(got)-1])
	}
	d.write("d0019000102030405060708090A0B1234\rgarbage\rt1230EA5F\r")
	for _, want := range []bus.Frame{fdFrame(1, false, false, 12), frame(0x123, false)} {
		r, err := p.Receive(ctx)
		if err != nil || r.Frame != want {
			t.Fatalf("Receive = %v, %v; want %v", r.Frame, err, want)
		}
	}
	if s := p.Stats(); s.RxDropped != 1 {
		t.Fatalf("garbage line not counted: %+v", s)
	}
}

func TestUnplugged(t *testing.T) {
	d := newDevice(t, lawicel)
	p := open(t, d, Config{})
	ctx := ctxT(t)
	d.write("t1230\r")
	if r, err := p.Receive(ctx); err != nil || r.Frame != frame(0x123, false) {
		t.Fatalf("Receive = %v, %v", r.Frame, err)
	}
	d.pair.Close()
	if _, err := p.Receive(ctx); !errors.Is(err, bus.ErrUnplugged) {
		t.Fatalf("Receive after unplug: %v", err)
	}
	if err := p.Send(ctx, frame(1, false)); !errors.Is(err, bus.ErrUnplugged) {
		t.Fatalf("Send after unplug: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestClosed(t *testing.T) {
	d := newDevice(t, lawicel)
	p := open(t, d, Config{})
	ctx := ctxT(t)
	errc := make(chan error, 1)
	go func() {
		_, err := p.Receive(ctx)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("Receive across Close: %v", err)
	}
	if err := p.Send(ctx, frame(1, false)); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
