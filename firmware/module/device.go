package module

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/nvm"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
	"github.com/modbatt/hilrun/protocol/suite"
)

// ErrNotRunning is returned by the hooks when the device's Run is not running.
var ErrNotRunning = errors.New("module: device not running")

// Device is one emulated battery module. Build it with New, run it with Run; the fault hooks
// and Stats are safe to call from other goroutines while it runs.
type Device struct {
	cfg   Config
	clk   clock.Clock
	log   *slog.Logger
	nvm   *nvm.Store
	meter mcu.Meter

	reqs    chan func()
	started chan struct{}
	done    chan struct{}
	runMu   sync.Mutex
	ran     bool

	statMu sync.Mutex
	stats  Stats

	// Owned by the loop.
	runCtx    context.Context
	moduleID  uint8
	state     legacy.State
	maxState  legacy.State
	requested legacy.State // the last 0x514 (Off after isolate, deregistration, silence)
	seq       uint16
	model     *cells
	lim       limits
	hwLim     limits
	demand    float64
	timeSet   bool
	epoch     uint32    // epoch seconds at timeAt
	timeAt    time.Time // device clock when 0x516 arrived
	isolated  bool      // Web4 emergency isolate latched until the next 0x514
	diag      bool
	keyLoss   bool   // LoseKeys while no engine ran: lose them at the next start
	commFail  uint16 // chain reads that missed a cell (0x508-style counter)

	stepAt, statusAt, silenceAt, timeReqAt, telemAt, diagUntil time.Time
	shortAt                                                    time.Time // next single-frame telemetry
	shortNext                                                  int       // index into shortSignals
	shortBusy                                                  atomic.Bool
	prevV, prevT                                               []float64 // readings before the last step, for the step triggers

	web    *web4
	eng    atomic.Pointer[session.Engine]
	telSeq uint32
	wg     sync.WaitGroup // Web4 calls in flight
	rxCh   chan bus.Received

	loader   atomic.Pointer[BootLoader] // stores and boots images received over CAN
	imgMu    sync.Mutex                 // guards cfg.Image, which a reboot replaces
	rebootCh chan image.Image           // an image the boot loader booted: restart into it
}

// New checks cfg and makes a device. The NVM store is opened by the caller; a nil one is
// replaced by an in-memory store.
func New(cfg Config) (*Device, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	st := cfg.NVM
	if st == nil {
		st = nvm.OpenMem()
	}
	if err := checkIdentity(st, cfg.UniqueID, cfg.Manufacturer, cfg.Part); err != nil {
		return nil, err
	}
	d := &Device{cfg: cfg, clk: cfg.Clock, log: cfg.Logger, nvm: st, reqs: make(chan func()),
		started: make(chan struct{}), done: make(chan struct{}), moduleID: legacy.ModuleUnregistered,
		stats: Stats{Rejected: map[Cause]uint64{}}, rxCh: make(chan bus.Received, 256), rebootCh: make(chan image.Image, 1)}
	if cfg.BootLoader != nil {
		d.SetBootLoader(cfg.BootLoader)
	}
	d.model = newCells(cfg.Cells, cfg.Seed, cfg.CapacityAh, cfg.AmbientC, cfg.InitialSOC, DefaultSOH)
	d.hwLim = limits{chargeEnable: true, dischargeEnable: true, chargeA: cfg.MaxChargeA, dischargeA: cfg.MaxDischargeA,
		cellMaxV: 4.2, cellMinV: 2.8, tempMaxC: 60, tempMinC: -20}
	d.lim = d.hwLim
	d.demand = cfg.DemandA
	if cfg.NoDemand {
		d.demand = 0
	}
	return d, nil
}

// Config returns the device's configuration with its defaults filled in.
func (d *Device) Config() Config {
	d.imgMu.Lock()
	defer d.imgMu.Unlock()
	return d.cfg
}

// Run runs the module until ctx ends and returns ctx's error, or the bus's when receiving
// failed for good. No goroutine it starts outlives it.
func (d *Device) Run(ctx context.Context) error {
	d.runMu.Lock()
	if d.ran {
		d.runMu.Unlock()
		return errors.New("module: Run called twice")
	}
	d.ran = true
	d.runMu.Unlock()
	defer close(d.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.runCtx = ctx
	rerr := make(chan error, 1)
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() { defer rwg.Done(); d.read(ctx, rerr) }()
	defer rwg.Wait()
	defer cancel()
	defer d.stopWeb4()

	d.boot()
	d.publish()
	close(d.started)
	timer := d.clk.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := d.nextDeadline()
		timer.Stop()
		select {
		case <-timer.C():
		default:
		}
		timer.Reset(next.Sub(d.clk.Now()))
		var events <-chan session.Event
		if d.web != nil {
			events = d.web.eng.Events()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-rerr:
			return err
		case r := <-d.rxCh:
			d.handleFrame(r)
		case f := <-d.reqs:
			f()
		case ev := <-events:
			d.handleEvent(ev)
		case img := <-d.rebootCh:
			d.reboot(img)
		case <-timer.C():
			d.runDue()
		}
		d.publish()
	}
}

func (d *Device) read(ctx context.Context, rerr chan<- error) {
	for {
		r, err := d.cfg.Bus.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, bus.ErrBusOff) {
				d.count(func(s *Stats) { s.BusOff++ })
				continue
			}
			rerr <- fmt.Errorf("module: receive: %w", err)
			return
		}
		select {
		case d.rxCh <- r:
		case <-ctx.Done():
			return
		}
	}
}

// boot is the boot stage: report the image, start the cell model, announce.
func (d *Device) boot() {
	now := d.clk.Now()
	img := d.cfg.Image
	if a, err := image.Boot(img, image.Node{EntityID: d.cfg.EntityID, Role: message.RoleModule, Addr: d.moduleID}, now); err != nil {
		d.log.Warn("module: boot report", "err", err)
	} else {
		d.log.Info("module: booted", "image", img.String(), "entity", a.EntityID, "unique_id", fmt.Sprintf("%08x", d.cfg.UniqueID),
			"cells", d.cfg.Cells, "profile", d.cfg.Profile.Name)
	}
	d.prevV = append([]float64(nil), d.model.vRead...)
	d.prevT = append([]float64(nil), d.model.tRead...)
	d.stepAt = now.Add(d.cfg.StepPeriod)
	d.sendAnnouncement()
}

// nextDeadline is the earliest armed deadline (an hour ahead when none is).
func (d *Device) nextDeadline() time.Time {
	best := d.clk.Now().Add(time.Hour)
	for _, t := range []time.Time{d.stepAt, d.statusAt, d.silenceAt, d.timeReqAt, d.telemAt, d.diagUntil, d.shortAt} {
		if !t.IsZero() && t.Before(best) {
			best = t
		}
	}
	return best
}

// runDue runs every deadline that has come, in a fixed order so runs are reproducible.
func (d *Device) runDue() {
	now := d.clk.Now()
	due := func(t time.Time) bool { return !t.IsZero() && !t.After(now) }
	for due(d.stepAt) {
		d.stepAt = d.stepAt.Add(d.cfg.StepPeriod)
		d.stepModel()
	}
	if due(d.statusAt) {
		d.statusAt = time.Time{}
		d.answerStatus()
	}
	if due(d.silenceAt) {
		d.silenceAt = time.Time{}
		d.packSilent()
	}
	if due(d.timeReqAt) {
		d.timeReqAt = time.Time{}
		d.requestTime()
	}
	if due(d.telemAt) {
		d.telemAt = now.Add(d.cfg.TelemetryPeriod)
		d.sendTelemetry()
	}
	if due(d.shortAt) {
		d.shortAt = now.Add(d.cfg.ShortTelemetryPeriod)
		d.sendShort()
	}
	if due(d.diagUntil) {
		d.diagUntil = time.Time{}
		d.diag = false
	}
}

// call runs f on the loop and waits for it.
func (d *Device) call(ctx context.Context, f func() error) error {
	select {
	case <-d.started:
	case <-d.done:
		return ErrNotRunning
	case <-ctx.Done():
		return ctx.Err()
	}
	res := make(chan error, 1)
	select {
	case d.reqs <- func() { err := f(); d.publish(); res <- err }:
	case <-d.done:
		return ErrNotRunning
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-res:
		return err
	case <-d.done:
		return ErrNotRunning
	}
}

// charge is the link engine's CostFunc: the modelled MCU time of op on the device clock.
func (d *Device) charge(ctx context.Context, op suite.Op, n int) {
	c := mcu.Charger{Clock: d.clk, Profile: d.cfg.Profile, Meter: &d.meter}
	if err := c.Charge(ctx, op, n); err != nil && ctx.Err() == nil {
		d.log.Warn("module: charging crypto cost", "op", op, "err", err)
	}
}

// goWeb runs a Web4 call off the loop (the engine may be busy charging seconds of P-256).
func (d *Device) goWeb(f func(ctx context.Context)) {
	d.wg.Add(1)
	ctx := d.runCtx
	go func() { defer d.wg.Done(); f(ctx) }()
}
