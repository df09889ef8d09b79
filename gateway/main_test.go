package main

import (
	"bytes"
	"context"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/legacy"
)

func TestHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"--help"}, &out, &errb); code != exitOK {
		t.Fatalf("--help exit %d", code)
	}
	for _, f := range []string{"can1", "can2", "pack-id", "nvm", "profile", "log-level"} {
		if !strings.Contains(errb.String(), "-"+f) {
			t.Errorf("usage lacks --%s", f)
		}
	}
	for _, args := range [][]string{{}, {"--can1", "unix:/x"}, {"--can1", "unix:/x", "--can2", "unix:/y", "--pack-id", "2"},
		{"--can1", "unix:/x", "--can2", "unix:/y", "--profile", "atmega64m1"}, {"--can1", "unix:/x", "--can2", "unix:/y", "--log-level", "loud"},
		{"--can1", "unix:/x", "--can2", "unix:/y", "--authority-key", "!!"}, {"extra"}} {
		if code := run(t.Context(), args, &out, &errb); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// serve makes an emulated bus served on a Unix socket and returns it with its address.
func serve(t *testing.T, ctx context.Context, dir, name string) (*emu.Bus, string) {
	t.Helper()
	b, err := emu.New(emu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	addr := "unix:" + filepath.Join(dir, name+".sock")
	a, _ := emu.ParseAddress(addr)
	ln, err := emu.Listen(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- emu.NewServer(b, slog.New(slog.DiscardHandler)).Serve(sctx, ln, emu.Framed) }()
	t.Cleanup(func() { stop(); <-served })
	return b, addr
}

// TestImageOnEmulatedBuses builds the image, runs it as a process on two emulated buses served
// over Unix sockets, plays a module on CAN2 and the app on CAN1 for a few seconds, and checks
// heartbeats, registration and polling on CAN2 and the app-bus block on CAN1; then SIGTERM.
func TestImageOnEmulatedBuses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the image")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	img, err := image.Build(ctx, ".", filepath.Join(dir, "gateway"), "0.4.0-test")
	if err != nil {
		t.Fatal(err)
	}
	b1, addr1 := serve(t, ctx, dir, "can1")
	b2, addr2 := serve(t, ctx, dir, "can2")
	app, mod := b1.Join("app"), b2.Join("module")

	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "gateway"), "--can1", addr1, "--can2", addr2, "--pack-id", "0",
		"--nvm", filepath.Join(dir, "pack.nvm"), "--profile", "zero", "--log-level", "debug")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("gateway stderr:\n%s", stderr.String())
		}
	}()

	// The app: 0x400 On every 250 ms, and it collects the blocks.
	actx, stopApp := context.WithCancel(ctx)
	blocks := make(chan legacy.PackState, 64)
	go func() {
		tk := time.NewTicker(250 * time.Millisecond)
		defer tk.Stop()
		for {
			f, _ := legacy.EncodeApp(&legacy.AppCommand{Controls: legacy.Controls{Contactor: legacy.StateOn}}, 0)
			_ = app.Send(actx, f)
			select {
			case <-actx.Done():
				return
			case <-tk.C:
			}
		}
	}()
	go func() {
		for {
			r, err := app.Receive(actx)
			if err != nil {
				return
			}
			if d, err := legacy.Decode(r.Frame); err == nil {
				if ps, ok := d.Msg.(*legacy.PackState); ok {
					blocks <- *ps
				}
			}
		}
	}()
	defer stopApp()

	// The module: announce until registered, answer status requests, time the heartbeats.
	send := func(m legacy.Message, id uint8) {
		f, err := legacy.EncodeModule(m, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := mod.Send(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	const uid = 0x0BADCAFE
	id := legacy.ModuleUnregistered
	var beats []bus.Received
	polls := 0
	lastAnnounce := time.Time{}
	// Wall-clock bounds are generous (the host may be loaded): the loop ends once the pack has
	// shown what the test checks.
	var got legacy.PackState
	n := 0
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && !(polls >= 10 && len(beats) >= 12 && n >= 5 && got.ActiveModules == 1 && got.State == legacy.StateOn) {
		for len(blocks) > 0 {
			got = <-blocks
			n++
		}
		if id == legacy.ModuleUnregistered && time.Since(lastAnnounce) > 300*time.Millisecond {
			send(&legacy.Announcement{Manufacturer: 2, Part: 3, UniqueID: uid}, legacy.ModuleUnregistered)
			lastAnnounce = time.Now()
		}
		rctx, rcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		r, err := mod.Receive(rctx)
		rcancel()
		if err != nil {
			continue
		}
		d, err := legacy.Decode(r.Frame)
		if err != nil {
			continue // Web4 boot report or other
		}
		switch m := d.Msg.(type) {
		case *legacy.MaxState:
			beats = append(beats, r)
		case *legacy.Registration:
			if m.UniqueID == uid {
				id = m.ModuleID
			}
		case *legacy.StatusRequest:
			if d.ModuleID == id {
				polls++
				send(&legacy.Status1{State: legacy.StateOn, SOC: 80, SOH: 99, CellCount: 12, Current: 2, Voltage: 44.4}, id)
				send(&legacy.Status2{MinCellV: 3.69, MaxCellV: 3.71, AvgCellV: 3.7, TotalV: 44.4}, id)
				send(&legacy.Status3{MinTemp: 21, MaxTemp: 23, AvgTemp: 22}, id)
				send(&legacy.CellComm1{FirstI2CFault: 0xFF}, id)
			}
		}
	}
	if id != 1 {
		t.Fatalf("module registered as %#02x, want 0x01", id)
	}
	if polls < 10 {
		t.Errorf("%d status requests with one module", polls)
	}
	if len(beats) < 12 {
		t.Fatalf("%d heartbeats", len(beats))
	}
	// Heartbeat spacing on the bus's clock: 200 ms, loosely (the process runs on a busy host).
	span := beats[len(beats)-1].Time.Sub(beats[0].Time)
	if per := span / time.Duration(len(beats)-1); per < 150*time.Millisecond || per > 300*time.Millisecond {
		t.Errorf("mean heartbeat period %v, want 200 ms", per)
	}
	if n < 5 {
		t.Errorf("%d app-bus blocks", n)
	}
	if got.State != legacy.StateOn || got.TotalModules != 1 || got.ActiveModules != 1 {
		t.Errorf("last 0x410 %+v, want On with one active module", got)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("gateway exited with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not stop on SIGTERM")
	}
	if !strings.Contains(stderr.String(), img.HashHex()) || !strings.Contains(stderr.String(), "0.4.0-test") {
		t.Errorf("no boot report with version and hash in:\n%s", stderr.String())
	}
}
