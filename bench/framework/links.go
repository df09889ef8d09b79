package framework

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/bus/pty"
	"github.com/modbatt/hilrun/bus/slcan"
	"github.com/modbatt/hilrun/bus/slcan/adapter"
	"github.com/modbatt/hilrun/bus/socketcan"
	"github.com/modbatt/hilrun/bus/socketcand"
	"github.com/modbatt/hilrun/clock"
)

// link is how the bench reaches one bus of the rig, whatever its transport.
//
// Three shapes cover every transport:
//   - a wire: an in-process emulated bus every attachment joins (transport emulated,
//     optionally served at an address for other processes; and the bus behind an
//     emulated slcan adapter);
//   - a dialler: every attachment opens its own connection (SocketCAN sockets on can0 or
//     vcan0, clients of an emulated bus served by another process, socketcand clients);
//   - a hub: one serial adapter (slcan) the host side shares; an in-process bus fans the
//     adapter's frames out to the host's attachments and forwards theirs to the adapter.
//
// The host side (the app, the bench's probe) joins through the transport the rig names;
// emulated devices join the wire when there is one, so that on an emulated-adapter rig
// the app really speaks slcan to an adapter while the devices sit on the bus behind it.
type link struct {
	bus  rig.Bus
	wire *emu.Bus // in-process bus the devices are on, or nil
	hub  *emu.Bus // host side of a single-port adapter, or nil
	dial func(ctx context.Context, name string) (bus.Endpoint, error)

	mu      sync.Mutex
	closers []func() error // in reverse order at close
	wg      sync.WaitGroup
	cancel  context.CancelFunc
}

// InProcessBus reports whether bring-up runs bus b in this process (a wire: System.Bus has it,
// with its fault injection), which a spec can know before any bring-up.
func InProcessBus(b rig.Bus) bool {
	switch b.Transport.Kind {
	case rig.TransportEmulated:
		return b.Transport.Address == "" || b.Transport.Serve
	case rig.TransportSLCAN:
		return b.Transport.Port == rig.EmulatedAdapter
	}
	return false
}

// openLink attaches the bench to bus b.
func openLink(ctx context.Context, b rig.Bus, emuCfg func(rig.Bus) emu.Config, c clock.Clock, log *slog.Logger) (*link, error) {
	runCtx, cancel := context.WithCancel(context.Background())
	l := &link{bus: b, cancel: cancel}
	fail := func(err error) (*link, error) {
		return nil, errors.Join(fmt.Errorf("framework: bus %s (%s): %w", b.Name, b.Transport.Kind, err), l.close())
	}
	t := b.Transport
	switch t.Kind {
	case rig.TransportEmulated:
		if t.Address != "" && !t.Serve {
			l.dial = func(ctx context.Context, name string) (bus.Endpoint, error) {
				return emu.Dialer{Name: name}.Dial(ctx, t.Address)
			}
			return l, nil
		}
		w, err := emu.New(emuCfg(b))
		if err != nil {
			return fail(err)
		}
		l.wire = w
		l.onClose(w.Close)
		if t.Address != "" {
			a, err := emu.ParseAddress(t.Address)
			if err != nil {
				return fail(err)
			}
			ln, err := emu.Listen(runCtx, a)
			if err != nil {
				return fail(err)
			}
			srv := emu.NewServer(w, log)
			l.wg.Add(1)
			go func() { defer l.wg.Done(); _ = srv.Serve(runCtx, ln, a.Mode) }()
		}
		return l, nil

	case rig.TransportSocketCAN:
		if err := socketcan.KernelSupport(); err != nil {
			return fail(err)
		}
		opts := []socketcan.Option{socketcan.WithClock(c), socketcan.WithLogger(log)}
		if b.FD {
			opts = append(opts, socketcan.WithFD())
		}
		l.dial = func(ctx context.Context, name string) (bus.Endpoint, error) {
			ep, err := socketcan.Open(ctx, t.Interface, opts...)
			if err != nil {
				return nil, err
			}
			return ep, nil
		}
		return l, nil

	case rig.TransportSocketcand:
		l.dial = func(ctx context.Context, name string) (bus.Endpoint, error) {
			cn, err := socketcand.Dial(ctx, t.Host, t.Channel)
			if err != nil {
				return nil, err
			}
			return cn, nil
		}
		return l, nil

	case rig.TransportSLCAN:
		path := t.Port
		if t.Port == rig.EmulatedAdapter {
			// The bus behind the adapter is emulated; the adapter answers on a pty.
			w, err := emu.New(emuCfg(b))
			if err != nil {
				return fail(err)
			}
			l.wire = w
			l.onClose(w.Close)
			pair, err := pty.Open()
			if err != nil {
				return fail(err)
			}
			l.onClose(pair.Close)
			ad := adapter.New(w.Join("slcan-adapter"), adapter.Config{FD: b.FD, Clock: c, Logger: log})
			l.wg.Add(1)
			go func() { defer l.wg.Done(); _ = ad.ServePTY(runCtx, pair) }()
			path = pair.Path()
		}
		port, err := slcan.Open(ctx, path, slcan.Config{Bitrate: b.Bitrate, DataBitrate: dataBitrate(b),
			ListenOnly: t.ListenOnly, Baud: t.Baud, Clock: c, Logger: log})
		if err != nil {
			return fail(err)
		}
		hubCfg := emuCfg(b)
		hubCfg.Pacing = emu.AsFastAsPossible
		hub, err := emu.New(hubCfg)
		if err != nil {
			port.Close()
			return fail(err)
		}
		l.hub = hub
		l.onClose(hub.Close)
		l.onClose(port.Close)
		l.bridge(runCtx, port, hub.Join("adapter"))
		return l, nil
	}
	return fail(fmt.Errorf("%w: transport kind %q", ErrUnsupported, t.Kind))
}

func dataBitrate(b rig.Bus) int {
	if b.FD {
		return b.DataBitrate
	}
	return 0
}

// bridge copies frames both ways between a single-port adapter and the hub's endpoint
// that stands for it.
func (l *link) bridge(ctx context.Context, port, hubSide bus.Endpoint) {
	pump := func(from, to bus.Endpoint) {
		defer l.wg.Done()
		for {
			r, err := from.Receive(ctx)
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, bus.ErrClosed) {
					return
				}
				continue // bus-off and the like are the adapter's business
			}
			_ = to.Send(ctx, r.Frame) // a refused frame is lost, as on a real bus
		}
	}
	l.wg.Add(2)
	go pump(port, hubSide)
	go pump(hubSide, port)
	l.onClose(hubSide.Close)
}

func (l *link) onClose(f func() error) {
	l.mu.Lock()
	l.closers = append(l.closers, f)
	l.mu.Unlock()
}

// joinHost attaches the host side (the app, the probe) through the rig's transport.
func (l *link) joinHost(ctx context.Context, name string) (bus.Endpoint, error) {
	switch {
	case l.hub != nil:
		return l.hub.Join(name), nil
	case l.wire != nil:
		return l.wire.Join(name), nil
	}
	ep, err := l.dial(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("framework: join bus %s as %s: %w", l.bus.Name, name, err)
	}
	return ep, nil
}

// joinDevice attaches an emulated device: to the wire when the rig has one, otherwise as
// the host side does.
func (l *link) joinDevice(ctx context.Context, name string) (bus.Endpoint, error) {
	if l.wire != nil {
		return l.wire.Join(name), nil
	}
	return l.joinHost(ctx, name)
}

// record sends every frame the bus carries to r: a recorder on the in-process bus when
// there is one, otherwise an attachment of its own that hears every frame.
func (l *link) record(ctx context.Context, r emu.Recorder) error {
	switch {
	case l.wire != nil, l.hub != nil:
		b := l.wire
		if b == nil {
			b = l.hub
		}
		remove := b.AddRecorder(r)
		l.onClose(func() error { remove(); return nil })
		return nil
	}
	ep, err := l.dial(ctx, "bench-capture")
	if err != nil {
		return fmt.Errorf("framework: capture of bus %s: %w", l.bus.Name, err)
	}
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			rx, err := ep.Receive(rctx)
			if err != nil {
				if rctx.Err() != nil || errors.Is(err, bus.ErrClosed) {
					return
				}
				continue
			}
			_ = r.Record(rx)
		}
	}()
	l.onClose(func() error {
		stop()
		err := ep.Close()
		<-done
		if errors.Is(err, bus.ErrClosed) {
			return nil
		}
		return err
	})
	return nil
}

// close stops the bridges and releases everything the link opened, last first.
func (l *link) close() error {
	l.cancel()
	l.mu.Lock()
	cs := l.closers
	l.closers = nil
	l.mu.Unlock()
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- {
		if err := cs[i](); err != nil && !errors.Is(err, bus.ErrClosed) {
			errs = append(errs, err)
		}
	}
	l.wg.Wait()
	return errors.Join(errs...)
}
