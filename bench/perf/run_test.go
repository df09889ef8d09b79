package perf

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bench/latency"
	"github.com/modbatt/hilrun/bench/rig"
)

// TestRunZeroProfile runs the sign-off on the default emulated rig with the zero profile and
// a few samples: every operation of the run is measured, commands reach every module in turn,
// and L7 ends at the pack's verification.
func TestRunZeroProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("brings a rig up")
	}
	r, err := rig.Load(filepath.Join("..", "..", "rigs", "emulated.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{Rig: r, ReportDir: dir, Images: &framework.Images{OutDir: filepath.Join(dir, "images")},
		Zero: true, Samples: 4, Telemetry: 1, Rare: 2, Recovery: -1, Modules: 2, Spin: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]latency.Operation{}
	for _, o := range res.Report.Operations {
		rows[o.Key] = o
	}
	for _, k := range []string{"binding-pack", "binding-module", "pairing-pack", "pairing-module", "l6-validation/module",
		"l5-command-ack/charge-discharge", "l5-command-ack/emergency-isolate", "l5-telemetry/aead-record", "l5-telemetry/short",
		"l3-handshake", "l7-validation/verification"} {
		if rows[k].Measured.Count == 0 {
			t.Errorf("%s not measured", k)
		}
	}
	if n := rows["binding-module"].Measured.Count; n != 2 {
		t.Errorf("%d module bindings, want one per module commanded (2)", n)
	}
	// Round robin: each class's samples go to module 1, then 2, then 1 …
	for _, o := range res.Report.Operations {
		if o.Operation != "l5-command-ack" {
			continue
		}
		var targets []uint8
		for _, s := range o.Samples {
			targets = append(targets, s.Nodes[len(s.Nodes)-1])
		}
		if !slices.Equal(targets, []uint8{1, 2, 1, 2}) {
			t.Errorf("%s went to modules %v", o.Key, targets)
		}
	}
	if b := rows["l5-telemetry/short"].Budget; b == nil || b.Op != "l5-telemetry/short" || b.Per == latency.PerFrame {
		t.Errorf("single-frame telemetry judged against %+v, want its own per-operation row", b)
	}
	for _, s := range rows["l5-telemetry/short"].Samples {
		if s.Frames < 2 {
			t.Errorf("single-frame telemetry sample with %d frames: the module's and the relay are both in the window", s.Frames)
		}
	}
	l7 := rows["l7-validation/verification"]
	for _, s := range l7.Samples {
		// The record's relay to the pack, its ISO-TP flow control included, and nothing else.
		if s.Frames < 20 || s.Floor < 5*time.Millisecond || s.Measured < s.Floor {
			t.Errorf("L7 sample: %d frames, floor %v, measured %v", s.Frames, s.Floor, s.Measured)
		}
		verifies := 0
		for _, d := range s.Compute {
			for _, op := range d.Ops {
				if op.Op == "verify" {
					verifies += op.Units
				}
			}
		}
		if verifies == 0 {
			t.Errorf("L7 sample without the pack's verification: %+v", s.Compute)
		}
	}
}
