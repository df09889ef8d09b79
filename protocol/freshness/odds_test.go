package freshness

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

// TestForgeryOdds renders the forgery-odds table of the specification (section 6.5) and checks
// it against testdata/forgery-odds.md.
func TestForgeryOdds(t *testing.T) {
	tm := bus.Timing{Nominal: 500_000}
	f := bus.Frame{ID: telID.Encode(), Extended: true, Len: 8}
	worst, best := tm.Duration(&f, bus.WorstCase), tm.Duration(&f, bus.Unstuffed)
	p := DefaultPolicy()
	macBits := 8 * Classic().MACBytes
	perTry := math.Ldexp(1, -macBits)
	n50 := math.Log(2) / -math.Log1p(-perTry) // attempts for a 50 % chance of one success
	var b bytes.Buffer
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	fmt.Fprintln(&b, "| quantity | value |")
	fmt.Fprintln(&b, "| --- | --- |")
	row("MAC length (classic layout)", fmt.Sprintf("%d bits", macBits))
	row("success probability per forged frame", fmt.Sprintf("2^-%d = %.3g", macBits, perTry))
	row("expected forged frames per accepted forgery", fmt.Sprintf("2^%d = %.4g", macBits, 1/perTry))
	row("forged frames for a 50 % chance", fmt.Sprintf("%.4g", n50))
	row("extended 8-byte frame at 500 kbit/s", fmt.Sprintf("%v worst case, %v unstuffed", worst, best))
	fpsW, fpsB := float64(time.Second)/float64(worst), float64(time.Second)/float64(best)
	row("most frames per second the bus carries", fmt.Sprintf("%.0f (worst-case stuffing) to %.0f (no stuffing)", fpsW, fpsB))
	row("time to a 50 % chance, no lock-out, whole bus", fmt.Sprintf("%.2f to %.2f days", n50/fpsB/86400, n50/fpsW/86400))
	perCycle := float64(p.Threshold) / p.Lockout.Seconds()
	row(fmt.Sprintf("attempts per second with lock-out (%d failures → %v)", p.Threshold, p.Lockout), fmt.Sprintf("%.3g", perCycle))
	row("time to a 50 % chance, with lock-out", fmt.Sprintf("%.0f years", n50/perCycle/86400/365.25))
	row("escalations before a 50 % chance, with lock-out", fmt.Sprintf("%.3g", n50/float64(p.Threshold)))
	fd := 64
	row("CAN FD layout MAC", fmt.Sprintf("%d bits: 2^-%d per forged frame", fd, fd))

	golden := filepath.Join("testdata", "forgery-odds.md")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
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
