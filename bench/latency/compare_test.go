package latency

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	old := modelledRun(t)
	new := modelledRun(t)
	// Slow one row by 15 % at p99 only, another by 5 % everywhere, drop one, add one.
	for i := range new.Operations {
		o := &new.Operations[i]
		switch o.Key {
		case "l5-command-ack/charge-discharge":
			o.Measured.P99 = o.Measured.P99 * 115 / 100
		case "l5-telemetry":
			o.Measured.P50, o.Measured.P99 = o.Measured.P50*105/100, o.Measured.P99*105/100
			o.Floor.P50 = o.Floor.P50 * 2
		}
	}
	new.Operations = append(new.Operations[1:], Operation{Key: "z-new", Measured: Stats{Count: 1, P50: 1, P99: 1}})
	c := Compare(old, new, 0.10)
	got := map[string]Change{}
	for _, ch := range c.Changes {
		got[ch.Key] = ch
	}
	if ch := got["l5-command-ack/charge-discharge"]; !ch.Regression || math.Abs(ch.P99-0.15) > 0.001 || ch.P50 != 0 {
		t.Errorf("charge-discharge %+v", ch)
	}
	if ch := got["l5-telemetry"]; ch.Regression || math.Abs(ch.Floor-1) > 1e-9 {
		t.Errorf("telemetry %+v", ch)
	}
	if ch := got["key-loss-recovery"]; ch.Presence != "removed" || ch.Regression {
		t.Errorf("removed %+v", ch)
	}
	if ch := got["z-new"]; ch.Presence != "added" || ch.Regression {
		t.Errorf("added %+v", ch)
	}
	if c.Regressions != 1 {
		t.Errorf("%d regressions", c.Regressions)
	}
	// A verdict that starts failing is a regression whatever the figures.
	new2 := modelledRun(t)
	old2 := modelledRun(t)
	for i := range old2.Operations {
		if old2.Operations[i].Key == "poll-cycle" {
			old2.Operations[i].Verdict = Verdict{Status: StatusPass}
		}
	}
	if c := Compare(old2, new2, 0.10); c.Regressions != 1 {
		t.Errorf("verdict regression not flagged: %+v", c.Changes)
	}
	var b bytes.Buffer
	if err := c.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "compare.md", b.Bytes())
	if c := Compare(zeroRun(t), old, 0.1); len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "(zero → atmega64m1, stm32wb55)") {
		t.Errorf("profile change not warned: %q", c.Warnings)
	}
	if c := Compare(old, old, 0); c.Regressions != 0 || len(c.Warnings) != 0 {
		t.Errorf("a report regresses against itself: %d", c.Regressions)
	}
}

func TestParseThreshold(t *testing.T) {
	for in, want := range map[string]float64{"10%": 0.1, " 2.5 % ": 0.025, "0.2": 0.2, "0": 0} {
		if got, err := ParseThreshold(in); err != nil || math.Abs(got-want) > 1e-12 {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-1%", "ten", "NaN", "Inf"} {
		if _, err := ParseThreshold(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestCompareJSON(t *testing.T) {
	old, new := modelledRun(t), modelledRun(t)
	for i := range new.Operations {
		if o := &new.Operations[i]; o.Key == "l5-command-ack/charge-discharge" {
			o.Measured.P99 = o.Measured.P99 * 115 / 100
		}
	}
	// An operation whose old floor was zero has no relative floor change: null, not NaN
	// (encoding/json refuses NaN).
	new.Operations = append(new.Operations, Operation{Key: "z-new", Measured: Stats{Count: 1, P50: 1, P99: 1}})
	c := Compare(old, new, 0.10)
	var b bytes.Buffer
	if err := c.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "compare.json", b.Bytes())
	var doc struct {
		Schema      string `json:"schema"`
		Regressions int    `json:"regressions"`
		Changes     []struct {
			Key        string   `json:"key"`
			P99        *float64 `json:"p99_change"`
			Floor      *float64 `json:"floor_change"`
			Regression bool     `json:"regression"`
		} `json:"changes"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != CompareSchema || doc.Regressions != 1 {
		t.Errorf("schema %q, %d regressions", doc.Schema, doc.Regressions)
	}
	for _, ch := range doc.Changes {
		switch ch.Key {
		case "l5-command-ack/charge-discharge":
			if !ch.Regression || ch.P99 == nil || math.Abs(*ch.P99-0.15) > 0.001 {
				t.Errorf("charge-discharge %+v", ch)
			}
		case "z-new":
			if ch.P99 != nil || ch.Floor != nil {
				t.Errorf("added row has relative changes: %+v", ch)
			}
		}
	}
	if err := c.WriteJSONFile(filepath.Join(t.TempDir(), "missing", "c.json")); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}
