package isotp

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

// TestFrameTable renders the frame-count and wire-time table of the specification (section 5)
// from the engine's own frames and checks it against testdata/frame-table.md.
func TestFrameTable(t *testing.T) {
	classic := bus.Timing{Nominal: 500_000}
	fd := bus.Timing{Nominal: 500_000, Data: 2_000_000}
	var b bytes.Buffer
	fmt.Fprintln(&b, "| message bytes | classic frames (data + FC) | classic wire time, 500 kbit/s | FD frames (data + FC) | FD wire time, 500k/2M BRS |")
	fmt.Fprintln(&b, "| ---: | ---: | ---: | ---: | ---: |")
	for _, n := range []int{7, 16, 62, 210, 512, 1024, 4095} {
		cf, cfc, ct := transfer(t, ProfileV1(), n, classic)
		ff, ffc, ft := transfer(t, ProfileV1FD(), n, fd)
		if cf != Frames(n, false) || ff != Frames(n, true) || cfc != FlowControls(n, false, 0) || ffc != FlowControls(n, true, 0) {
			t.Fatalf("%d bytes: engine and Frames disagree", n)
		}
		fmt.Fprintf(&b, "| %d | %d + %d = %d | %s | %d + %d = %d | %s |\n", n, cf, cfc, cf+cfc, ms(ct), ff, ffc, ff+ffc, ms(ft))
	}
	golden := filepath.Join("testdata", "frame-table.md")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, b.Bytes()) {
		t.Errorf("table changed (run with -update):\n%s", b.String())
	}
}

// transfer runs a transfer between two nodes and sums the worst-case wire time of every frame, back
// to back (STmin 0, no reaction time).
func transfer(t *testing.T, c Config, n int, tm bus.Timing) (data, fcs int, d time.Duration) {
	w := newWire(t, mustNode(t, modAddr, c), mustNode(t, packAddr, c))
	w.send(modAddr, Message{ID: cmdID, Data: seq(n)})
	w.run()
	if len(w.msgs[packAddr]) != 1 {
		t.Fatalf("%d bytes not delivered", n)
	}
	for _, s := range w.log {
		d += tm.Duration(&s.f, bus.WorstCase)
		if s.from == packAddr {
			fcs++
		} else {
			data++
		}
	}
	return data, fcs, d
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }
