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
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/firmware/module"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/internal/deviceprog"
	"github.com/modbatt/hilrun/nvm"
)

// Exit codes.
const (
	exitOK      = deviceprog.ExitOK
	exitFailed  = deviceprog.ExitFailed
	exitUsage   = deviceprog.ExitUsage
	exitEnviron = deviceprog.ExitEnviron
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command line.
type options struct {
	deviceprog.Common
	bus, uniqueID string
	cells         int
	seed          uint64
	demand        float64
	noWeb4        bool
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
	o.Register(fs, "atmega64m1", "the authority's public key: base64 SEC1 (GET /api/authority), or @FILE holding it",
		"Web4 entity ID (default module-<unique ID>)")
	fs.Float64Var(&o.demand, "demand", module.DefaultDemandA, "load current in amps while On (positive charges)")
	fs.BoolVar(&o.noWeb4, "no-web4", false, "legacy behaviour only")
	return o, deviceprog.Parse(fs, args, stderr)
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
	if o.Version {
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
	set, err := o.Resolve()
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: set.Level})).With("module", fmt.Sprintf("%08x", uid))

	var store *nvm.Store
	if o.NVM != "" {
		if store, err = nvm.Open(o.NVM); err != nil {
			return fail(exitEnviron, "%v", err)
		}
		defer store.Close()
	}
	ep, err := deviceprog.Dial(ctx, o.bus)
	if err != nil {
		return fail(exitEnviron, "joining the bus: %v", err)
	}
	defer ep.Close()

	dev, err := module.New(module.Config{Clock: clock.Real{}, Bus: ep, NVM: store, Logger: log, Profile: set.Profile, Image: img,
		UniqueID: uint32(uid), EntityID: o.Entity, Cells: o.cells, Seed: o.seed, DemandA: o.demand, NoDemand: o.demand == 0,
		NoWeb4: o.noWeb4, Authority: set.Authority})
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
