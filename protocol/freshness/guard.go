package freshness

import (
	"errors"
	"fmt"
	"time"
)

// ErrLockedOut is returned while a Guard refuses everything after too many failures.
var ErrLockedOut = errors.New("freshness: locked out after repeated MAC failures")

// LockoutError says until when a Guard stays locked (zero Until: until Reset).
type LockoutError struct{ Until time.Time }

func (e *LockoutError) Error() string {
	if e.Until.IsZero() {
		return ErrLockedOut.Error() + " until reset"
	}
	return fmt.Sprintf("%v until %s", ErrLockedOut, e.Until.Format(time.RFC3339Nano))
}

func (e *LockoutError) Unwrap() error { return ErrLockedOut }

// Policy is when a Guard locks out: Threshold failures within Window lock it for Lockout
// (0 = until Reset).
type Policy struct {
	Threshold int
	Window    time.Duration
	Lockout   time.Duration
}

// DefaultPolicy is profile v1's: 3 failures within 10 s lock out for 60 s.
func DefaultPolicy() Policy {
	return Policy{Threshold: 3, Window: 10 * time.Second, Lockout: 60 * time.Second}
}

// GuardStats are a Guard's counters.
type GuardStats struct {
	Failures uint64 // failures recorded
	Lockouts uint64 // lock-outs started (each one asked for escalation once)
	Refused  uint64 // checks refused while locked out
}

// Guard counts authentication failures from one source and locks out after too many. It takes
// the time as an argument and never acts by itself: starting a lock-out is reported to the
// caller, which raises the escalation. It is not safe for concurrent use.
type Guard struct {
	p      Policy
	fails  []time.Time // failure times inside the window, oldest first
	locked bool
	until  time.Time
	stats  GuardStats
}

// NewGuard makes a guard with policy p.
func NewGuard(p Policy) (*Guard, error) {
	if p.Threshold < 1 || p.Window <= 0 || p.Lockout < 0 {
		return nil, fmt.Errorf("freshness: invalid lock-out policy %+v", p)
	}
	return &Guard{p: p}, nil
}

// Check returns a *LockoutError while the guard is locked out.
func (g *Guard) Check(now time.Time) error {
	if g.locked && g.p.Lockout > 0 && !now.Before(g.until) {
		g.locked, g.fails = false, g.fails[:0]
	}
	if g.locked {
		g.stats.Refused++
		return &LockoutError{Until: g.until}
	}
	return nil
}

// Failure records a failure at now and reports whether it started a lock-out: the caller must
// escalate exactly when it returns true.
func (g *Guard) Failure(now time.Time) (escalate bool) {
	g.stats.Failures++
	if g.locked {
		return false
	}
	keep := g.fails[:0]
	for _, t := range g.fails {
		if now.Sub(t) < g.p.Window {
			keep = append(keep, t)
		}
	}
	g.fails = append(keep, now)
	if len(g.fails) < g.p.Threshold {
		return false
	}
	g.locked, g.fails = true, g.fails[:0]
	g.until = time.Time{}
	if g.p.Lockout > 0 {
		g.until = now.Add(g.p.Lockout)
	}
	g.stats.Lockouts++
	return true
}

// Reset ends a lock-out and forgets past failures, e.g. after the escalation re-synchronised
// the peers.
func (g *Guard) Reset() { g.locked, g.fails = false, g.fails[:0] }

// Stats returns the counters.
func (g *Guard) Stats() GuardStats { return g.stats }
