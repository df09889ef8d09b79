package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/bus/pty"
	"github.com/modbatt/hilrun/bus/slcan/adapter"
)

// runSlcanAdapter emulates a USB-CAN adapter on a pty, bridged to an emulated bus, so host
// software that drives a CANable or Lawicel adapter (python-can, slcand, our own slcan
// transport) can join the emulated bus unchanged.
func runSlcanAdapter(ctx context.Context, env *cli, args []string) int {
	fs := newFlags(env, "slcan-adapter", "slcan-adapter --bus ADDRESS [--link PATH] [--fd] [--cr-acks] [--serial TEXT]\n\n"+
		"Emulates a serial (slcan) USB-CAN adapter on a pseudo-terminal until SIGINT or SIGTERM,\n"+
		"bridging its frames to the emulated bus at ADDRESS (see 'hilrun bus serve'). Host software\n"+
		"opens the printed /dev/pts path, or the --link symlink, as it would /dev/ttyACM0.")
	busAddr := fs.String("bus", "", "emulated bus address: unix:PATH or tcp:HOST:PORT (required)")
	link := fs.String("link", "", "also make this path a symlink to the pty (removed on exit)")
	fd := fs.Bool("fd", false, "accept CAN FD commands like a CANable 2 (d, D, b, B, Y)")
	crAcks := fs.Bool("cr-acks", false, "acknowledge transmits with a bare CR instead of Lawicel's z/Z")
	serialNo := fs.String("serial", "HIL0", "serial number the N command reports")
	version := fs.String("hw-version", "1013", "version the V command reports (4 characters)")
	verbose := fs.Bool("v", false, "log every refused command and host arrivals")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 || *busAddr == "" {
		fs.Usage()
		return exitUsage
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: level}))

	ep, err := emu.Dialer{Name: "slcan-adapter"}.Dial(ctx, *busAddr)
	if err != nil {
		fmt.Fprintf(env.stderr, "hilrun slcan-adapter: join bus %s: %v\n", *busAddr, err)
		return exitEnviron
	}
	defer ep.Close()
	pair, err := pty.Open()
	if err != nil {
		fmt.Fprintf(env.stderr, "hilrun slcan-adapter: %v\n", err)
		return exitEnviron
	}
	defer pair.Close()
	where := pair.Path()
	if *link != "" {
		if err := pair.Link(*link); err != nil {
			fmt.Fprintf(env.stderr, "hilrun slcan-adapter: %v\n", err)
			return exitEnviron
		}
		where += " (" + *link + ")"
	}
	ad := adapter.New(ep, adapter.Config{Version: *version, Serial: *serialNo, FD: *fd, CRAcks: *crAcks, Logger: log})
	fmt.Fprintf(env.stdout, "slcan adapter on %s, bridged to %s\n", where, *busAddr)
	if err := ad.ServePTY(ctx, pair); err != nil {
		fmt.Fprintf(env.stderr, "hilrun slcan-adapter: %v\n", err)
		return exitFailed
	}
	s := ad.Stats()
	fmt.Fprintf(env.stdout, "host→bus %d frames, bus→host %d, dropped %d, refused commands %d\n", s.ToBus, s.ToHost, s.Dropped, s.Refused)
	return exitOK
}
