package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunSmoke runs the smoke specs in-process, as `hilrun run` does outside `go test`, and
// checks the report directory. Ginkgo runs one suite per process, so this is the package's
// only call of the run command that reaches RunSpecs.
func TestRunSmoke(t *testing.T) {
	dir := t.TempDir()
	rigPath := filepath.Join("..", "..", "rigs", "emulated.yaml")
	code, out, errs := runCLI(t, "run", "--rig", rigPath, "--label-filter", "smoke", "--report-dir", dir)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, f := range []string{"junit.xml", "report.json", "summary.txt"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	caps, _ := filepath.Glob(filepath.Join(dir, "captures", "*"))
	var logs, pcaps int
	for _, c := range caps {
		switch filepath.Ext(c) {
		case ".log":
			logs++
		case ".pcap":
			pcaps++
		}
	}
	if logs < 2 || logs != pcaps {
		t.Errorf("captures %v: want a candump log and a pcap per bus", caps)
	}
	sum, _ := os.ReadFile(filepath.Join(dir, "summary.txt"))
	if !strings.Contains(string(sum), "smoke") || !strings.Contains(out, "all specs") {
		t.Errorf("summary:\n%s", sum)
	}
	junit, _ := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if !strings.Contains(string(junit), "<testcase") {
		t.Error("junit.xml has no test cases")
	}
}

func TestRunBadInput(t *testing.T) {
	if code, _, errs := runCLI(t, "run", "--rig", filepath.Join(t.TempDir(), "none.yaml")); code != exitEnviron || !strings.Contains(errs, "none.yaml") {
		t.Errorf("missing rig: exit %d %q", code, errs)
	}
	rigPath := filepath.Join("..", "..", "rigs", "emulated.yaml")
	if code, _, errs := runCLI(t, "run", "--rig", rigPath, "--label-filter", "smoke &&"); code != exitUsage || !strings.Contains(errs, "label filter") {
		t.Errorf("bad filter: exit %d %q", code, errs)
	}
	if code, _, _ := runCLI(t, "run", "extra"); code != exitUsage {
		t.Errorf("extra argument: exit %d", code)
	}
}

func TestCombineFilters(t *testing.T) {
	for _, c := range []struct{ a, b, want string }{
		{"", "", ""}, {"smoke", "", "smoke"}, {"", "perf", "perf"}, {"!hardware-only", "smoke", "(!hardware-only) && (smoke)"},
	} {
		if got := combineFilters(c.a, c.b); got != c.want {
			t.Errorf("combineFilters(%q, %q) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}
