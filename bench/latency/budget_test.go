package latency

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bench/rig"
)

func TestLoadDefaultSheet(t *testing.T) {
	s, err := LoadSheet("../../rigs/budgets/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for op, want := range map[string]time.Duration{"l3-handshake": 50 * time.Millisecond, "l5-telemetry": 5 * time.Millisecond,
		"l5-command-ack": 20 * time.Millisecond, "l6-validation": 100 * time.Millisecond} {
		b, ok := s.Find(op, "")
		if !ok || time.Duration(b.Target) != want || b.Kind != KindTarget {
			t.Errorf("%s: %+v", op, b)
		}
	}
	if b, _ := s.Find("l5-telemetry", ""); b.Per != PerFrame {
		t.Errorf("telemetry per %q", b.Per)
	}
	// Every budgeted operation has a capability-map entry, so none escapes the silicon check.
	cm := CapabilityMap()
	for _, b := range s.Budgets {
		if _, ok := cm[b.Op]; !ok {
			t.Errorf("%s: no capability-map entry", b.Op)
		}
	}
}

func TestSheetFindVariant(t *testing.T) {
	s := &Sheet{Budgets: []Budget{{Op: "l5-command-ack", Target: 1}, {Op: "l5-command-ack/emergency-isolate", Target: 2}}}
	if b, _ := s.Find("l5-command-ack", "emergency-isolate"); b.Target != 2 {
		t.Errorf("variant row not preferred: %+v", b)
	}
	if b, _ := s.Find("l5-command-ack", "cell-balancing"); b.Target != 1 {
		t.Errorf("operation row not used: %+v", b)
	}
	if _, ok := (*Sheet)(nil).Find("x", ""); ok {
		t.Error("nil sheet found a row")
	}
}

func TestParseSheetErrors(t *testing.T) {
	tests := map[string]string{
		"unknown field":  "name: x\nbudgets:\n  - op: a\n    target: 1ms\n    waver: typo\n",
		"bad duration":   "name: x\nbudgets:\n  - op: a\n    target: fast\n",
		"zero target":    "name: x\nbudgets:\n  - op: a\n    target: 0s\n",
		"bad op":         "name: x\nbudgets:\n  - op: A B\n    target: 1ms\n",
		"duplicate":      "name: x\nbudgets:\n  - op: a\n    target: 1ms\n  - op: a\n    target: 2ms\n",
		"bad per":        "name: x\nbudgets:\n  - op: a\n    target: 1ms\n    per: second\n",
		"bad kind":       "name: x\nbudgets:\n  - op: a\n    target: 1ms\n    kind: wish\n",
		"bad statistic":  "name: x\nbudgets:\n  - op: a\n    target: 1ms\n    statistic: p90\n",
		"negative rate":  "name: x\nbitrate: -1\n",
		"not a document": "[",
	}
	for name, in := range tests {
		if _, err := ParseSheet([]byte(in)); !errors.Is(err, ErrBadSheet) {
			t.Errorf("%s: %v", name, err)
		}
	}
	s, err := ParseSheet([]byte("name: x\nbudgets:\n  - op: l6-validation\n    target: 100ms\n    waiver: accepted\n    statistic: max\n"))
	if err != nil || s.Budgets[0].Waiver != "accepted" || s.Budgets[0].Statistic != StatMax {
		t.Errorf("%+v %v", s, err)
	}
	if _, err := LoadSheet("testdata/missing.yaml"); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestFromRigSheet(t *testing.T) {
	rs, err := rig.LoadBudgets("../../rigs/budgets/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mine, err := LoadSheet("../../rigs/budgets/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := FromRigSheet(rs); !reflect.DeepEqual(got, mine) {
		t.Errorf("the rig's loader and this one disagree:\n%+v\n%+v", got, mine)
	}
	if FromRigSheet(nil) != nil {
		t.Error("nil sheet")
	}
}

func FuzzParseSheet(f *testing.F) {
	for _, p := range []string{"../../rigs/budgets/default.yaml", "testdata/budgets.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("name: x\nbudgets:\n  - op: a/b\n    target: 1ms\n    statistic: max\n    waiver: w\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSheet(b)
		if err != nil {
			if !errors.Is(err, ErrBadSheet) {
				t.Fatalf("error does not wrap ErrBadSheet: %v", err)
			}
			return
		}
		for _, r := range s.Budgets {
			if r.Target <= 0 || !opName.MatchString(r.Op) {
				t.Fatalf("accepted %+v", r)
			}
			s.Find(r.Op, "")
		}
	})
}
