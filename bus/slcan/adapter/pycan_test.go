package adapter

import (
	"bufio"
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/internal/peers"
)

// python-can's slcan interface, a real host program, exchanges frames both ways with the
// adapter over the pty.
func TestPythonCanSlcan(t *testing.T) {
	py := peers.PythonCan(t)
	r := newRig(t, Config{})
	toBus := []string{"123#AABB", "7FF#", "000#0102030405060708", "1ABCDEF0#11", "00000001#A1A2A3A4A5A6A7A8", "456#R3", "1FFFFFFF#R"}
	toHost := []string{"321#CC", "555#01020304050607", "0CDEF012#", "1FFFFFFF#FFEEDDCCBBAA9988", "100#R8", "00000002#R"}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := append([]string{"testdata/pycan_slcan.py", r.pair.Path(), strconv.Itoa(len(toHost))}, toBus...)
	cmd := exec.CommandContext(ctx, py, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	next := func() string {
		if !lines.Scan() {
			cmd.Wait()
			t.Fatalf("python-can ended early; stderr:\n%s", stderr.String())
		}
		return lines.Text()
	}
	if l := next(); l != "sent" {
		t.Fatalf("python said %q", l)
	}
	for _, want := range toBus {
		got, err := r.peer.Receive(ctx)
		if err != nil || got.Frame.String() != want {
			t.Fatalf("bus got %v, %v; want %s", got.Frame, err, want)
		}
	}
	for _, s := range toHost {
		if err := r.peer.Send(ctx, mustFrame(t, s)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range toHost {
		if got := next(); got != want {
			t.Fatalf("python-can received %q, want %q", got, want)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("python-can: %v\n%s", err, stderr.String())
	}
	if s := r.ad.Stats(); s.ToBus != uint64(len(toBus)) || s.ToHost != uint64(len(toHost)) {
		t.Fatalf("adapter stats %+v", s)
	}
}

// mustFrame reads candump compact syntax (classic frames only).
func mustFrame(t *testing.T, s string) bus.Frame {
	t.Helper()
	id, rest, _ := strings.Cut(s, "#")
	var f bus.Frame
	f.Extended = len(id) > 3
	for _, c := range id {
		f.ID = f.ID<<4 | uint32(hexVal(c))
	}
	if strings.HasPrefix(rest, "R") {
		f.Remote = true
		if len(rest) > 1 {
			f.Len = uint8(rest[1] - '0')
		}
		return f
	}
	for i := 0; i+1 < len(rest); i += 2 {
		f.Data[f.Len] = byte(hexVal(rune(rest[i])))<<4 | byte(hexVal(rune(rest[i+1])))
		f.Len++
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	return f
}

func hexVal(c rune) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return int(c-'a') + 10
}
