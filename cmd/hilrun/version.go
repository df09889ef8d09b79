package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// version is stamped at build time with -ldflags "-X main.version=…".
var version = "dev"

func runVersion(_ context.Context, env *cli, args []string) int {
	fs := newFlags(env, "version", "version")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	rev := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	fmt.Fprintf(env.stdout, "hilrun %s (revision %s)\n", version, rev)
	return exitOK
}
