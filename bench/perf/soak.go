package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"syscall"
	"time"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bench/latency"
	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/gateway/pack"
	"github.com/modbatt/hilrun/legacy"
)

// SoakOptions say what to soak.
type SoakOptions struct {
	Rig       *rig.Rig // e.g. rigs/emulated-full.yaml: 31 modules
	ReportDir string
	Images    *framework.Images
	Logger    *slog.Logger
	Duration  time.Duration // of the soak, after bring-up; default 60 s
	Spin      time.Duration // framework.Options.Spin
}

// SoakResult is what a soak saw on the buses and what it cost the bench.
type SoakResult struct {
	Modules  int           // modules the pack registered
	Duration time.Duration // wall time of the soak window
	Buses    []BusLoad
	// PollCycles are the pack's complete polling rounds over every registered module.
	PollCycles latency.Stats
	// Slots are the pack's status requests; SlotLate those that left more than 10 % of a
	// poll period after the previous one plus the period (a missed slot deadline);
	// Unanswered those with no last answer (cell comm 1) before the next slot.
	Slots, SlotLate, Unanswered int
	// WorstSlot is the longest interval between two status requests.
	WorstSlot time.Duration
	// CPU is the bench process's CPU time (user + system) during the soak; CPUShare that over
	// the wall time (1.0 = one core busy).
	CPU      time.Duration
	CPUShare float64
}

// BusLoad is one bus's traffic during the soak.
type BusLoad struct {
	Name   string
	Frames uint64
	Busy   time.Duration
	Load   float64 // Busy over the bus time elapsed
}

// Soak brings the rig up with real-time buses, lets it run for the duration without the bench
// doing anything (the pack polls, modules answer, heartbeats and announcements flow) and
// measures bus load, polling cycles, missed slot deadlines and the bench's own CPU use.
func Soak(ctx context.Context, o SoakOptions, progress io.Writer) (*SoakResult, error) {
	if o.Rig == nil {
		return nil, errors.New("perf: no rig")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Duration <= 0 {
		o.Duration = 60 * time.Second
	}
	if progress == nil {
		progress = io.Discard
	}
	t0 := time.Now()
	sys, err := framework.Up(ctx, framework.Options{Rig: o.Rig, Name: "soak", ReportDir: o.ReportDir, Images: o.Images,
		Logger: o.Logger, RealTime: true, Spin: o.Spin, Boot: 2 * time.Minute, CaptureLimit: -1})
	if err != nil {
		return nil, fmt.Errorf("perf: bring-up of rig %s: %w", o.Rig.Name, err)
	}
	defer sys.Down()
	fmt.Fprintf(progress, "  rig up in %v: %d modules; soaking for %v\n", time.Since(t0).Round(time.Millisecond), len(sys.Modules), o.Duration)
	var names []string
	for _, b := range o.Rig.Buses {
		names = append(names, b.Name)
	}
	before := map[string]loadSnap{}
	for _, n := range names {
		if b, ok := sys.Bus(n); ok {
			l := b.Load()
			before[n] = loadSnap{l.Elapsed, l.Busy, l.Frames}
		}
	}
	can2 := "can2"
	if _, ok := o.Rig.Bus(can2); !ok {
		can2 = names[len(names)-1]
	}
	probe, ok := sys.Probe(can2)
	if !ok {
		return nil, fmt.Errorf("perf: no probe on %s", can2)
	}
	mark := probe.Mark()
	cpu0 := cpuTime()
	w0 := time.Now()
	select {
	case <-time.After(o.Duration):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res := &SoakResult{Duration: time.Since(w0), CPU: cpuTime() - cpu0}
	res.CPUShare = res.CPU.Seconds() / res.Duration.Seconds()
	for _, n := range names {
		b, ok := sys.Bus(n)
		if !ok {
			continue
		}
		l, s := b.Load(), before[n]
		bl := BusLoad{Name: n, Frames: l.Frames - s.frames, Busy: l.Busy - s.busy}
		if el := l.Elapsed - s.elapsed; el > 0 {
			bl.Load = bl.Busy.Seconds() / el.Seconds()
		}
		res.Buses = append(res.Buses, bl)
	}
	ids := registered(sys)
	res.Modules = len(ids)
	rb, _ := o.Rig.Bus(can2)
	frames := probe.Frames(mark)
	var cycles []time.Duration
	for _, c := range pollCycles(frames, ids, bus.Timing{Nominal: rb.Bitrate, Data: rb.DataBitrate}) {
		cycles = append(cycles, c[1].Sub(c[0]))
	}
	res.PollCycles = latency.Summarize(cycles)
	res.slots(frames, pack.PollPeriod)
	return res, sys.Err()
}

type loadSnap struct {
	elapsed, busy time.Duration
	frames        uint64
}

// slots counts the pack's status requests, the late ones and the unanswered ones.
func (r *SoakResult) slots(frames []bus.Received, period time.Duration) {
	type req struct {
		at       time.Time
		id       uint8
		answered bool
	}
	var reqs []req
	for _, f := range frames {
		d, err := legacy.Decode(f.Frame)
		if err != nil {
			continue
		}
		switch msg := d.Msg.(type) {
		case *legacy.StatusRequest:
			reqs = append(reqs, req{at: f.Time, id: msg.ModuleID})
		case *legacy.CellComm1:
			if i := len(reqs) - 1; i >= 0 && reqs[i].id == d.ModuleID {
				reqs[i].answered = true
			}
		}
	}
	r.Slots = len(reqs)
	for i, q := range reqs {
		if i > 0 {
			gap := q.at.Sub(reqs[i-1].at)
			r.WorstSlot = max(r.WorstSlot, gap)
			if gap > period+period/10 {
				r.SlotLate++
			}
		}
		if !q.answered && i < len(reqs)-1 {
			r.Unanswered++
		}
	}
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Write prints the soak's figures.
func (r *SoakResult) Write(w io.Writer) {
	fmt.Fprintf(w, "soak: %v, %d modules registered\n", r.Duration.Round(time.Millisecond), r.Modules)
	for _, b := range slices.Clone(r.Buses) {
		fmt.Fprintf(w, "  bus %-5s %7d frames, busy %v, load %.1f %%\n", b.Name, b.Frames, b.Busy.Round(time.Millisecond), 100*b.Load)
	}
	p := r.PollCycles
	fmt.Fprintf(w, "  poll cycle over every module: %d complete, p50 %v, max %v\n", p.Count, p.P50.Round(time.Microsecond), p.Max.Round(time.Microsecond))
	fmt.Fprintf(w, "  status requests %d, slot deadline missed (> %v after the previous) %d, worst interval %v, unanswered %d\n",
		r.Slots, pack.PollPeriod+pack.PollPeriod/10, r.SlotLate, r.WorstSlot.Round(time.Microsecond), r.Unanswered)
	fmt.Fprintf(w, "  bench CPU %v (%.0f %% of one core)\n", r.CPU.Round(time.Millisecond), 100*r.CPUShare)
}
