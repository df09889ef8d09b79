package adapter

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/slcan"
)

// Our slcan transport drives our adapter over a pty: both sides of the protocol agree.
func TestTransportAgainstAdapter(t *testing.T) {
	for _, tc := range []struct {
		name string
		ad   Config
		port slcan.Config
	}{
		{"lawicel acks", Config{}, slcan.Config{}},
		{"canable fd", Config{FD: true, CRAcks: true}, slcan.Config{DataBitrate: 2_000_000, Timestamps: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.ad)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			p, err := slcan.Open(ctx, r.pair.Path(), tc.port)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if v, err := p.Version(ctx); err != nil || v != "1013" {
				t.Fatalf("Version = %q, %v", v, err)
			}
			frames := []bus.Frame{
				{ID: 0x123, Len: 3, Data: [64]byte{1, 2, 3}},
				{ID: 0x1ABCDEF0, Extended: true, Len: 8, Data: [64]byte{8, 7, 6, 5, 4, 3, 2, 1}},
				{ID: 0x7FF, Remote: true, Len: 2},
				{ID: 0, Extended: true},
			}
			if tc.ad.FD {
				fd := bus.Frame{ID: 0x18FF0040, Extended: true, FD: true, BRS: true, Len: 64}
				for i := range 64 {
					fd.Data[i] = byte(i * 3)
				}
				frames = append(frames, fd, bus.Frame{ID: 0x55, FD: true, Len: 20})
			}
			for _, f := range frames {
				if err := p.Send(ctx, f); err != nil {
					t.Fatalf("Send(%v): %v", f, err)
				}
				got, err := r.peer.Receive(ctx)
				if err != nil || got.Frame != f {
					t.Fatalf("peer got %v, %v; want %v", got.Frame, err, f)
				}
				if err := r.peer.Send(ctx, f); err != nil {
					t.Fatal(err)
				}
				rcv, err := p.Receive(ctx)
				if err != nil || rcv.Frame != f {
					t.Fatalf("port got %v, %v; want %v", rcv.Frame, err, f)
				}
			}
			if !tc.ad.FD {
				if err := p.Send(ctx, bus.Frame{ID: 1, FD: true}); !errors.Is(err, bus.ErrNoFD) {
					t.Fatalf("FD on a classic port: %v", err)
				}
			}
			st, err := p.Status(ctx)
			if err != nil || st != 0 {
				t.Fatalf("Status = %v, %v", st, err)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			// Close sent C: the adapter is closed again and refuses a transmit.
			waitFor(t, func() bool {
				r.ad.mu.Lock()
				defer r.ad.mu.Unlock()
				return !r.ad.open
			})
		})
	}
}

// Unplugging the adapter (its pty master closes) surfaces as bus.ErrUnplugged.
func TestTransportSeesUnplug(t *testing.T) {
	r := newRig(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := slcan.Open(ctx, r.pair.Path(), slcan.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r.pair.Close()
	if _, err := p.Receive(ctx); !errors.Is(err, bus.ErrUnplugged) {
		t.Fatalf("Receive after unplug: %v", err)
	}
}

// BenchmarkRoundTrip is one frame from the transport through the pty and the adapter to a
// peer on the bus, acknowledgement included.
func BenchmarkRoundTrip(b *testing.B) {
	r := newRig(b, Config{})
	ctx := context.Background()
	p, err := slcan.Open(ctx, r.pair.Path(), slcan.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	f := bus.Frame{ID: 0x1ABCDEF0, Extended: true, Len: 8}
	for b.Loop() {
		if err := p.Send(ctx, f); err != nil {
			b.Fatal(err)
		}
		if _, err := r.peer.Receive(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
