// Command firmware is the battery module image: the emulated Modbatt module of package
// firmware/module attached to an emulated CAN bus, with its state in an NVM file. Rig
// bring-up builds it with the image package (version and commit stamped by the linker),
// "flashes" it and starts one process per module:
//
//	firmware --bus unix:/tmp/can2.sock --unique-id 0x1000A001 --cells 16 --seed 1 --nvm m1.nvm
//
// It runs until SIGINT or SIGTERM.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/firmware/module"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/nvm"
	"github.com/modbatt/hilrun/protocol/suite"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitEnviron = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command line.
type options struct {
	bus, uniqueID, nvmPath, profile, logLevel, authority, entity string
	cells                                                        int
	seed                                                         uint64
	demand                                                       float64
	noWeb4, version                                              bool
}

func parse(args []string, stderr io.Writer) (options, int) {
	var o options
	fs := flag.NewFlagSet("firmware", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: firmware --bus ADDRESS --unique-id ID [flags]\n\n"+
			"The Modbatt battery module image on an emulated CAN bus (hilrun bus serve).\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.bus, "bus", "", "emulated bus address: unix:PATH or tcp:127.0.0.1:PORT")
	fs.StringVar(&o.uniqueID, "unique-id", "", "the module's 32-bit unique ID (0x… hex or decimal)")
	fs.IntVar(&o.cells, "cells", module.DefaultCells, fmt.Sprintf("cells in the module (1–%d)", module.MaxCells))
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the cell model")
	fs.StringVar(&o.nvmPath, "nvm", "", "NVM file (created if absent); empty keeps state in memory")
	fs.StringVar(&o.profile, "profile", "atmega64m1", "crypto cost profile: atmega64m1 or zero")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.authority, "authority-key", "", "the authority's public key: base64 SEC1 (GET /api/authority), or @FILE holding it")
	fs.StringVar(&o.entity, "entity-id", "", "Web4 entity ID (default module-<unique ID>)")
	fs.Float64Var(&o.demand, "demand", module.DefaultDemandA, "load current in amps while On (positive charges)")
	fs.BoolVar(&o.noWeb4, "no-web4", false, "legacy behaviour only")
	fs.BoolVar(&o.version, "version", false, "print the image identity and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, exitOK
		}
		return o, exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "firmware: unexpected argument %q\n", fs.Arg(0))
		return o, exitUsage
	}
	return o, -1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code := parse(args, stderr)
	if code >= 0 {
		return code
	}
	img, err := image.Current("firmware")
	if err != nil {
		fmt.Fprintf(stderr, "firmware: %v\n", err)
		return exitEnviron
	}
	if o.version {
		fmt.Fprintln(stdout, img.String())
		return exitOK
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "firmware: "+format+"\n", a...)
		return code
	}
	if o.bus == "" || o.uniqueID == "" {
		return fail(exitUsage, "--bus and --unique-id are required")
	}
	uid, err := strconv.ParseUint(o.uniqueID, 0, 32)
	if err != nil {
		return fail(exitUsage, "--unique-id %q: %v", o.uniqueID, err)
	}
	if o.profile != "atmega64m1" && o.profile != "zero" {
		return fail(exitUsage, "--profile %q: atmega64m1 or zero", o.profile)
	}
	prof, err := mcu.ByName(o.profile)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fail(exitUsage, "--log-level %q: %v", o.logLevel, err)
	}
	var auth *suite.PublicKey
	if o.authority != "" {
		if auth, err = authorityKey(o.authority); err != nil {
			return fail(exitUsage, "--authority-key: %v", err)
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("module", fmt.Sprintf("%08x", uid))

	var store *nvm.Store
	if o.nvmPath != "" {
		if store, err = nvm.Open(o.nvmPath); err != nil {
			return fail(exitEnviron, "%v", err)
		}
		defer store.Close()
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	ep, err := emu.Dial(dctx, o.bus)
	cancel()
	if err != nil {
		return fail(exitEnviron, "joining the bus: %v", err)
	}
	defer ep.Close()

	dev, err := module.New(module.Config{Clock: clock.Real{}, Bus: ep, NVM: store, Logger: log, Profile: prof, Image: img,
		UniqueID: uint32(uid), EntityID: o.entity, Cells: o.cells, Seed: o.seed, DemandA: o.demand, NoDemand: o.demand == 0,
		NoWeb4: o.noWeb4, Authority: auth})
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	err = dev.Run(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		return fail(exitFailed, "%v", err)
	}
	log.Info("firmware: stopped", "stats", fmt.Sprintf("%+v", dev.Stats()))
	return exitOK
}

// authorityKey reads a base64 SEC1 public key, inline or from @FILE.
func authorityKey(s string) (*suite.PublicKey, error) {
	if strings.HasPrefix(s, "@") {
		b, err := os.ReadFile(s[1:])
		if err != nil {
			return nil, err
		}
		s = string(b)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	return suite.ParsePublicKey(raw)
}
