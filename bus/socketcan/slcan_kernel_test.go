package socketcan_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/bus/pty"
	"github.com/modbatt/hilrun/bus/slcan/adapter"
	"github.com/modbatt/hilrun/bus/socketcan"
	"github.com/modbatt/hilrun/internal/guestkernel"
)

// The slcan tests run in the UML guest TestKernelUML boots. The host's /dev/pts is not the
// guest's, so both ends of each pty live inside the guest.

// openPTY returns a pty master and the path of its slave.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	rc, err := m.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		if ierr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ierr == nil {
			n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		}
	}); err != nil || ierr != nil {
		t.Fatalf("pty: %v %v", err, ierr)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

// attachSLCAN runs slcand on the pty slave and waits for the interface, then sets it up.
func attachSLCAN(t *testing.T, slave, name string) {
	t.Helper()
	cmd := exec.Command("slcand", "-o", "-c", "-s6", "-F", slave, name)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(unix.SIGTERM)
		cmd.Wait()
	})
	deadline := time.Now().Add(60 * time.Second) // slcand is slow to start in a guest on a loaded host
	for {
		all, err := socketcan.Interfaces()
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range all {
			if i.Name == name {
				if i.Kind != "can" { // the slcan driver registers through can-dev's "can" link kind
					t.Errorf("%s kind %q", name, i.Kind)
				}
				if err := socketcan.SetUp(name, true); err != nil {
					t.Fatal(err)
				}
				t.Logf("slcand made %+v", i)
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("slcand made no %s: %s", name, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestGuestSLCAN(t *testing.T) {
	guestkernel.Only(t, guestkernel.UML)
	master, slave := openPTY(t)
	lines := make(chan string, 64)
	go func() {
		r := bufio.NewReader(master)
		for {
			s, err := r.ReadString('\r')
			if err != nil {
				close(lines)
				return
			}
			lines <- strings.TrimSuffix(s, "\r")
		}
	}()
	attachSLCAN(t, slave, "slcan0")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	next := func() string {
		t.Helper()
		select {
		case s, ok := <-lines:
			if !ok {
				t.Fatal("pty closed")
			}
			return s
		case <-ctx.Done():
			t.Fatal("nothing on the serial line")
		}
		return ""
	}
	// slcand configures the adapter: close the channel, bitrate S6 (500 kbit/s), open.
	var setup []string
	for len(setup) == 0 || setup[len(setup)-1] != "O" {
		if s := next(); s != "" {
			setup = append(setup, s)
		}
	}
	if got := strings.Join(setup, " "); got != "C S6 O" {
		t.Errorf("slcand sent %q, want \"C S6 O\"", got)
	}

	t.Run("kernel-to-line", func(t *testing.T) {
		for _, c := range []struct{ frame, line string }{
			{"123#1122", "t12321122"},
			{"18DA40F1#0102030405060708", "T18DA40F180102030405060708"},
			{"321#R", "r3210"},
		} {
			if out, err := exec.CommandContext(ctx, "cansend", "slcan0", c.frame).CombinedOutput(); err != nil {
				t.Fatalf("cansend %s: %v: %s", c.frame, err, out)
			}
			if got := next(); got != c.line {
				t.Errorf("cansend %s put %q on the line, want %q", c.frame, got, c.line)
			}
		}
	})
	t.Run("line-to-kernel", func(t *testing.T) {
		ep := open(t, "slcan0", false)
		for _, c := range []struct {
			line string
			want bus.Frame
		}{
			{"t4562ABCD", frame(0x456, false, 0xAB, 0xCD)},
			{"T0C1234404DEADBEEF", frame(0x0C123440, true, 0xDE, 0xAD, 0xBE, 0xEF)},
		} {
			if _, err := master.Write([]byte(c.line + "\r")); err != nil {
				t.Fatal(err)
			}
			got, err := ep.Receive(ctx)
			if err != nil {
				t.Fatalf("after %q on the line: %v", c.line, err)
			}
			if got.Frame != c.want {
				t.Errorf("%q on the line arrived as %v, want %v", c.line, got.Frame, c.want)
			}
		}
	})
}

// TestGuestSLCANAdapter: cansend on slcan1 reaches a peer on the emulated bus through the
// kernel's slcan driver and the adapter emulator, and the peer's frames come back up to a
// SocketCAN endpoint on slcan1.
func TestGuestSLCANAdapter(t *testing.T) {
	guestkernel.Only(t, guestkernel.UML)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	b, err := emu.New(emu.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	peer := b.Join("peer")
	a := adapter.New(b.Join("adapter"), adapter.Config{Logger: slog.New(slog.DiscardHandler)})
	pair, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer pair.Close()
	served := make(chan error, 1)
	go func() { served <- a.ServePTY(ctx, pair) }()
	attachSLCAN(t, pair.Path(), "slcan1")

	for _, f := range testFrames(false) {
		if out, err := exec.CommandContext(ctx, "cansend", "slcan1", f.String()).CombinedOutput(); err != nil {
			t.Fatalf("cansend %s: %v: %s", f, err, out)
		}
		got, err := peer.Receive(ctx)
		if err != nil {
			t.Fatalf("peer after cansend %s: %v (adapter %+v)", f, err, a.Stats())
		}
		if got.Frame != f {
			t.Errorf("peer received %v, cansend sent %v", got.Frame, f)
		}
	}
	// Opened only now: the kernel loops frames sent on slcan1 back to its other sockets.
	ep := open(t, "slcan1", false)
	for _, f := range testFrames(false) {
		f.ID ^= 0x5
		if err := peer.Send(ctx, f); err != nil {
			t.Fatal(err)
		}
		got, err := ep.Receive(ctx)
		if err != nil {
			t.Fatalf("slcan1 after the peer sent %s: %v (adapter %+v)", f, err, a.Stats())
		}
		if got.Frame != f {
			t.Errorf("slcan1 received %v, the peer sent %v", got.Frame, f)
		}
	}
	// slcand starts with C on a channel that is already closed, which a Lawicel adapter refuses.
	if s := a.Stats(); s.Commands != 7 || s.Refused > 1 || s.ToBus != 4 || s.ToHost != 4 {
		t.Errorf("adapter stats %+v, want 7 commands (C S6 O and 4 transmits), at most C refused, 4 frames each way", s)
	}
	cancel()
	<-served
}
