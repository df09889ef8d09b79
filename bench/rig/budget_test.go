package rig

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBudgetOperationKeys(t *testing.T) {
	sheet := func(op string) string {
		return "name: x\nbitrate: 500000\nbudgets: [{op: \"" + op + "\", target: 5ms}]\n"
	}
	for _, op := range []string{"l3-handshake", "l5-command-ack/charge-discharge", "l7-validation/verification", "a/b", "0/1"} {
		if _, err := ParseBudgets([]byte(sheet(op))); err != nil {
			t.Errorf("%q refused: %v", op, err)
		}
	}
	for _, c := range []struct{ op, why string }{
		{"", "the operation"},
		{"L3", "the operation"},
		{"-a", "the operation"},
		{"a b", "the operation"},
		{"/variant", "the operation \"\""},
		{"a/", "the variant \"\""},
		{"a/B", "the variant \"B\""},
		{"a/b/c", "the variant \"b/c\""},
		{"a//b", "the variant \"/b\""},
		{"a/-b", "the variant"},
	} {
		_, err := ParseBudgets([]byte(sheet(c.op)))
		var e *Error
		if !errors.As(err, &e) || !e.Has("budgets[0].op") || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%q: want a problem at budgets[0].op naming %s, got %v", c.op, c.why, err)
		}
	}
	dup := "name: x\nbitrate: 500000\nbudgets: [{op: a/b, target: 5ms}, {op: a/b, target: 1ms}, {op: a, target: 2ms}]\n"
	if _, err := ParseBudgets([]byte(dup)); err == nil || !strings.Contains(err.Error(), "duplicate op \"a/b\"") {
		t.Errorf("duplicate variant: %v", err)
	}
}

func TestBudgetFind(t *testing.T) {
	s, err := ParseBudgets([]byte("name: x\nbitrate: 500000\nbudgets:\n" +
		"  - {op: l5-command-ack, target: 20ms}\n  - {op: l5-command-ack/emergency-isolate, target: 10ms}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key  string
		want time.Duration
		ok   bool
	}{
		{"l5-command-ack", 20 * time.Millisecond, true},
		{"l5-command-ack/emergency-isolate", 10 * time.Millisecond, true},
		{"l5-command-ack/charge-discharge", 20 * time.Millisecond, true}, // the operation's row
		{"l3-handshake", 0, false},
		{"l3-handshake/x", 0, false},
	} {
		b, ok := s.Find(c.key)
		if ok != c.ok || b.Target.Std() != c.want {
			t.Errorf("Find(%q) = %v %v, want %v %v", c.key, b.Target.Std(), ok, c.want, c.ok)
		}
	}
}
