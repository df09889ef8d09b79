// Package clock is the time source every protocol engine and device takes as a parameter, so the
// same code runs in real time, in unit tests, and under a simulated clock.
package clock

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer fires once on C after its duration, unless stopped.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// Sleep waits for d on c, or until ctx ends.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// Since returns the time elapsed on c since t.
func Since(c Clock, t time.Time) time.Duration { return c.Now().Sub(t) }

// Real is the wall clock.
type Real struct{}

func (Real) Now() time.Time                 { return time.Now() }
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

// Sim is a simulated clock: time moves only when Advance or AdvanceToNext is called.
// It is safe for concurrent use.
type Sim struct {
	mu     sync.Mutex
	now    time.Time
	timers []*simTimer
}

// NewSim returns a simulated clock that starts at start.
func NewSim(start time.Time) *Sim { return &Sim{now: start} }

// Now returns the simulated time.
func (s *Sim) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// NewTimer makes a timer that fires when the simulated time reaches now+d.
func (s *Sim) NewTimer(d time.Duration) Timer {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &simTimer{sim: s, c: make(chan time.Time, 1)}
	t.arm(s.now.Add(d))
	if d <= 0 {
		s.fireDue()
	}
	return t
}

// Advance moves time forward by d, firing every timer that falls due, in deadline order.
func (s *Sim) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	target := s.now.Add(d)
	for {
		next, ok := s.nextDeadline()
		if !ok || next.After(target) {
			break
		}
		s.now = next
		s.fireDue()
	}
	s.now = target
}

// AdvanceToNext moves time to the earliest pending deadline and fires it. It reports false when
// no timer is pending.
func (s *Sim) AdvanceToNext() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, ok := s.nextDeadline()
	if !ok {
		return 0, false
	}
	d := next.Sub(s.now)
	if d > 0 {
		s.now = next
	}
	s.fireDue()
	return d, true
}

// Pending reports how many timers are armed.
func (s *Sim) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.timers)
}

func (s *Sim) nextDeadline() (time.Time, bool) {
	if len(s.timers) == 0 {
		return time.Time{}, false
	}
	sort.SliceStable(s.timers, func(i, j int) bool { return s.timers[i].when.Before(s.timers[j].when) })
	return s.timers[0].when, true
}

func (s *Sim) fireDue() {
	kept := s.timers[:0]
	for _, t := range s.timers {
		if !t.when.After(s.now) {
			t.armed = false
			select {
			case t.c <- s.now:
			default:
			}
			continue
		}
		kept = append(kept, t)
	}
	s.timers = kept
}

func (s *Sim) remove(t *simTimer) {
	for i, x := range s.timers {
		if x == t {
			s.timers = append(s.timers[:i], s.timers[i+1:]...)
			return
		}
	}
}

type simTimer struct {
	sim   *Sim
	c     chan time.Time
	when  time.Time
	armed bool
}

func (t *simTimer) arm(when time.Time) {
	t.when, t.armed = when, true
	t.sim.timers = append(t.sim.timers, t)
}

func (t *simTimer) C() <-chan time.Time { return t.c }

func (t *simTimer) Stop() bool {
	t.sim.mu.Lock()
	defer t.sim.mu.Unlock()
	was := t.armed
	if was {
		t.armed = false
		t.sim.remove(t)
	}
	return was
}

func (t *simTimer) Reset(d time.Duration) bool {
	t.sim.mu.Lock()
	defer t.sim.mu.Unlock()
	was := t.armed
	if was {
		t.sim.remove(t)
	}
	t.arm(t.sim.now.Add(d))
	if d <= 0 {
		t.sim.fireDue()
	}
	return was
}
