package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// slowerReport writes a copy of the golden latency report with one operation's p99 scaled.
func slowerReport(t *testing.T, key string, percent int64) string {
	t.Helper()
	b, err := os.ReadFile("../../bench/latency/testdata/modelled.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, o := range doc["operations"].([]any) {
		op := o.(map[string]any)
		if op["key"] == key {
			m := op["measured"].(map[string]any)
			m["p99_ns"] = float64(int64(m["p99_ns"].(float64)) * percent / 100)
			if m["max_ns"].(float64) < m["p99_ns"].(float64) {
				m["max_ns"] = m["p99_ns"]
			}
		}
	}
	out, _ := json.Marshal(doc)
	p := filepath.Join(t.TempDir(), "new.json")
	os.WriteFile(p, out, 0o644)
	return p
}

func TestBenchCompare(t *testing.T) {
	old := "../../bench/latency/testdata/modelled.json"
	if code, out, errs := runCLI(t, "bench", "compare", old, old); code != exitOK || !strings.Contains(out, "no regression") {
		t.Errorf("same report: %d %q %q", code, out, errs)
	}
	slow := slowerReport(t, "l5-command-ack/charge-discharge", 120)
	code, out, _ := runCLI(t, "bench", "compare", old, slow, "--threshold", "10%")
	if code != exitFailed || !strings.Contains(out, "❌ p99 +20.0 %") {
		t.Errorf("20 %% slower at 10 %%: %d %q", code, out)
	}
	md := filepath.Join(t.TempDir(), "cmp.md")
	if code, _, _ := runCLI(t, "bench", "compare", "--threshold=25%", "--markdown", md, old, slow); code != exitOK {
		t.Errorf("20 %% slower at 25 %%: %d", code)
	}
	if b, err := os.ReadFile(md); err != nil || !strings.Contains(string(b), "threshold 25.0 %") {
		t.Errorf("markdown file: %v %q", err, b)
	}
	js := filepath.Join(t.TempDir(), "comparison.json")
	if code, _, _ := runCLI(t, "bench", "compare", "--json", js, old, slow); code != exitFailed {
		t.Errorf("--json: %d", code)
	}
	var doc struct {
		Schema      string `json:"schema"`
		Regressions int    `json:"regressions"`
		Changes     []struct {
			Key        string `json:"key"`
			Regression bool   `json:"regression"`
		} `json:"changes"`
	}
	if b, err := os.ReadFile(js); err != nil || json.Unmarshal(b, &doc) != nil || doc.Schema != "hilrun-latency-compare/1" || doc.Regressions != 1 {
		t.Errorf("comparison.json: %v %+v", err, doc)
	}
	for _, ch := range doc.Changes {
		if ch.Regression != (ch.Key == "l5-command-ack/charge-discharge") {
			t.Errorf("comparison.json: %s regression %v", ch.Key, ch.Regression)
		}
	}
	if code, _, _ := runCLI(t, "bench", "compare", "--json", filepath.Join(t.TempDir(), "no", "c.json"), old, old); code != exitEnviron {
		t.Errorf("--json into a missing directory: %d", code)
	}
	if code, _, _ := runCLI(t, "bench", "compare", old); code != exitUsage {
		t.Errorf("one file: %d", code)
	}
	if code, _, _ := runCLI(t, "bench", "compare", "--threshold", "x", old, old); code != exitUsage {
		t.Errorf("bad threshold: %d", code)
	}
	if code, _, errs := runCLI(t, "bench", "compare", old, "missing.json"); code != exitEnviron || !strings.Contains(errs, "missing.json") {
		t.Errorf("missing file: %d %q", code, errs)
	}
	if code, _, _ := runCLI(t, "bench", "compare", "--help"); code != exitOK {
		t.Errorf("compare --help: %d", code)
	}
}
