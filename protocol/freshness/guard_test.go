package freshness

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestGuard(t *testing.T) {
	g, err := NewGuard(DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	// Failures spread wider than the window never lock out.
	for _, s := range []float64{0, 11, 22, 33} {
		if g.Failure(at(s)) {
			t.Fatalf("locked out at %vs", s)
		}
	}
	// Two more within 10 s of the one at 33 s make three: lock-out, escalate once.
	if g.Failure(at(34)) {
		t.Fatal("early")
	}
	if !g.Failure(at(42.9)) {
		t.Fatal("third failure within 10 s did not lock out")
	}
	if g.Failure(at(43)) {
		t.Fatal("escalated twice")
	}
	var le *LockoutError
	if err := g.Check(at(102.8)); !errors.As(err, &le) || !errors.Is(err, ErrLockedOut) || !le.Until.Equal(at(102.9)) {
		t.Fatalf("check: %v", err)
	}
	if err := g.Check(at(102.9)); err != nil {
		t.Fatalf("still locked after the lock-out: %v", err)
	}
	if g.Failure(at(103)) || g.Failure(at(104)) {
		t.Fatal("old failures survived the lock-out")
	}
	if !g.Failure(at(105)) {
		t.Fatal("no second lock-out")
	}
	if s := g.Stats(); s.Failures != 10 || s.Lockouts != 2 || s.Refused != 1 {
		t.Fatalf("stats %+v", s)
	}
	g.Reset()
	if err := g.Check(at(106)); err != nil {
		t.Fatal(err)
	}
}

func TestGuardUntilReset(t *testing.T) {
	g, _ := NewGuard(Policy{Threshold: 1, Window: time.Second})
	if !g.Failure(t0) {
		t.Fatal("threshold 1")
	}
	if err := g.Check(t0.Add(1000 * time.Hour)); !errors.Is(err, ErrLockedOut) {
		t.Fatal("lock-out without duration ended by itself")
	}
	g.Reset()
	if err := g.Check(t0); err != nil {
		t.Fatal(err)
	}
	for _, p := range []Policy{{}, {Threshold: 1}, {Threshold: 1, Window: time.Second, Lockout: -1}} {
		if _, err := NewGuard(p); err == nil {
			t.Errorf("accepted %+v", p)
		}
	}
}
