// Command gateway is the pack controller image: the pack controller of package gateway/pack
// attached to two emulated CAN buses, CAN1 towards the app and CAN2 towards the modules, with
// its keys, bindings, pairings and counters in an NVM file. Rig bring-up builds it with the
// image package (version and commit stamped by the linker), "flashes" it and starts it:
//
//	gateway --can1 unix:/tmp/can1.sock --can2 unix:/tmp/can2.sock --pack-id 0 --nvm pack.nvm
//
// It logs its boot report (image version and SHA-256) and runs until SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/gateway/pack"
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

type options struct {
	deviceprog.Common
	can1, can2 string
	packID     uint
}

func parse(args []string, stderr io.Writer) (options, int) {
	var o options
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: gateway --can1 ADDRESS --can2 ADDRESS [flags]\n\n"+
			"The Modbatt pack controller image on two emulated CAN buses (hilrun bus serve).\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.can1, "can1", "", "CAN1 (app side) emulated bus address: unix:PATH or tcp:127.0.0.1:PORT")
	fs.StringVar(&o.can2, "can2", "", "CAN2 (module side) emulated bus address")
	fs.UintVar(&o.packID, "pack-id", 0, "pack ID 0 or 1 (pack 1: app-bus IDs +0x100, Web4 address 0x41)")
	o.Register(fs, "stm32wb55", "the authority's public key: base64 SEC1, or @FILE holding it; without it the pack speaks legacy only",
		"Web4 entity ID (default pack-<pack ID>)")
	return o, deviceprog.Parse(fs, args, stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code := parse(args, stderr)
	if code >= 0 {
		return code
	}
	img, err := image.Current("gateway")
	if err != nil {
		fmt.Fprintf(stderr, "gateway: %v\n", err)
		return exitEnviron
	}
	if o.Version {
		fmt.Fprintln(stdout, img.String())
		return exitOK
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "gateway: "+format+"\n", a...)
		return code
	}
	if o.can1 == "" || o.can2 == "" {
		return fail(exitUsage, "--can1 and --can2 are required")
	}
	if o.packID > 1 {
		return fail(exitUsage, "--pack-id %d: 0 or 1", o.packID)
	}
	set, err := o.Resolve()
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: set.Level})).With("pack", o.packID)
	log.Info("gateway: boot", "image", img.Name, "version", img.Version, "commit", img.Commit, "sha256", img.HashHex())

	cfg := pack.Config{PackID: uint8(o.packID), Clock: clock.Real{}, Logger: log, Profile: set.Profile, Image: img,
		Authority: set.Authority, EntityID: o.Entity, Rand: rand.Reader}
	if o.NVM != "" {
		store, err := nvm.Open(o.NVM)
		if err != nil {
			return fail(exitEnviron, "%v", err)
		}
		defer store.Close()
		cfg.Store = store
	}
	for _, addr := range []string{o.can1, o.can2} {
		c, err := deviceprog.Dial(ctx, addr)
		if err != nil {
			return fail(exitEnviron, "joining the bus %s: %v", addr, err)
		}
		defer c.Close()
		if cfg.CAN1 == nil {
			cfg.CAN1 = c
		} else {
			cfg.CAN2 = c
		}
	}
	dev, err := pack.New(cfg)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	err = dev.Run(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		return fail(exitFailed, "%v", err)
	}
	log.Info("gateway: stopped", "stats", fmt.Sprintf("%+v", dev.Stats()))
	return exitOK
}
