package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/firmware/module"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
	"github.com/modbatt/hilrun/protocol/suite"
)

func TestHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"--help"}, &out, &errb); code != exitOK {
		t.Fatalf("--help exit %d", code)
	}
	if !strings.Contains(errb.String(), "--bus") && !strings.Contains(errb.String(), "-bus") {
		t.Fatalf("usage lacks --bus: %s", errb.String())
	}
	for _, args := range [][]string{{}, {"--bus", "unix:/x"}, {"--bus", "unix:/x", "--unique-id", "zz"},
		{"--bus", "unix:/x", "--unique-id", "1", "--profile", "stm32wb55"}, {"extra"}} {
		if code := run(t.Context(), args, &out, &errb); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// TestImageOnEmulatedBus builds the image with its version stamped, runs it as a process on an
// emulated bus served over a Unix socket, and plays the pack: announcement, registration,
// hardware and status answers, then SIGTERM.
func TestImageOnEmulatedBus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the image")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	img, err := image.Build(ctx, ".", filepath.Join(dir, "firmware"), "0.4.0-test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := emu.New(emu.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := "unix:" + filepath.Join(dir, "can2.sock")
	a, _ := emu.ParseAddress(addr)
	ln, err := emu.Listen(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	srv := emu.NewServer(b, slog.New(slog.DiscardHandler))
	sctx, stopSrv := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln, emu.Framed) }()
	defer func() { stopSrv(); <-served }()
	pack := b.Join("pack")
	// The pack's Web4 side, to read the module's boot report (an L1 image announce).
	auth, err := suite.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	web, err := session.New(session.Config{Identity: session.Identity{EntityID: "pack-1", Role: message.RolePack, Addr: canid.AddrPack,
		Access: message.AccessData{Type: "can", ChainID: "web4-local", DeviceID: "pack-1", Endpoint: "0x40"}},
		Endpoint: b.Join("pack-web4"), Clock: clock.Real{}, Rand: rand.Reader, Store: session.NewMemStore(), Authority: auth.Public()})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stopWeb := context.WithCancel(ctx)
	webDone := make(chan struct{})
	go func() { web.Run(wctx); close(webDone) }()
	defer func() { stopWeb(); <-webDone }()
	keyFile := filepath.Join(dir, "authority.pub")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(auth.Public().Bytes())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	nvmPath := filepath.Join(dir, "m.nvm")
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "firmware"), "--bus", addr, "--unique-id", "0xCAFE0001", "--cells", "12",
		"--seed", "3", "--nvm", nvmPath, "--profile", "zero", "--log-level", "debug", "--authority-key", "@"+keyFile)
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
			t.Logf("firmware stderr:\n%s", stderr.String())
		}
	}()

	recv := func(want legacy.MsgID) legacy.Decoded {
		t.Helper()
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		defer rcancel()
		for {
			r, err := pack.Receive(rctx)
			if err != nil {
				t.Fatalf("waiting for %s: %v", want, err)
			}
			if canid.Classify(r.Frame.ID, r.Frame.Extended) != canid.Legacy {
				continue // the module's Web4 boot report
			}
			d, err := legacy.Decode(r.Frame)
			if err != nil {
				t.Fatalf("undecodable frame %s: %v", r.Frame.String(), err)
			}
			if d.Msg.MsgID() == want {
				return d
			}
		}
	}
	send := func(m legacy.Message, id uint8) {
		t.Helper()
		f, err := legacy.EncodeModule(m, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := pack.Send(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	// The process may join after its boot announcement would have gone out on a bus without
	// it: ask until it answers.
	var ann *legacy.Announcement
	for i := 0; ann == nil && i < 20; i++ {
		send(&legacy.AnnounceRequest{RequestType: 1}, legacy.ModuleUnregistered)
		rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		r, err := pack.Receive(rctx)
		rcancel()
		if err != nil {
			continue
		}
		if d, err := legacy.Decode(r.Frame); err == nil && d.Msg.MsgID() == legacy.IDAnnouncement {
			ann = d.Msg.(*legacy.Announcement)
		}
	}
	if ann == nil {
		t.Fatal("no announcement from the image")
	}
	if ann.UniqueID != 0xCAFE0001 || ann.Manufacturer != module.DefaultManufacturer || ann.FirmwareBuild != module.DefaultFirmwareBuild {
		t.Fatalf("announcement %+v", ann)
	}
	send(&legacy.Registration{ModuleID: 7, ControllerID: 1, Manufacturer: ann.Manufacturer, Part: ann.Part, UniqueID: ann.UniqueID}, legacy.ModuleUnregistered)
	recv(legacy.IDTimeRequest)
	send(&legacy.StatusRequest{ModuleID: 7}, 7)
	if s1 := recv(legacy.IDStatus1); s1.ModuleID != 7 || s1.Msg.(*legacy.Status1).CellCount != 12 {
		t.Fatalf("status1 %+v", s1)
	}
	recv(legacy.IDStatus2)
	recv(legacy.IDStatus3)
	recv(legacy.IDCellComm1)
	// Registered as 7, the module is Web4 node 0x07 and reports the image it runs.
	var boot *message.Announce
	for boot == nil {
		select {
		case ev := <-web.Events():
			if a, ok := ev.(session.EventAnnounce); ok && a.Peer == 7 && a.Announce.Kind == message.AnnounceImage {
				boot = a.Announce
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no boot report from the image")
		}
	}
	if err := image.Match(boot, img); err != nil {
		t.Fatal(err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if !strings.Contains(stderr.String(), img.HashHex()) || !strings.Contains(stderr.String(), "0.4.0-test") {
		t.Fatalf("boot log does not report the image %s", img)
	}
	if _, err := os.Stat(nvmPath); err != nil {
		t.Fatalf("NVM file: %v", err)
	}
}
