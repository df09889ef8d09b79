package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/modbatt/hilrun/bench/flash"
	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/protocol/suite"
)

func runFlash(ctx context.Context, env *cli, args []string) int {
	fs := newFlags(env, "flash", "flash --rig FILE --device NAME --image PATH [--method M] [--version V] [--key FILE]")
	rigPath := fs.String("rig", "rigs/emulated.yaml", "rig file")
	devName := fs.String("device", "", "device to flash (a name from the rig)")
	imgPath := fs.String("image", "", "image file to write")
	method := fs.String("method", "", "override the rig's flash method: emulated, stm32-uart, command, can")
	version := fs.String("version", "dev", "the image's version, as stamped at build")
	keyPath := fs.String("key", "", "authority private key (32-byte P-256 scalar, raw) to sign the image; default: a fresh key (emulated method only)")
	quiet := fs.Bool("quiet", false, "no progress output")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *devName == "" || *imgPath == "" {
		fmt.Fprintln(env.stderr, "hilrun flash: --device and --image are required")
		fs.Usage()
		return exitUsage
	}
	r, err := rig.Load(*rigPath)
	if err != nil {
		fmt.Fprintf(env.stderr, "hilrun flash: %v\n", err)
		if errors.Is(err, rig.ErrInvalid) {
			return exitUsage
		}
		return exitEnviron
	}
	d, ok := r.Device(*devName)
	if !ok {
		fmt.Fprintf(env.stderr, "hilrun flash: rig %s has no device %q\n", r.Name, *devName)
		return exitUsage
	}
	b, err := os.ReadFile(*imgPath)
	if err != nil {
		fmt.Fprintf(env.stderr, "hilrun flash: %v\n", err)
		return exitEnviron
	}
	name := d.Image
	if name == "" {
		name = d.Role
	}
	if err := image.CheckVersion(*version); err != nil {
		fmt.Fprintf(env.stderr, "hilrun flash: --version: %v\n", err)
		return exitUsage
	}
	img := flash.Image{Bytes: b, Path: *imgPath, ID: image.FromBytes(name, *version, "unknown", b)}

	var key *suite.PrivateKey
	if *keyPath != "" {
		raw, err := os.ReadFile(*keyPath)
		if err == nil {
			key, err = suite.NewPrivateKey(raw)
		}
		if err != nil {
			fmt.Fprintf(env.stderr, "hilrun flash: --key: %v\n", err)
			return exitUsage
		}
	} else if key, err = suite.GenerateKey(rand.Reader); err != nil {
		fmt.Fprintf(env.stderr, "hilrun flash: %v\n", err)
		return exitFailed
	}
	if img, err = flash.SignImage(key, img); err != nil {
		fmt.Fprintf(env.stderr, "hilrun flash: signing: %v\n", err)
		return exitFailed
	}

	// Outside a suite no emulated device runs; the emulated method flashes a boot loader made
	// here, which checks the image's signature and hash exactly as a device's would.
	var loader *flash.Loader
	opts := flash.Options{Method: *method, Log: slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		BootLoader: func(d *rig.Device) (flash.BootLoader, error) {
			loader = flash.NewLoader(name, key.Public())
			return loader, nil
		}}
	f, err := flash.New(r, d, opts)
	if err != nil {
		fmt.Fprintf(env.stderr, "hilrun flash: %v\n", err)
		return exitEnviron
	}
	var progress flash.Progress
	if !*quiet {
		progress = progressPrinter(env.stderr, d.Name)
	}
	if err := f.Flash(ctx, img, progress); err != nil {
		fmt.Fprintf(env.stderr, "hilrun flash: %s: %v\n", d.Name, err)
		return exitFailed
	}
	fmt.Fprintf(env.stdout, "flashed %s: %s\n", d.Name, img.ID)
	if loader != nil {
		if id, ok := loader.Running(); ok {
			fmt.Fprintf(env.stdout, "emulated boot loader booted %s %s sha256:%s\n", id.Name, id.Version, id.HashHex())
		}
	}
	return exitOK
}

// progressPrinter prints a line at every tenth of the way.
func progressPrinter(w io.Writer, dev string) flash.Progress {
	var mu sync.Mutex
	last := -1
	return func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if total <= 0 {
			return
		}
		step := done * 10 / total
		if step == last {
			return
		}
		last = step
		fmt.Fprintf(w, "flash %s: %3d%% (%d/%d bytes)\n", dev, done*100/total, done, total)
	}
}
