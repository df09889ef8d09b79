package pack

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/canid"
)

// Device is the pack controller: the legacy pack firmware on CAN1 and CAN2 and, with an
// authority key configured, the Web4 security gateway between them.
type Device struct {
	cfg Config
	clk clock.Clock
	web *gateway // nil: legacy only

	calls chan func(*core, *output)

	mu      sync.Mutex
	stats   Stats
	mods    []ModuleInfo
	busOffs uint64

	runMu sync.Mutex
	ran   bool
}

// New checks cfg and makes a pack controller; Run starts it.
func New(cfg Config) (*Device, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	d := &Device{cfg: cfg, clk: cfg.Clock, calls: make(chan func(*core, *output)), stats: Stats{Rejected: map[Cause]uint64{}}}
	if cfg.Authority != nil {
		g, err := newGateway(d)
		if err != nil {
			return nil, err
		}
		d.web = g
	}
	return d, nil
}

// Addr is the pack's Web4 node address.
func (d *Device) Addr() uint8 { return d.cfg.Addr() }

// Stats returns a snapshot of the counters.
func (d *Device) Stats() Stats {
	d.mu.Lock()
	s := d.stats.clone()
	s.BusOffs = d.busOffs
	d.mu.Unlock()
	if d.web != nil {
		s.Web4App, s.Web4Modules = d.web.can1.Stats(), d.web.can2.Stats()
		d.web.mu.Lock()
		s.Forwarded, s.Relayed, s.Witnessed, s.Escalated = d.web.forwarded, d.web.relayed, d.web.witnessed, d.web.escalated
		s.Transferred = d.web.transferred
		for k, v := range d.web.rejected {
			s.Rejected[k] += v
		}
		d.web.mu.Unlock()
	}
	return s
}

// Modules returns the registered modules in ID order.
func (d *Device) Modules() []ModuleInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]ModuleInfo(nil), d.mods...)
}

// call runs f on the loop, sends what it produced and waits for it.
func (d *Device) call(ctx context.Context, f func(*core, *output)) error {
	done := make(chan struct{})
	select {
	case d.calls <- func(c *core, out *output) { f(c, out); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type rx struct {
	can1 bool
	r    bus.Received
}

// Run runs the pack until ctx ends. It returns ctx's error, or the error of a bus that
// failed for good.
func (d *Device) Run(ctx context.Context) error {
	d.runMu.Lock()
	if d.ran {
		d.runMu.Unlock()
		return errors.New("pack: Run called twice")
	}
	d.ran = true
	d.runMu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := make(chan rx, 256)
	fail := make(chan error, 2)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for _, b := range []struct {
		ep   bus.Endpoint
		can1 bool
	}{{d.cfg.CAN1, true}, {d.cfg.CAN2, false}} {
		wg.Add(1)
		go func() { defer wg.Done(); d.read(ctx, b.ep, b.can1, in, fail) }()
	}
	if d.web != nil {
		wg.Add(1)
		go func() { defer wg.Done(); d.web.run(ctx) }()
	}
	d.cfg.Logger.Info("pack: boot", "image", d.cfg.Image.String(), "pack_id", d.cfg.PackID,
		"addr", fmt.Sprintf("0x%02x", d.Addr()), "profile", d.cfg.Profile.Name, "web4", d.web != nil)

	c := newCore(&d.cfg, d.clk.Now())
	if d.cfg.Store != nil {
		if b, ok := d.cfg.Store.Get(RegistryRecord); ok {
			es, err := decodeRegistry(b)
			if err != nil {
				c.reject(CauseStore)
				d.cfg.Logger.Error("pack: module registry not restored", "err", err)
			} else {
				c.restore(es, d.clk.Now())
				d.cfg.Logger.Info("pack: module registry restored", "modules", len(es))
			}
		}
	}
	var timer clock.Timer
	var armed time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		var out output
		if at := c.next(); !at.Equal(armed) || timer == nil {
			if timer != nil {
				timer.Stop()
			}
			timer, armed = d.clk.NewTimer(at.Sub(d.clk.Now())), at
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-fail:
			return err
		case f := <-d.calls:
			f(c, &out)
		case <-timer.C():
			timer, armed = nil, time.Time{}
			c.tick(d.clk.Now(), &out)
		case m := <-in:
			d.handle(c, m, &out)
		}
		d.flush(ctx, c, &out)
	}
}

// read hands every frame of one bus to the loop.
func (d *Device) read(ctx context.Context, ep bus.Endpoint, can1 bool, in chan<- rx, fail chan<- error) {
	recovering := false // a bus-off is to be reported once the controller hears the bus again
	for {
		r, err := ep.Receive(ctx)
		if err == nil && recovering {
			recovering = false
			if d.web != nil {
				d.web.busError(can1)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, bus.ErrBusOff) {
				d.mu.Lock()
				d.busOffs++
				d.mu.Unlock()
				recovering = true
				continue
			}
			name := "CAN2"
			if can1 {
				name = "CAN1"
			}
			fail <- fmt.Errorf("pack: %s: %w", name, err)
			return
		}
		select {
		case in <- rx{can1, r}:
		case <-ctx.Done():
			return
		}
	}
}

// handle routes one received frame: legacy to the firmware logic, Web4 to the gateway.
func (d *Device) handle(c *core, m rx, out *output) {
	f := m.r.Frame
	if m.can1 {
		c.stats.RxCAN1++
	} else {
		c.stats.RxCAN2++
	}
	switch canid.Classify(f.ID, f.Extended) {
	case canid.Legacy:
		if m.can1 {
			c.handleApp(f, m.r.Time, out)
		} else {
			c.handleModule(f, m.r.Time, out)
		}
	case canid.Web4:
		if d.web == nil {
			c.reject(CauseWeb4Idle)
			return
		}
		d.web.feed(m.can1, m.r)
	default:
		c.reject(CauseUnknownID)
	}
}

// flush sends a step's frames, hands out its events and publishes the counters.
func (d *Device) flush(ctx context.Context, c *core, out *output) {
	for _, f := range out.can2 {
		if d.send(ctx, d.cfg.CAN2, f) {
			c.stats.TxCAN2++
		} else {
			c.reject(CauseSend)
		}
	}
	for _, f := range out.can1 {
		if d.send(ctx, d.cfg.CAN1, f) {
			c.stats.TxCAN1++
		} else {
			c.reject(CauseSend)
		}
	}
	if c.dirty && d.cfg.Store != nil {
		if err := d.cfg.Store.Put(RegistryRecord, encodeRegistry(c)); err != nil {
			c.reject(CauseStore)
			d.cfg.Logger.Error("pack: storing the module registry", "err", err)
		}
	}
	c.dirty = false
	d.mu.Lock()
	d.stats = c.stats.clone()
	d.mods = c.modules()
	d.mu.Unlock()
	for _, ev := range out.events {
		if d.web != nil {
			d.web.event(ev)
		}
		if d.cfg.OnEvent != nil {
			d.cfg.OnEvent(ev)
		}
	}
}

func (d *Device) send(ctx context.Context, ep bus.Endpoint, f bus.Frame) bool {
	sctx, cancel := context.WithTimeout(ctx, d.cfg.SendLimit)
	defer cancel()
	if err := ep.Send(sctx, f); err != nil {
		d.cfg.Logger.Debug("pack: send", "frame", f.String(), "err", err)
		return false
	}
	return true
}
