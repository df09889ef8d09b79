package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/bus/slcan"
)

// syncBuffer is a bytes.Buffer safe to read while the command writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The command puts an adapter on an emulated bus: our slcan transport opens the link and
// exchanges frames with another member of the bus.
func TestSlcanAdapterCommand(t *testing.T) {
	dir := t.TempDir()
	b, err := emu.New(emu.Config{Pacing: emu.AsFastAsPossible, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := "unix:" + filepath.Join(dir, "bus.sock")
	a, _ := emu.ParseAddress(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln, err := emu.Listen(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	go emu.NewServer(b, slog.New(slog.DiscardHandler)).Serve(ctx, ln, emu.Framed)
	peer := b.Join("peer")

	link := filepath.Join(dir, "ttyCAN0")
	var out, errs syncBuffer
	cmdCtx, stop := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() {
		done <- runSlcanAdapter(cmdCtx, &cli{stdout: &out, stderr: &errs}, []string{"--bus", addr, "--link", link})
	}()
	for range 200 {
		if _, err := os.Stat(link); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	p, err := slcan.Open(ctx, link, slcan.Config{})
	if err != nil {
		t.Fatalf("open %s: %v\nstderr: %s", link, err, errs.String())
	}
	f := bus.Frame{ID: 0x1ABCDEF0, Extended: true, Len: 2, Data: [64]byte{1, 2}}
	if err := p.Send(ctx, f); err != nil {
		t.Fatal(err)
	}
	if got, err := peer.Receive(ctx); err != nil || got.Frame != f {
		t.Fatalf("peer got %v, %v", got.Frame, err)
	}
	g := bus.Frame{ID: 0x123, Len: 1, Data: [64]byte{9}}
	if err := peer.Send(ctx, g); err != nil {
		t.Fatal(err)
	}
	if got, err := p.Receive(ctx); err != nil || got.Frame != g {
		t.Fatalf("port got %v, %v", got.Frame, err)
	}
	p.Close()
	stop()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d, stderr: %s", code, errs.String())
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Fatalf("link left behind: %v", err)
	}
}

func TestSlcanAdapterUsage(t *testing.T) {
	if code, _, _ := runCLI(t, "slcan-adapter"); code != exitUsage {
		t.Fatalf("no --bus: exit %d", code)
	}
	if code, _, errs := runCLI(t, "slcan-adapter", "--bus", "unix:/nonexistent/bus.sock"); code != exitEnviron {
		t.Fatalf("unreachable bus: exit %d %s", code, errs)
	}
}
