package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modbatt/hilrun/bench/latency"
)

// TestBenchRunZero runs the sign-off on the default rig at the zero profile with few samples:
// the four files are written and every operation carries a verdict.
func TestBenchRunZero(t *testing.T) {
	if testing.Short() {
		t.Skip("brings the emulated rig up (seconds)")
	}
	dir := t.TempDir()
	code, out, errs := runCLI(t, "bench", "--rig", "../../rigs/emulated.yaml", "--report-dir", dir, "--profile", "zero",
		"--samples", "2", "--telemetry", "1", "--rare", "1", "--recovery", "0")
	if code != exitOK && code != exitFailed {
		t.Fatalf("bench: exit %d\n%s\n%s", code, out, errs)
	}
	for _, f := range []string{"latency.json", "latency.html", "latency.md", "latency-junit.xml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	rep, err := latency.LoadReport(filepath.Join(dir, "latency.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"l5-command-ack/charge-discharge": false, "l5-command-ack/emergency-isolate": false,
		"l5-telemetry/aead-record": false, "binding-module": false, "pairing-module": false, "poll-cycle": false}
	for _, o := range rep.Operations {
		if o.Verdict.Status == "" {
			t.Errorf("%s: no verdict", o.Key)
		}
		if _, ok := want[o.Key]; ok {
			want[o.Key] = o.Measured.Count > 0
		}
		for _, s := range o.Samples {
			if o.Operation != "poll-cycle" && (s.Frames == 0 || s.Floor <= 0 || s.Measured < s.Floor) {
				t.Errorf("%s: sample with %d frames, floor %v, measured %v", o.Key, s.Frames, s.Floor, s.Measured)
			}
		}
		if o.Operation == "l5-command-ack" && o.Verdict.Status != "software-only" && o.Verdict.Status != "fail" {
			t.Errorf("%s at the zero profile: verdict %s", o.Key, o.Verdict.Status)
		}
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("%s not measured", k)
		}
	}
	if !strings.Contains(out, "verdict") || !strings.Contains(out, "l5-command-ack/charge-discharge") {
		t.Errorf("no table in the output:\n%s", out)
	}
}
