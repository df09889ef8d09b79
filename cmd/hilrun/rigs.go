package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/modbatt/hilrun/bench/rig"
)

type rigStatus struct {
	File     string   `json:"file"`
	Name     string   `json:"name,omitempty"`
	Valid    bool     `json:"valid"`
	Problems []string `json:"problems,omitempty"`
	Runnable bool     `json:"runnable"`
	Reasons  []string `json:"reasons,omitempty"`
	Devices  int      `json:"devices,omitempty"`
	Buses    []string `json:"buses,omitempty"`
}

// rigEnv is the machine probe; tests replace it.
var rigEnv = func() rig.Env { return rig.HostEnv{} }

func runRigs(ctx context.Context, env *cli, args []string) int {
	fs := newFlags(env, "rigs", "rigs [--dir rigs] [--json]")
	dir := fs.String("dir", "rigs", "directory holding rig files (*.yaml)")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	files, err := filepath.Glob(filepath.Join(*dir, "*.yaml"))
	if err != nil {
		fmt.Fprintf(env.stderr, "hilrun rigs: %v\n", err)
		return exitUsage
	}
	yml, _ := filepath.Glob(filepath.Join(*dir, "*.yml"))
	files = append(files, yml...)
	sort.Strings(files)
	if len(files) == 0 {
		fmt.Fprintf(env.stderr, "hilrun rigs: no rig files in %s\n", *dir)
		return exitEnviron
	}
	probe := rigEnv()
	var out []rigStatus
	code := exitOK
	for _, f := range files {
		s := rigStatus{File: f}
		r, err := rig.Load(f)
		var re *rig.Error
		switch {
		case err == nil:
			s.Valid = true
		case errors.As(err, &re):
			for _, p := range re.Problems {
				msg := p.Error()
				if p.Line > 0 {
					msg = fmt.Sprintf("line %d: %s", p.Line, msg)
				}
				s.Problems = append(s.Problems, msg)
			}
		default:
			s.Problems = []string{err.Error()}
		}
		if !s.Valid {
			code = exitFailed
		}
		if r != nil {
			s.Name, s.Devices = r.Name, len(r.Devices)
			for _, b := range r.Buses {
				s.Buses = append(s.Buses, fmt.Sprintf("%s=%s", b.Name, transportLabel(b.Transport)))
			}
		}
		if s.Valid {
			var ce *rig.CannotRunError
			if err := r.CanRunHere(probe); errors.As(err, &ce) {
				for _, why := range ce.Reasons {
					s.Reasons = append(s.Reasons, why.String())
				}
			} else {
				s.Runnable = true
			}
		}
		out = append(out, s)
	}
	if *asJSON {
		e := json.NewEncoder(env.stdout)
		e.SetIndent("", "  ")
		if err := e.Encode(out); err != nil {
			return exitFailed
		}
		return code
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tNAME\tVALID\tRUNS HERE\tBUSES")
	for _, s := range out {
		runs := "yes"
		if !s.Runnable {
			runs = "no"
		}
		valid := "yes"
		if !s.Valid {
			valid, runs = "NO", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", filepath.Base(s.File), s.Name, valid, runs, s.Buses)
	}
	tw.Flush()
	for _, s := range out {
		for _, p := range s.Problems {
			fmt.Fprintf(env.stdout, "%s: invalid: %s\n", filepath.Base(s.File), p)
		}
		for _, r := range s.Reasons {
			fmt.Fprintf(env.stdout, "%s: cannot run here: %s\n", filepath.Base(s.File), r)
		}
	}
	return code
}

func transportLabel(t rig.Transport) string {
	switch t.Kind {
	case rig.TransportSocketCAN:
		return "socketcan:" + t.Interface
	case rig.TransportSLCAN:
		return "slcan:" + t.Port
	case rig.TransportSocketcand:
		return "socketcand:" + t.Host + "/" + t.Channel
	}
	if t.Address != "" {
		return "emulated:" + t.Address
	}
	return t.Kind
}
