package main

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/modbatt/hilrun/bench/latency"
)

func runBench(ctx context.Context, env *cli, args []string) int {
	if len(args) > 0 && args[0] == "compare" {
		return runBenchCompare(ctx, env, args[1:])
	}
	return runBenchRun(ctx, env, args)
}

func runBenchCompare(_ context.Context, env *cli, args []string) int {
	fs := newFlags(env, "bench compare", "bench compare OLD.json NEW.json [--threshold 10%] [--markdown FILE] [--json FILE]\n\n"+
		"Prints, per operation, the change in p50, p99 and wire floor between two latency reports and\n"+
		"flags regressions: a p50 or p99 that rose by more than the threshold, or a verdict that now fails.\n"+
		"Exit status: 0 no regression, 1 a regression, 2 bad usage, 3 a report cannot be read.")
	threshold := fs.String("threshold", "10%", "relative rise of p50 or p99 that counts as a regression (\"10%\" or \"0.1\")")
	mdPath := fs.String("markdown", "", "also write the table to this file")
	jsonPath := fs.String("json", "", "also write the comparison as JSON (schema hilrun-latency-compare/1) to this file")
	var files []string
	for {
		if code, ok := parseFlags(fs, args); !ok {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 2 {
		fs.Usage()
		return exitUsage
	}
	th, err := latency.ParseThreshold(*threshold)
	if err != nil {
		fmt.Fprintf(env.stderr, "hilrun bench compare: %v\n", err)
		return exitUsage
	}
	var reps [2]*latency.Report
	for i, f := range files {
		if reps[i], err = latency.LoadReport(f); err != nil {
			fmt.Fprintf(env.stderr, "hilrun bench compare: %v\n", err)
			return exitEnviron
		}
	}
	c := latency.Compare(reps[0], reps[1], th)
	if err := c.WriteMarkdown(env.stdout); err != nil {
		fmt.Fprintf(env.stderr, "hilrun bench compare: %v\n", err)
		return exitEnviron
	}
	if *mdPath != "" {
		var b bytes.Buffer
		_ = c.WriteMarkdown(&b) // a bytes.Buffer does not fail
		if err := os.WriteFile(*mdPath, b.Bytes(), 0o644); err != nil {
			fmt.Fprintf(env.stderr, "hilrun bench compare: %v\n", err)
			return exitEnviron
		}
	}
	if *jsonPath != "" {
		if err := c.WriteJSONFile(*jsonPath); err != nil {
			fmt.Fprintf(env.stderr, "hilrun bench compare: %v\n", err)
			return exitEnviron
		}
	}
	if c.Regressions > 0 {
		return exitFailed
	}
	return exitOK
}
