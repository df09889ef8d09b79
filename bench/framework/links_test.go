package framework_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/bus/socketcand"
	"github.com/modbatt/hilrun/capture"
)

// serveEmu serves a fresh emulated bus on a Unix socket until the test ends.
func serveEmu(t *testing.T) string {
	t.Helper()
	b, err := emu.New(emu.Config{Timing: bus.Timing{Nominal: 500_000}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := emu.Address{Mode: emu.Framed, Network: "unix", Addr: filepath.Join(shortDir(t), "bus.sock")}
	ln, err := emu.Listen(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = emu.NewServer(b, nil).Serve(ctx, ln, emu.Framed) }()
	t.Cleanup(func() { cancel(); <-done; b.Close() })
	return a.String()
}

// serveSocketcand serves a socketcand endpoint on loopback in front of one emulated bus
// per channel name.
func serveSocketcand(t *testing.T, channels ...string) string {
	t.Helper()
	buses := map[string]*emu.Bus{}
	for _, c := range channels {
		b, err := emu.New(emu.Config{Timing: bus.Timing{Nominal: 500_000}})
		if err != nil {
			t.Fatal(err)
		}
		buses[c] = b
	}
	srv := socketcand.NewServer(func(_ context.Context, name string) (bus.Endpoint, error) {
		b, ok := buses[name]
		if !ok {
			return nil, fmt.Errorf("no bus %q", name)
		}
		return b.Join("socketcand"), nil
	}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		ln.Close()
		<-done
		for _, b := range buses {
			b.Close()
		}
	})
	return ln.Addr().String()
}

func shortDir(t *testing.T) string {
	t.Helper()
	// Unix socket paths are limited to about 100 bytes: t.TempDir's can be longer.
	d, err := os.MkdirTemp("", "hr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// TestTransports brings the emulated rig up with its buses reached through each transport
// that needs no kernel CAN, runs the seeds' flow on it and reads the captures back.
func TestTransports(t *testing.T) {
	if testing.Short() {
		t.Skip("brings the rig up once per transport")
	}
	cases := []struct {
		name string
		set  func(t *testing.T, r *rig.Rig)
		bus  bool // System.Bus has the in-process bus (fault injection)
	}{
		{"slcan-emulated-adapter", func(t *testing.T, r *rig.Rig) {
			r.Buses[0].Transport = rig.Transport{Kind: rig.TransportSLCAN, Port: rig.EmulatedAdapter}
		}, true},
		{"socketcand", func(t *testing.T, r *rig.Rig) {
			host := serveSocketcand(t, "can1", "can2")
			for i := range r.Buses {
				r.Buses[i].Transport = rig.Transport{Kind: rig.TransportSocketcand, Host: host, Channel: r.Buses[i].Name}
			}
		}, false},
		{"emulated-served-elsewhere", func(t *testing.T, r *rig.Rig) {
			for i := range r.Buses {
				r.Buses[i].Transport = rig.Transport{Kind: rig.TransportEmulated, Address: serveEmu(t)}
			}
		}, false},
		{"emulated-served-here", func(t *testing.T, r *rig.Rig) {
			a := "unix:" + filepath.Join(shortDir(t), "can2.sock")
			r.Buses[1].Transport = rig.Transport{Kind: rig.TransportEmulated, Address: a, Serve: true}
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := loadRig(t)
			tc.set(t, r)
			if ps := r.Validate(); len(ps) > 0 {
				t.Fatalf("rig: %v", ps)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			im := &framework.Images{OutDir: t.TempDir()}
			s, err := framework.Up(ctx, framework.Options{Rig: r, Name: tc.name, ReportDir: t.TempDir(), Images: im, ZeroCost: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Down()
			for _, m := range s.Modules {
				if _, ok := s.Reports[m.EntityID()]; !ok {
					t.Errorf("no boot report of %s reached the app", m.Name())
				}
			}
			if _, ok := s.Bus(r.Buses[1].Name); ok != tc.bus || framework.InProcessBus(r.Buses[1]) != tc.bus {
				t.Errorf("Bus(%s) in-process = %v, InProcessBus %v, want %v", r.Buses[1].Name, ok, framework.InProcessBus(r.Buses[1]), tc.bus)
			}
			flow(t, ctx, s)
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			if err := s.Down(); err != nil {
				t.Fatal(err)
			}
			checkCaptures(t, s, len(r.Buses))
			for _, p := range s.Captures() {
				rd, err := capture.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for {
					if _, err := rd.Next(); err != nil {
						break
					}
					n++
				}
				rd.Close()
				// Binding, pairing and a command for four modules take hundreds of frames.
				if n < 100 {
					t.Errorf("%s holds %d frames", filepath.Base(p), n)
				}
			}
		})
	}
}
