package socketcand

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/internal/peers"
)

// python-can's socketcand interface exchanges frames both ways with the server.
//
// python-can 4.1 sends data frames only (no sendrtr, no fdsend), writes identifiers without
// leading zeros (an extended identifier below 0x800 would arrive as a standard one, so none is
// used here), and does not report whether a received identifier was extended.
func TestPythonCanSocketcand(t *testing.T) {
	py := peers.PythonCan(t)
	r := newServer(t)
	host, port, _ := net.SplitHostPort(r.addr)
	toBus := []string{"123#AABB", "7FF#", "000#0102030405060708", "1ABCDEF0#11", "18FF0040#A1A2A3A4A5A6A7A8", "000ABCDE#0102"}
	toClient := []bus.Frame{fr(0x321, false, 0xCC), fr(0x555, false, 1, 2, 3, 4, 5, 6, 7), fr(0x0CDEF012, true),
		fr(0x1FFFFFFF, true, 0xFF, 0xEE, 0xDD, 0xCC, 0xBB, 0xAA, 0x99, 0x88), fr(0x001, false)}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := append([]string{"testdata/pycan_socketcand.py", host, port, strconv.Itoa(len(toClient))}, toBus...)
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
	for _, f := range toClient {
		if err := r.peer.Send(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range toClient {
		want := fmt.Sprintf("%X#%X", f.ID, f.Payload())
		if got := next(); got != want {
			t.Fatalf("python-can received %q, want %q", got, want)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("python-can: %v\n%s", err, stderr.String())
	}
	if s := r.srv.Stats(); s.FramesIn != uint64(len(toBus)) || s.FramesOut != uint64(len(toClient)) || s.Dropped != 0 {
		t.Fatalf("server stats %+v", s)
	}
}
