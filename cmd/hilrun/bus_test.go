package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/bus/socketcand"
)

// lockedBuffer is a bytes.Buffer safe to read while the command writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestBusServe(t *testing.T) {
	dir, err := os.MkdirTemp("", "hb")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "bus.sock")
	logPath := filepath.Join(dir, "bus.log")
	var out, errb lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- dispatch(ctx, &cli{stdout: &out, stderr: &errb}, []string{"bus", "serve",
			"--listen", "unix:" + sock, "--pacing", "fast", "--capture", logPath,
			"--faults", "drop:id=0x666", "--socketcand", "127.0.0.1:0", "--stats", "0"})
	}()
	var scAddr string
	deadline := time.Now().Add(5 * time.Second)
	for scAddr == "" {
		if m := regexp.MustCompile(`socketcand on (\S+)`).FindStringSubmatch(out.String()); m != nil {
			scAddr = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no start; stdout %q stderr %q", out.String(), errb.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	a, err := emu.Dialer{Name: "a"}.Dial(dctx, "unix:"+sock)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sc, err := socketcand.Dial(dctx, scAddr, "emu0")
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	time.Sleep(50 * time.Millisecond) // let both joins reach the bus
	for _, f := range []bus.Frame{{ID: 0x666, Len: 1}, {ID: 0x123, Len: 2, Data: [64]byte{0xAB, 0xCD}}} {
		if err := a.Send(dctx, f); err != nil {
			t.Fatal(err)
		}
	}
	r, err := sc.Receive(dctx)
	if err != nil || r.Frame.ID != 0x123 || r.Frame.Data[1] != 0xCD {
		t.Fatalf("socketcand client got %v, %v", r.Frame, err)
	}
	if err := sc.Send(dctx, bus.Frame{ID: 0x18FF0001, Extended: true, Len: 1, Data: [64]byte{7}}); err != nil {
		t.Fatal(err)
	}
	if r, err := a.Receive(dctx); err != nil || r.Frame.ID != 0x18FF0001 {
		t.Fatalf("client got %v, %v", r.Frame, err)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "listening on unix:"+sock) || !strings.Contains(out.String(), "dropped 1") {
		t.Errorf("stdout %q", out.String())
	}
	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], " emu0 123#ABCD") || !strings.HasSuffix(lines[1], " emu0 18FF0001#07") {
		t.Errorf("capture %q", log)
	}
}

func TestBusServeRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bus"},
		{"bus", "frob"},
		{"bus", "serve", "--pacing", "slow"},
		{"bus", "serve", "--faults", "drop:p=2"},
		{"bus", "serve", "--listen", "tcp:10.0.0.1:1"},
		{"bus", "serve", "--listen", "udp:x"},
		{"bus", "serve", "--data-bitrate", "2000000"}, // without --fd
	} {
		if code, _, _ := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d", args, code)
		}
	}
	if code, _, _ := runCLI(t, "bus", "serve", "--help"); code != exitOK {
		t.Errorf("--help exit %d", code)
	}
}
