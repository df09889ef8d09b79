package latency

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/modbatt/hilrun/internal/peers"
)

// TestHistogramsRender converts every histogram of the HTML report with librsvg, an SVG
// renderer independent of this code, and checks that each gives a PNG of the drawn size.
func TestHistogramsRender(t *testing.T) {
	rsvg := peers.Tool(t, "rsvg-convert", "librsvg2-bin")
	var page bytes.Buffer
	if err := modelledRun(t).WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	svgs := regexp.MustCompile(`(?s)<svg.*?</svg>`).FindAll(page.Bytes(), -1)
	if len(svgs) != 7 { // every measured row
		t.Fatalf("%d histograms, want 7", len(svgs))
	}
	dir := t.TempDir()
	for i, svg := range svgs {
		in, out := filepath.Join(dir, "h.svg"), filepath.Join(dir, "h.png")
		os.WriteFile(in, svg, 0o644)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		msg, err := exec.CommandContext(ctx, rsvg, "-o", out, in).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("histogram %d: rsvg-convert: %v\n%s", i, err, msg)
		}
		png, _ := os.ReadFile(out)
		if len(png) < 24 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("histogram %d: not a PNG", i)
		}
		w := int(png[16])<<24 | int(png[17])<<16 | int(png[18])<<8 | int(png[19])
		h := int(png[20])<<24 | int(png[21])<<16 | int(png[22])<<8 | int(png[23])
		if w != svgW || h != svgH {
			t.Errorf("histogram %d: %dx%d, want %dx%d", i, w, h, svgW, svgH)
		}
	}
}
