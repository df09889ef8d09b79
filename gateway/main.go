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
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/gateway/pack"
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

type options struct {
	can1, can2, nvmPath, profile, logLevel, authority, entity string
	packID                                                    uint
	version                                                   bool
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
	fs.StringVar(&o.nvmPath, "nvm", "", "NVM file (created if absent); empty keeps state in memory")
	fs.StringVar(&o.profile, "profile", "stm32wb55", "crypto cost profile: stm32wb55 or zero")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.authority, "authority-key", "", "the authority's public key: base64 SEC1, or @FILE holding it; without it the pack speaks legacy only")
	fs.StringVar(&o.entity, "entity-id", "", "Web4 entity ID (default pack-<pack ID>)")
	fs.BoolVar(&o.version, "version", false, "print the image identity and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, exitOK
		}
		return o, exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gateway: unexpected argument %q\n", fs.Arg(0))
		return o, exitUsage
	}
	return o, -1
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
	if o.version {
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
	if o.profile != "stm32wb55" && o.profile != "zero" {
		return fail(exitUsage, "--profile %q: stm32wb55 or zero", o.profile)
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
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("pack", o.packID)
	log.Info("gateway: boot", "image", img.Name, "version", img.Version, "commit", img.Commit, "sha256", img.HashHex())

	cfg := pack.Config{PackID: uint8(o.packID), Clock: clock.Real{}, Logger: log, Profile: prof, Image: img,
		Authority: auth, EntityID: o.entity, Rand: rand.Reader}
	if o.nvmPath != "" {
		store, err := nvm.Open(o.nvmPath)
		if err != nil {
			return fail(exitEnviron, "%v", err)
		}
		defer store.Close()
		cfg.Store = store
	}
	for _, addr := range []string{o.can1, o.can2} {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := emu.Dial(dctx, addr)
		cancel()
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
