package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bench/latency"
	"github.com/modbatt/hilrun/bench/perf"
	"github.com/modbatt/hilrun/bench/rig"
)

// runBenchRun is the performance sign-off run: bring the rig up, measure, write the latency
// report, print its table; exit 1 when a budget fails.
func runBenchRun(ctx context.Context, env *cli, args []string) int {
	fs := newFlags(env, "bench", "bench [--rig FILE] [--report-dir DIR] [--samples N] [--profile rig|zero]\n"+
		"       hilrun bench compare OLD.json NEW.json [--threshold 10%]\n\n"+
		"Brings the rig up with its buses paced in real time and measures, many times each, the L5\n"+
		"command and ACK per command class (to every module in turn), protected telemetry, bindings,\n"+
		"pairings, L6 and L7 validation, the L3 signed handshake, key-loss recovery and the pack's\n"+
		"polling, each beside its wire-time floor\n"+
		"(from the captures) and the modelled compute the devices charged. Writes latency.json,\n"+
		"latency.html, latency.md and latency-junit.xml into the report directory and prints the\n"+
		"table; a failed budget exits 1. '--profile zero' runs every device at the zero cost profile:\n"+
		"software and bus alone, reported as software-only with the emulation fidelity.\n"+
		"'compare' diffs two latency.json files per operation (see 'hilrun bench compare --help').")
	rigPath := fs.String("rig", "rigs/emulated.yaml", "rig file")
	dir := fs.String("report-dir", "report", "directory for the latency report")
	samples := fs.Int("samples", perf.DefaultSamples, "samples of each L5 command class")
	telemetry := fs.Int("telemetry", perf.DefaultTelemetry, "telemetry records to measure (about one a second per paired module)")
	rare := fs.Int("rare", perf.DefaultRare, "samples of the L3 handshake and of the L7 binding validation")
	modules := fs.Int("modules", 0, "modules bound, paired (one sample each) and commanded in turn; 0: every module of the rig")
	recovery := fs.Int("recovery", perf.DefaultRecovery, "key-loss recoveries (one module each)")
	profile := fs.String("profile", "rig", "cost profiles: rig (the rig file's) or zero")
	label := fs.String("label", "", "the run's label in the report (a release, a commit)")
	pacing := fs.String("pacing", "realtime", "bus pacing: realtime (the sign-off) or fast (frames at once: the software's own time per operation, no floor; only with --profile zero)")
	spin := fs.Duration("spin", time.Millisecond, "part of each real-time bus wait spent polling the clock instead of sleeping (CPU for timing fidelity)")
	soak := fs.Duration("soak", 0, "instead of the latency run, let the rig (default rigs/emulated-full.yaml) run this long and report bus load, poll cycles, missed slot deadlines and the bench's CPU use")
	verbose := fs.Bool("v", false, "log the devices at info level")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 || (*profile != "rig" && *profile != "zero") || (*pacing != "realtime" && *pacing != "fast") || (*pacing == "fast" && *profile != "zero") {
		fs.Usage()
		return exitUsage
	}
	neg := func(n int) int { // 0 on the command line means none
		if n == 0 {
			return -1
		}
		return n
	}
	if *soak > 0 {
		rigSet := false
		fs.Visit(func(f *flag.Flag) { rigSet = rigSet || f.Name == "rig" })
		if !rigSet {
			*rigPath = "rigs/emulated-full.yaml"
		}
	}
	r, err := rig.Load(*rigPath)
	if err != nil {
		fmt.Fprintf(env.stderr, "hilrun bench: %v\n", err)
		return exitEnviron
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: level}))
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintf(env.stderr, "hilrun bench: %v\n", err)
		return exitEnviron
	}
	if *soak > 0 {
		return runSoak(ctx, env, r, *rigPath, *dir, *soak, *spin, log)
	}
	fmt.Fprintf(env.stdout, "hilrun bench: rig %s (%s), profiles %s, report in %s\n", r.Name, *rigPath, *profile, *dir)
	res, runErr := perf.Run(ctx, perf.Options{Rig: r, ReportDir: *dir, Logger: log, Progress: env.stdout,
		Images: &framework.Images{OutDir: filepath.Join(*dir, "images")}, Label: *label, Zero: *profile == "zero", Fast: *pacing == "fast",
		Spin: *spin, Samples: neg(*samples), Telemetry: neg(*telemetry), Rare: neg(*rare), Recovery: neg(*recovery), Modules: *modules})
	if res == nil {
		fmt.Fprintf(env.stderr, "hilrun bench: %v\n", runErr)
		return exitEnviron
	}
	if err := res.Report.WriteFiles(*dir); err != nil {
		fmt.Fprintf(env.stderr, "hilrun bench: %v\n", err)
		return exitEnviron
	}
	printTable(env.stdout, res.Report)
	fmt.Fprintf(env.stdout, "%d samples in %v wall time; latency.json, latency.html, latency.md, latency-junit.xml in %s\n",
		len(res.Samples), res.Elapsed.Round(time.Millisecond), *dir)
	if runErr != nil {
		fmt.Fprintf(env.stderr, "hilrun bench: %v\n", runErr)
	}
	if !res.Report.Passed {
		fmt.Fprintf(env.stdout, "FAILED: %v\n", res.Report.Failures)
		return exitFailed
	}
	if runErr != nil {
		return exitFailed
	}
	if res.Report.SoftwareOnly() {
		fmt.Fprintln(env.stdout, res.Report.SoftwareMessage())
	}
	return exitOK
}

// runSoak runs the rig for a while and prints what its buses carried; missed slot deadlines or
// unanswered status requests exit 1.
func runSoak(ctx context.Context, env *cli, r *rig.Rig, path, dir string, d, spin time.Duration, log *slog.Logger) int {
	fmt.Fprintf(env.stdout, "hilrun bench --soak: rig %s (%s), %v in real time\n", r.Name, path, d)
	res, err := perf.Soak(ctx, perf.SoakOptions{Rig: r, ReportDir: dir, Logger: log, Duration: d, Spin: spin,
		Images: &framework.Images{OutDir: filepath.Join(dir, "images")}}, env.stdout)
	if res == nil {
		fmt.Fprintf(env.stderr, "hilrun bench: %v\n", err)
		return exitEnviron
	}
	res.Write(env.stdout)
	if err != nil {
		fmt.Fprintf(env.stderr, "hilrun bench: %v\n", err)
		return exitFailed
	}
	if res.SlotLate > 0 || res.Unanswered > 0 {
		return exitFailed
	}
	return exitOK
}

// printTable writes the report's summary: per operation p50, p99, floor and modelled compute
// (p50), the budget and the verdict.
func printTable(w io.Writer, r *latency.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tn\tp50\tp99\tfloor p50\tcompute p50\tbudget\tfidelity\tverdict\t")
	for _, o := range r.Operations {
		budget := "—"
		if o.Budget != nil {
			budget = time.Duration(o.Budget.Target).String()
			if o.Budget.Per == "frame" {
				budget += "/frame"
			}
		}
		fid := "—"
		if o.Fidelity.Samples > 0 {
			fid = fmt.Sprintf("%.2f", o.Fidelity.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", o.Key, o.Measured.Count, ms(o.Measured.P50), ms(o.Measured.P99),
			ms(o.Floor.P50), ms(o.Compute.P50), budget, fid, o.Verdict.Status)
	}
	tw.Flush()
	for _, o := range r.Operations {
		if o.Verdict.Failed || o.Verdict.Status == "impossible" {
			fmt.Fprintf(w, "  %s: %s\n", o.Key, o.Verdict.Reason)
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }
