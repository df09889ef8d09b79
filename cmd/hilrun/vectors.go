package main

import (
	"context"
	"fmt"
	"os"

	"github.com/modbatt/hilrun/fixtures"
)

func runVectors(_ context.Context, env *cli, args []string) int {
	fs := newFlags(env, "vectors", "vectors (--check | --update) [--dir fixtures/vectors]")
	check := fs.Bool("check", false, "verify every vector set against the code (exit 1 on any mismatch)")
	update := fs.Bool("update", false, "regenerate every vector set from the code")
	dir := fs.String("dir", "fixtures/vectors", "directory of the vector files")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *check == *update || fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	if *update {
		if err := fixtures.Update(*dir); err != nil {
			fmt.Fprintf(env.stderr, "hilrun vectors: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(env.stdout, "vectors written to %s\n", *dir)
		return exitOK
	}
	if _, err := os.Stat(*dir); err != nil {
		fmt.Fprintf(env.stderr, "hilrun vectors: %v\n", err)
		return exitEnviron
	}
	results, err := fixtures.Check(*dir)
	if err != nil {
		fmt.Fprintf(env.stderr, "hilrun vectors: %v\n", err)
		return exitFailed
	}
	code := exitOK
	for _, r := range results {
		if r.Err != nil {
			fmt.Fprintf(env.stdout, "FAIL %-12s %v\n", r.Set, r.Err)
			code = exitFailed
			continue
		}
		fmt.Fprintf(env.stdout, "ok   %-12s %d vectors\n", r.Set, r.Vectors)
	}
	return code
}
