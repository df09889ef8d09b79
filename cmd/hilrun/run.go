package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/suites"
)

// ginkgoT is what Ginkgo needs of a test runner outside `go test`: a place to say "failed".
type ginkgoT struct{ failed bool }

func (t *ginkgoT) Fail() { t.failed = true }

func runRun(ctx context.Context, env *cli, args []string) int {
	fs := newFlags(env, "run", "run [--rig FILE] [--label-filter EXPR] [--report-dir DIR] [--images DIR] [--programs] [-v]")
	rigPath := fs.String("rig", filepath.Join("rigs", "emulated.yaml"), "rig file")
	filter := fs.String("label-filter", "", "Ginkgo label filter, e.g. 'smoke || legacy' or '!perf'")
	reportDir := fs.String("report-dir", "report", "where the JUnit XML, Ginkgo JSON, captures, images and summary go")
	verbose := fs.Bool("v", false, "print every spec as it runs, with its output")
	programs := fs.Bool("programs", false, "run the pack and the modules as the built gateway and firmware programs on socket-served buses")
	imagesDir := fs.String("images", "", "flash the images of an earlier build (a directory with "+framework.ManifestFile+", e.g. a previous report's images/) instead of building")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "hilrun run: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	r, err := rig.Load(*rigPath)
	if err != nil {
		fmt.Fprintf(env.stderr, "hilrun run: %v\n", err)
		return exitEnviron
	}
	labels := combineFilters(r.Suites.Labels, *filter)
	if _, err := types.ParseLabelFilter(labels); err != nil {
		fmt.Fprintf(env.stderr, "hilrun run: label filter %q: %v\n", labels, err)
		return exitUsage
	}
	dir, err := filepath.Abs(*reportDir)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "hilrun run: report directory: %v\n", err)
		return exitEnviron
	}
	images := &framework.Images{OutDir: filepath.Join(dir, "images")}
	if *imagesDir != "" {
		if images, err = framework.LoadImages(*imagesDir); err != nil {
			fmt.Fprintf(env.stderr, "hilrun run: %v\n", err)
			return exitEnviron
		}
	}
	// Captures and images of an earlier run in the same directory would mislead the summary.
	for _, sub := range []string{"captures", "images", "logs"} {
		if p := filepath.Join(dir, sub); p != images.OutDir {
			os.RemoveAll(p)
		}
	}

	suiteCfg := types.NewDefaultSuiteConfig()
	suiteCfg.LabelFilter = labels
	suiteCfg.Timeout = 30 * time.Minute
	repCfg := types.NewDefaultReporterConfig()
	repCfg.JUnitReport = filepath.Join(dir, "junit.xml")
	repCfg.JSONReport = filepath.Join(dir, "report.json")
	repCfg.Succinct = !*verbose
	repCfg.Verbose = *verbose
	if !isTerminal(os.Stdout) {
		repCfg.NoColor = true
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: level}))

	fmt.Fprintf(env.stdout, "hilrun run: rig %s (%s), label filter %q, report in %s\n", r.Name, *rigPath, labels, dir)
	start := time.Now()
	t := &ginkgoT{}
	passed := suites.Run(t, suites.Config{Rig: r, ReportDir: dir, Logger: log, Programs: *programs,
		Images: images}, suiteCfg, repCfg)
	wall := time.Since(start)

	sum, err := summarize(dir, r.Name, labels, wall)
	if err != nil {
		fmt.Fprintf(env.stderr, "hilrun run: summary: %v\n", err)
		return exitFailed
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(sum), 0o644); err != nil {
		fmt.Fprintf(env.stderr, "hilrun run: %v\n", err)
		return exitFailed
	}
	fmt.Fprint(env.stdout, "\n"+sum)
	if !passed || t.failed {
		return exitFailed
	}
	return exitOK
}

// combineFilters is the rig's own label filter and the command line's, both applying.
func combineFilters(a, b string) string {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return "(" + a + ") && (" + b + ")"
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// labelCount is how the specs carrying one label ended.
type labelCount struct{ passed, failed, skipped, unselected int }

// summarize reads the Ginkgo JSON report and the captures into a short text summary.
func summarize(dir, rigName, filter string, wall time.Duration) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		return "", err
	}
	var reports []types.Report
	if err := json.Unmarshal(b, &reports); err != nil {
		return "", fmt.Errorf("report.json: %w", err)
	}
	counts := map[string]*labelCount{}
	var total labelCount
	for _, rep := range reports {
		for _, sr := range rep.SpecReports {
			if sr.LeafNodeType != types.NodeTypeIt {
				continue
			}
			ls := sr.Labels()
			if len(ls) == 0 {
				ls = []string{"(none)"}
			}
			for _, l := range ls {
				if counts[l] == nil {
					counts[l] = &labelCount{}
				}
				tally(counts[l], sr)
			}
			tally(&total, sr)
		}
	}
	var w strings.Builder
	fmt.Fprintf(&w, "rig %s, label filter %q, wall time %.1f s\n", rigName, filter, wall.Seconds())
	fmt.Fprintf(&w, "%-16s %7s %7s %7s %12s\n", "label", "passed", "failed", "skipped", "not selected")
	names := make([]string, 0, len(counts))
	for l := range counts {
		names = append(names, l)
	}
	sort.Strings(names)
	for _, l := range names {
		c := counts[l]
		fmt.Fprintf(&w, "%-16s %7d %7d %7d %12d\n", l, c.passed, c.failed, c.skipped, c.unselected)
	}
	fmt.Fprintf(&w, "%-16s %7d %7d %7d %12d\n", "all specs", total.passed, total.failed, total.skipped, total.unselected)
	var files, bytes int64
	_ = filepath.WalkDir(filepath.Join(dir, "captures"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				files++
				bytes += info.Size()
			}
		}
		return nil
	})
	fmt.Fprintf(&w, "captures: %d files, %d bytes in %s\n", files, bytes, filepath.Join(dir, "captures"))
	fmt.Fprintf(&w, "reports: %s, %s\n", filepath.Join(dir, "junit.xml"), filepath.Join(dir, "report.json"))
	return w.String(), nil
}

// tally counts one spec; a skip with a reason (Skip in a spec or its container) is
// "skipped", a spec the label filter left out is "not selected".
func tally(c *labelCount, sr types.SpecReport) {
	switch s := sr.State; {
	case s == types.SpecStatePassed:
		c.passed++
	case s.Is(types.SpecStateFailureStates):
		c.failed++
	case s == types.SpecStateSkipped && sr.Failure.Message == "":
		c.unselected++
	default:
		c.skipped++
	}
}
