// Package perf is the performance sign-off run: it brings a rig up with its buses paced in real
// time, measures each operation of the trust protocol many times on the bus clock, with the
// modelled compute each device charged, and turns the samples into the latency report
// (package bench/latency) against the rig's budget sheet.
package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bench/latency"
	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/protocol/canid"
)

// Defaults of Options.
const (
	DefaultSamples   = 100 // per command class
	DefaultTelemetry = 20  // telemetry records (one a second per paired module)
	DefaultRare      = 2   // L3 handshakes and L7 validations
	DefaultRecovery  = 1   // key-loss recoveries
)

// PairingContext is the operational context the run pairs in.
const PairingContext = "battery_management"

// Options say what to run.
type Options struct {
	Rig       *rig.Rig
	ReportDir string // captures go under ReportDir/captures
	Images    *framework.Images
	Logger    *slog.Logger
	Progress  io.Writer // a line per operation measured; nil: none
	Label     string    // the report's run label (a release, a commit)
	// Zero charges every device at the zero profile: the software and the bus alone, reported
	// as software-only and checked for emulation fidelity.
	Zero bool
	// Samples of each L5 command class (sent to the modules in turn); Telemetry records; Rare
	// samples of the L3 handshake and of the L7 binding validation; Recovery key-loss
	// recoveries (on distinct modules). 0 means the default, a negative value none.
	Samples, Telemetry, Rare, Recovery int
	// Modules is how many of the rig's modules (in the rig's order) are bound, paired and
	// commanded, each binding and pairing a sample; 0 means every module.
	Modules int
	// Spin is how much of each of the buses' real-time waits polls the clock instead of
	// sleeping (framework.Options.Spin): more CPU, frames closer to their time.
	Spin time.Duration
	// Fast runs the buses as fast as possible (emu.AsFastAsPossible) instead of in real time:
	// frames arrive at once, so each sample is the software's own time along the operation's
	// path, with no wire time in it. Its frames are stamped on the bus's schedule, not on the
	// clock the samples are taken on, so no floor is applied: the report carries measured
	// times only and a warning. Only with Zero (modelled charges would be the whole story).
	Fast bool
}

func pick(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

// Result is a finished run.
type Result struct {
	Report   *latency.Report
	Samples  []latency.Sample
	Captures []string
	Elapsed  time.Duration // wall time of the run
}

// Run brings the rig up, measures and builds the report. The report is built even when a
// measurement step fails part-way, from the samples taken until then; the error says what
// failed.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Rig == nil {
		return nil, errors.New("perf: no rig")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Fast && !o.Zero {
		return nil, errors.New("perf: fast pacing measures the software alone: only with the zero profile")
	}
	began := time.Now()
	sys, err := framework.Up(ctx, framework.Options{Rig: o.Rig, Name: "bench", ReportDir: o.ReportDir,
		Images: o.Images, Logger: o.Logger, ZeroCost: o.Zero, RealTime: !o.Fast, Spin: o.Spin, Boot: 30 * time.Second,
		CaptureLimit: -1}) // the floors are read from the whole captures
	if err != nil {
		return nil, fmt.Errorf("perf: bring-up of rig %s: %w", o.Rig.Name, err)
	}
	if sys.Programs || sys.App == nil || sys.Pack == nil || len(sys.Modules) == 0 {
		sys.Down()
		return nil, fmt.Errorf("perf: rig %s needs an app, a pack and a module, in-process", o.Rig.Name)
	}
	exactWire(sys, o.Rig)
	m := &meas{sys: sys, clk: sys.Clock, o: o, packMeter: &mcu.Meter{}}
	sys.Pack.SetMeter(m.packMeter)
	runErr := m.all(ctx)
	if err := sys.Err(); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("perf: a device stopped: %w", err))
	}
	downErr := sys.Down()
	if downErr != nil {
		runErr = errors.Join(runErr, fmt.Errorf("perf: teardown: %w", downErr))
	}
	var logs []string
	for _, p := range sys.Captures() {
		if strings.HasSuffix(p, ".log") {
			logs = append(logs, p)
		}
	}
	recs, _, err := latency.LoadCaptures(logs...)
	if err != nil {
		return nil, errors.Join(runErr, fmt.Errorf("perf: captures: %w", err))
	}
	samples := m.rec.Samples()
	if o.Fast {
		// Windows cut from frame stamps are on the bus's schedule, which fast pacing runs
		// ahead of the clock: they measure nothing.
		samples = slices.DeleteFunc(samples, func(s latency.Sample) bool { return stampedOps[s.Operation] })
	}
	fl := latency.Floor{Buses: map[string]bus.Timing{}, Stuffing: bus.Exact}
	for _, b := range o.Rig.Buses {
		fl.Buses[b.Name] = bus.Timing{Nominal: b.Bitrate, Data: b.DataBitrate}
	}
	stuffing := "exact"
	if o.Fast {
		stuffing = "none: fast pacing, no floor"
	} else {
		fl.Apply(samples, recs)
	}
	var sheet *latency.Sheet
	if p := o.Rig.BudgetPath(); p != "" {
		if sheet, err = latency.LoadSheet(p); err != nil {
			return nil, errors.Join(runErr, fmt.Errorf("perf: %w", err))
		}
	}
	rep := latency.Build(samples, latency.Options{Sheet: sheet, Run: latency.RunInfo{Rig: o.Rig.Name,
		Mode: latency.ModeEmulated, Stuffing: stuffing, Label: o.Label}})
	if o.Fast {
		rep.Warnings = append(rep.Warnings, "fast pacing: frames were delivered at once, so every measured time is the software's own along the operation's path, without wire time; no floor, no sign-off")
	}
	return &Result{Report: rep, Samples: samples, Captures: sys.Captures(), Elapsed: time.Since(began)}, runErr
}

// stampedOps are the operations whose windows begin or end at a frame's stamp in a capture.
var stampedOps = map[string]bool{"l5-telemetry": true, "l6-validation": true, "poll-cycle": true, "poll-slot": true}

// meas takes the samples of one run.
type meas struct {
	sys       *framework.System
	clk       clock.Clock
	o         Options
	rec       latency.Recorder
	packMeter *mcu.Meter
	modBase   map[string][]mcu.Tally // each module's meter at the start of the sample
}

// begin resets the devices' meters and returns the start of a sample on the bus clock.
func (m *meas) begin() time.Time {
	m.packMeter.Reset()
	m.modBase = map[string][]mcu.Tally{}
	for _, mod := range m.sys.Modules {
		m.modBase[mod.Name()] = mod.Compute()
	}
	return m.clk.Now()
}

// end records a sample that started at start and ends now.
func (m *meas) end(op, variant string, start time.Time, nodes ...uint8) latency.Sample {
	return m.endAt(op, variant, start, m.clk.Now(), nodes...)
}

func (m *meas) endAt(op, variant string, start, end time.Time, nodes ...uint8) latency.Sample {
	s := latency.Sample{Operation: op, Variant: variant, Start: start, End: end, Measured: end.Sub(start), Nodes: nodes}
	if t := m.packMeter.Reset(); len(t) > 0 {
		s.Compute = append(s.Compute, latency.ComputeOf(m.sys.Pack.Name(), latency.RolePack, m.sys.Pack.Profile(), t))
	}
	for _, mod := range m.sys.Modules {
		if len(nodes) > 0 && !slices.Contains(nodes, mod.Rig.ModuleID) && !slices.Contains(nodes, canid.AddrBroadcast) {
			continue // another module's work in the same window (its telemetry)
		}
		if t := diff(mod.Compute(), m.modBase[mod.Name()]); len(t) > 0 {
			s.Compute = append(s.Compute, latency.ComputeOf(mod.Name(), latency.RoleModule, mod.Profile(), t))
		}
	}
	m.rec.Add(s)
	return s
}

// diff is what a meter recorded between two snapshots.
func diff(now, base []mcu.Tally) []mcu.Tally {
	var out []mcu.Tally
	for _, t := range now {
		for _, b := range base {
			if b.Op == t.Op {
				t.Calls -= b.Calls
				t.Units -= b.Units
				t.Total -= b.Total
			}
		}
		if t.Calls > 0 {
			out = append(out, t)
		}
	}
	return out
}

func (m *meas) progress(op string, n int, took time.Duration) {
	fmt.Fprintf(m.o.Progress, "  %-28s %4d sample(s) in %v\n", op, n, took.Round(time.Millisecond))
}

// exactWire makes the rig's in-process emulated buses stuff bits as a real wire does (exactly,
// from each frame's content) rather than at the worst case, the emulator's default: the floors
// are computed with exact stuffing, and a worst-case wire would make every frame up to a fifth
// longer than the floor says, which the report would then blame on the bench.
func exactWire(sys *framework.System, r *rig.Rig) {
	for _, b := range r.Buses {
		if w, ok := sys.Bus(b.Name); ok {
			_ = w.SetStuffing(bus.Exact) // a known model: cannot fail
		}
	}
}
