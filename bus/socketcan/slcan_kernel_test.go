package socketcan_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/socketcan"
	"github.com/modbatt/hilrun/internal/guestkernel"
	"github.com/modbatt/hilrun/internal/peers"
)

// TestKernelSLCAN boots User-Mode Linux and runs TestGuestSLCAN in it: the kernel's slcan line
// discipline, attached by slcand to a pty whose other end this test holds, carries frames
// between slcan0 and the serial line. The host's /dev/pts is not the guest's, so both ends of
// the pty live inside the guest.
func TestKernelSLCAN(t *testing.T) {
	peers.Tool(t, "slcand", "can-utils")
	peers.Tool(t, "cansend", "can-utils")
	guestkernel.RunTest(t, guestkernel.Spec{Kind: guestkernel.UML, Test: "^TestGuestSLCAN$", Modules: umlModules})
}

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

// attachSLCAN runs slcand on the pty slave and waits for slcan0, then sets it up.
func attachSLCAN(t *testing.T, slave string) {
	t.Helper()
	cmd := exec.Command("slcand", "-o", "-c", "-s6", "-F", slave, "slcan0")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(unix.SIGTERM)
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		all, err := socketcan.Interfaces()
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range all {
			if i.Name == "slcan0" {
				if i.Kind != "can" { // the slcan driver registers through can-dev's "can" link kind
					t.Errorf("slcan0 kind %q", i.Kind)
				}
				if err := socketcan.SetUp("slcan0", true); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("slcand made no slcan0: %s", out.String())
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
	attachSLCAN(t, slave)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
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
