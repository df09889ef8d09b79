package latency

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/protocol/suite"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// dev is a device's compute for the given operation counts at profile p.
func dev(device, role string, p mcu.Profile, ops ...any) DeviceCompute {
	var ts []mcu.Tally
	for i := 0; i < len(ops); i += 2 {
		op, n := ops[i].(suite.Op), ops[i+1].(int)
		ts = append(ts, mcu.Tally{Op: op, Calls: 1, Units: n, Total: p.Cost(op, n)})
	}
	return ComputeOf(device, role, p, ts)
}

// series makes n samples of an operation: floor and compute fixed, measured = floor + compute +
// overhead + a deterministic jitter of up to jitter.
func series(op, variant string, n int, floor time.Duration, frames int, overhead, jitter time.Duration, compute ...DeviceCompute) []Sample {
	var out []Sample
	start := t0
	for i := range n {
		s := Sample{Operation: op, Variant: variant, Floor: floor, Frames: frames, Compute: compute}
		s.Measured = floor + s.ComputeTotal() + overhead + time.Duration(i*37%n)*jitter/time.Duration(n)
		s.Start = start
		s.End = start.Add(s.Measured)
		s.Buses = []BusFloor{{Iface: "can0", Bitrate: 500_000, Frames: frames, Busy: floor}}
		start = start.Add(time.Second)
		out = append(out, s)
	}
	return out
}

func loadTestSheet(t testing.TB) *Sheet {
	t.Helper()
	s, err := LoadSheet("testdata/budgets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// modelledRun is an emulated run with the real parts' profiles: one row of every verdict.
func modelledRun(t testing.TB) *Report {
	wb, avr := mcu.STM32WB55(), mcu.ATmega64M1()
	var ss []Sample
	// L5 command + ACK, one hop: 6.4 ms floor, module 12 AEAD blocks (6 ms), pack 24 µs: pass.
	ss = append(ss, series("l5-command-ack", "charge-discharge", 40, 6400*time.Microsecond, 20, 300*time.Microsecond, 2*time.Millisecond,
		dev("pack", RolePack, wb, suite.OpAEADBlock, 12), dev("module-01", RoleModule, avr, suite.OpAEADBlock, 12))...)
	ss = append(ss, series("l5-command-ack", "emergency-isolate", 20, 6720*time.Microsecond, 21, 300*time.Microsecond, time.Millisecond,
		dev("pack", RolePack, wb, suite.OpAEADBlock, 12), dev("module-01", RoleModule, avr, suite.OpAEADBlock, 13))...)
	// L3: the pack's verification alone is 90 ms: impossible.
	ss = append(ss, series("l3-handshake", "", 10, 15680*time.Microsecond, 49, time.Millisecond, 3*time.Millisecond,
		dev("pack", RolePack, wb, suite.OpVerify, 1, suite.OpSign, 1))...)
	// L6: impossible, waived by the sheet.
	ss = append(ss, series("l6-validation", "", 10, 25600*time.Microsecond, 80, time.Millisecond, 3*time.Millisecond,
		dev("module-01", RoleModule, avr, suite.OpHKDF, 1, suite.OpHashBlock, 4), dev("pack", RolePack, wb, suite.OpSign, 1, suite.OpVerify, 1))...)
	// L5 telemetry per frame: 3.52 ms over 11 frames plus 3 ms of module sealing: pass.
	ss = append(ss, series("l5-telemetry", "", 30, 3520*time.Microsecond, 11, 200*time.Microsecond, 500*time.Microsecond,
		dev("module-01", RoleModule, avr, suite.OpAEADBlock, 6), dev("pack", RolePack, wb, suite.OpAEADBlock, 6))...)
	// Poll cycle: possible on the silicon, but this run's p95 misses the 100 ms ceiling: fail.
	ss = append(ss, series("poll-cycle", "", 20, 14080*time.Microsecond, 44, 90*time.Millisecond, 20*time.Millisecond,
		dev("module-01", RoleModule, avr, suite.OpAEADBlock, 24), dev("pack", RolePack, wb, suite.OpAEADBlock, 24))...)
	// L4: no budget row.
	ss = append(ss, series("l4-handshake", "", 5, 8*time.Millisecond, 25, 500*time.Microsecond, time.Millisecond,
		dev("module-01", RoleModule, avr, suite.OpAEADBlock, 12))...)
	var rec Recorder
	for _, s := range ss {
		rec.Add(s)
	}
	return Build(rec.Samples(), Options{
		Run:       RunInfo{Rig: "emulated", Mode: ModeEmulated, Stuffing: "exact", Label: "test"},
		Sheet:     loadTestSheet(t),
		Generated: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC),
	})
}

// zeroRun is the same kind of run with the zero profile: operation counts, no modelled time.
func zeroRun(t testing.TB) *Report {
	z := mcu.Zero()
	var ss []Sample
	ss = append(ss, series("l5-command-ack", "charge-discharge", 40, 6400*time.Microsecond, 20, 300*time.Microsecond, 400*time.Microsecond,
		dev("pack", RolePack, z, suite.OpAEADBlock, 12), dev("module-01", RoleModule, z, suite.OpAEADBlock, 12))...)
	ss = append(ss, series("l3-handshake", "", 10, 15680*time.Microsecond, 49, 400*time.Microsecond, time.Millisecond,
		dev("pack", RolePack, z, suite.OpVerify, 1, suite.OpSign, 1))...)
	// No operation counts at all: the capability map prices L6.
	ss = append(ss, series("l6-validation", "", 10, 25600*time.Microsecond, 80, 4*time.Millisecond, time.Millisecond)...)
	return Build(ss, Options{Run: RunInfo{Rig: "emulated", Mode: ModeEmulated}, Sheet: loadTestSheet(t),
		Generated: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)})
}

func row(t *testing.T, r *Report, key string) *Operation {
	t.Helper()
	for i := range r.Operations {
		if r.Operations[i].Key == key {
			return &r.Operations[i]
		}
	}
	t.Fatalf("no row %q", key)
	return nil
}

func TestVerdictsModelled(t *testing.T) {
	r := modelledRun(t)
	tests := []struct {
		key, status string
		failed      bool
		reason      string
	}{
		{"l5-command-ack/charge-discharge", StatusPass, false, "p99"},
		{"l5-command-ack/emergency-isolate", StatusPass, false, ""},
		{"l3-handshake", StatusImpossible, true, "one verify on the pack (stm32wb55) takes 90 ms, alone above the 50 ms ceiling"},
		{"l6-validation", StatusWaived, false, "waived: the pack's signature"},
		{"l5-telemetry", StatusPass, false, "per frame"},
		{"poll-cycle", StatusFail, true, "p95"},
		{"l4-handshake", StatusNoBudget, false, ""},
		{"key-loss-recovery", StatusNotMeasured, false, ""},
	}
	for _, tt := range tests {
		o := row(t, r, tt.key)
		if o.Verdict.Status != tt.status || o.Verdict.Failed != tt.failed || !strings.Contains(o.Verdict.Reason, tt.reason) {
			t.Errorf("%s: %s failed=%v %q; want %s failed=%v containing %q", tt.key, o.Verdict.Status, o.Verdict.Failed, o.Verdict.Reason, tt.status, tt.failed, tt.reason)
		}
	}
	if r.Passed || strings.Join(r.Failures, ",") != "l3-handshake,poll-cycle" {
		t.Errorf("passed %v, failures %v", r.Passed, r.Failures)
	}
	p := row(t, r, "l3-handshake").Verdict.Prediction
	if p == nil || p.Source != "samples" || p.Compute != 135*time.Millisecond || p.Total != 150680*time.Microsecond {
		t.Errorf("l3 prediction %+v", p)
	}
	// Per-frame: (3.52 + 3 + 0.012) ms / 11 frames.
	if p := row(t, r, "l5-telemetry").Verdict.Prediction; p.PerFrame != (3520+3000+12)*time.Microsecond/11 {
		t.Errorf("telemetry per frame %v", p.PerFrame)
	}
	if f := row(t, r, "l5-command-ack/charge-discharge").Fidelity; f.Checked || f.Ratio < 1 {
		t.Errorf("modelled fidelity %+v", f)
	}
}

func TestVerdictsZeroProfile(t *testing.T) {
	r := zeroRun(t)
	o := row(t, r, "l5-command-ack/charge-discharge")
	if o.Verdict.Status != StatusSoftwareOnly || o.Verdict.Failed || !strings.Contains(o.Verdict.Reason, "zero-cost profile") ||
		!strings.Contains(o.Verdict.Reason, "predicted on real silicon ≥ 12.424 ms") {
		t.Errorf("zero-profile L5: %+v", o.Verdict)
	}
	if !o.Fidelity.Checked || !o.Fidelity.OK || o.Fidelity.Ratio > 1.1 {
		t.Errorf("fidelity %+v", o.Fidelity)
	}
	// The zero profile does not rescue L3: its operation counts are priced on the real pack.
	if o := row(t, r, "l3-handshake"); o.Verdict.Status != StatusImpossible || !o.Verdict.Failed {
		t.Errorf("zero-profile L3: %+v", o.Verdict)
	}
	// Without counts, the capability map prices L6; the sheet waives it.
	o = row(t, r, "l6-validation")
	if o.Verdict.Status != StatusWaived || o.Verdict.Prediction.Source != "capability-map" ||
		o.Verdict.Prediction.Compute != 186*time.Millisecond {
		t.Errorf("zero-profile L6: %+v %+v", o.Verdict, o.Verdict.Prediction)
	}
	if f := o.Fidelity; !f.Checked || f.OK {
		t.Errorf("L6 fidelity with 4 ms of overhead on 25.6 ms should miss 1.10: %+v", f)
	}
}

func TestVerdictsHardware(t *testing.T) {
	sheet := &Sheet{Name: "hw", Budgets: []Budget{{Op: "l3-handshake", Target: YAMLDuration(50 * time.Millisecond)}}}
	fast := series("l3-handshake", "", 5, 15680*time.Microsecond, 49, 20*time.Millisecond, time.Millisecond)
	r := Build(fast, Options{Run: RunInfo{Mode: ModeHardware}, Sheet: sheet})
	v := r.Operations[0].Verdict
	if v.Status != StatusPass || !strings.Contains(v.Reason, "cost model predicted a miss") {
		t.Errorf("hardware under the ceiling: %+v", v)
	}
	slow := series("l3-handshake", "", 5, 15680*time.Microsecond, 49, 140*time.Millisecond, time.Millisecond)
	r = Build(slow, Options{Run: RunInfo{Mode: ModeHardware}, Sheet: sheet})
	if v := r.Operations[0].Verdict; v.Status != StatusImpossible || !v.Failed || r.Passed {
		t.Errorf("hardware over the ceiling: %+v", v)
	}
	// No prediction for an operation the capability map does not know: a plain miss.
	sheet.Budgets[0].Op = "custom"
	slow = series("custom", "", 5, time.Millisecond, 3, 100*time.Millisecond, 0)
	if v := Build(slow, Options{Run: RunInfo{Mode: ModeHardware}, Sheet: sheet}).Operations[0].Verdict; v.Status != StatusFail {
		t.Errorf("custom: %+v", v)
	}
}

func TestBitrateWarning(t *testing.T) {
	ss := series("l5-command-ack", "", 3, 6400*time.Microsecond, 20, 0, 0)
	ss[1].Buses[0].Bitrate = 250_000
	r := Build(ss, Options{Sheet: loadTestSheet(t)})
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "can0 ran at 250000 bit/s") {
		t.Errorf("warnings %q", r.Warnings)
	}
	var b bytes.Buffer
	r.WriteMarkdown(&b)
	if !strings.Contains(b.String(), "> ⚠️ bus can0") {
		t.Errorf("markdown does not show the warning:\n%s", b.String())
	}
}

func TestWaiverDoesNotCoverAMiss(t *testing.T) {
	sheet := &Sheet{Budgets: []Budget{{Op: "l5-command-ack", Target: YAMLDuration(20 * time.Millisecond), Waiver: "slow bench"}}}
	ss := series("l5-command-ack", "", 5, 6400*time.Microsecond, 20, 30*time.Millisecond, 0,
		dev("module-01", RoleModule, mcu.ATmega64M1(), suite.OpAEADBlock, 12))
	if v := Build(ss, Options{Sheet: sheet}).Operations[0].Verdict; v.Status != StatusFail || !v.Failed {
		t.Errorf("a waiver passed a target the silicon can meet: %+v", v)
	}
}

func TestPerFrameWithoutFrames(t *testing.T) {
	ss := series("l5-telemetry", "", 5, 0, 0, time.Millisecond, 0)
	o := Build(ss, Options{Sheet: loadTestSheet(t)})
	v := row(t, o, "l5-telemetry").Verdict
	if v.Status != StatusFail || !v.Failed || !strings.Contains(v.Reason, "no capture") {
		t.Errorf("per-frame budget without frames: %+v", v)
	}
}

func TestRecorderConcurrent(t *testing.T) {
	var r Recorder
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			for i := range 100 {
				r.Add(Sample{Operation: "x", Measured: time.Duration(g*100 + i)})
			}
			done <- struct{}{}
		}()
	}
	for range 8 {
		<-done
	}
	if r.Len() != 800 || len(r.Samples()) != 800 {
		t.Errorf("recorded %d", r.Len())
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", name, got)
	}
}

func TestGoldenReports(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    *Report
	}{{"modelled", modelledRun(t)}, {"zero", zeroRun(t)}} {
		writers := map[string]func(*bytes.Buffer) error{
			".json": func(b *bytes.Buffer) error { return tc.r.WriteJSON(b) },
			".md":   func(b *bytes.Buffer) error { return tc.r.WriteMarkdown(b) },
			".xml":  func(b *bytes.Buffer) error { return tc.r.WriteJUnit(b) },
			".html": func(b *bytes.Buffer) error { return tc.r.WriteHTML(b) },
		}
		for ext, w := range writers {
			var b bytes.Buffer
			if err := w(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+ext, b.Bytes())
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := modelledRun(t)
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var b2 bytes.Buffer
	back.WriteJSON(&b2)
	if !bytes.Equal(b.Bytes(), b2.Bytes()) {
		t.Error("latency.json does not survive a round trip")
	}
}

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reports")
	if err := modelledRun(t).WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{FileJSON, FileHTML, FileMarkdown, FileJUnit} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	r := modelledRun(b)
	var ss []Sample
	for _, o := range r.Operations {
		ss = append(ss, o.Samples...)
	}
	sheet := loadTestSheet(b)
	b.ReportAllocs()
	for b.Loop() {
		Build(ss, Options{Sheet: sheet})
	}
}

func TestFidelityLeavesPacedOut(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	mk := func(measured, floor time.Duration, paced bool) Sample {
		return Sample{Operation: "op", Start: t0, End: t0.Add(measured), Measured: measured, Floor: floor, Frames: 1, Paced: paced}
	}
	r := Build([]Sample{mk(11*time.Millisecond, 10*time.Millisecond, false), mk(100*time.Millisecond, time.Millisecond, true)}, Options{})
	f := r.Operations[0].Fidelity
	if f.Samples != 1 || f.Ratio != 1.1 || !f.OK {
		t.Errorf("fidelity %+v, want the unpaced sample's 1.1 alone", f)
	}
	r = Build([]Sample{mk(100*time.Millisecond, time.Millisecond, true)}, Options{})
	if f := r.Operations[0].Fidelity; f.Samples != 0 || f.Ratio != 0 || !f.OK {
		t.Errorf("paced only: %+v, want no ratio", f)
	}
}
