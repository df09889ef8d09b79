package legacy

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/protocol/canid"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// TestDescribeGolden pins the one-line description of every golden frame and of a few bad ones.
func TestDescribeGolden(t *testing.T) {
	var b strings.Builder
	for i := range golden {
		f := encodeGolden(t, i)
		d, ok := Describe(f)
		if !ok || d.Err != nil {
			t.Fatalf("%s: ok %v err %v", f, ok, d.Err)
		}
		b.WriteString(f.String() + "  " + d.String() + "\n")
	}
	for _, f := range []bus.Frame{
		frame(0x14080005, true, 4, 0, 0, 0, 0, 0, 0, 0),
		frame(0x14240005, true, 1, 2),
		frame(0x14080020, true),
		frame(0x407, false, 1, 2, 3),
	} {
		d, ok := Describe(f)
		if !ok || d.Err == nil {
			t.Fatalf("%s: ok %v err %v", f, ok, d.Err)
		}
		b.WriteString(f.String() + "  " + d.String() + "\n")
	}
	path := filepath.Join("testdata", "describe.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if b.String() != string(want) {
		t.Errorf("descriptions differ from %s (go test -update to accept):\n%s", path, b.String())
	}
}

// TestDescribeMatchesClassify: Describe claims a frame exactly when canid.Classify calls its
// identifier legacy, over every 11-bit identifier and every extended identifier whose base is
// near the legacy range, and no Web4 identifier is ever described.
func TestDescribeMatchesClassify(t *testing.T) {
	check := func(id uint32, ext bool) {
		_, ok := Describe(bus.Frame{ID: id, Extended: ext, Len: 8})
		if want := canid.Classify(id, ext) == canid.Legacy; ok != want {
			t.Fatalf("id %#x ext %v: Describe ok %v, Classify legacy %v", id, ext, ok, want)
		}
	}
	for id := uint32(0); id <= bus.MaxStandardID; id++ {
		check(id, false)
	}
	for base := uint32(0x4F0); base <= 0x52F; base++ {
		for eid := uint32(0); eid < 1<<18; eid += 0x101 {
			check(base<<18|eid, true)
		}
		check(base<<18|0x3FFFF, true)
	}
	for _, typ := range canid.Types() {
		id := canid.New(typ, false, 0, canid.AddrPack, canid.AddrApp).Encode()
		if _, ok := Describe(bus.Frame{ID: id, Extended: true}); ok {
			t.Errorf("web4 %v described as legacy", typ)
		}
	}
}
