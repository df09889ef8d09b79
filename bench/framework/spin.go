package framework

import (
	"runtime"
	"sync"
	"time"

	"github.com/modbatt/hilrun/clock"
)

// spinTimerMax is the longest wait a device's clock spins for: the modelled crypto charges of
// a message (microseconds on the pack, a few milliseconds on a module), where a timer that
// wakes up a millisecond late would double them. Longer waits are periods and timeouts.
const spinTimerMax = 5 * time.Millisecond

// spinTimer fires at its deadline to within a scheduler pass: it sleeps on the base clock
// until spin before the deadline, then polls the clock.
type spinTimer struct {
	base   clock.Clock
	spin   time.Duration
	c      chan time.Time
	mu     sync.Mutex
	gen    uint64 // bumped by Stop and Reset; a waiter of an older generation does not fire
	active bool
}

func newSpinTimer(base clock.Clock, spin, d time.Duration) *spinTimer {
	t := &spinTimer{base: base, spin: spin, c: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

func (t *spinTimer) C() <-chan time.Time { return t.c }

func (t *spinTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := t.active
	t.active = false
	t.gen++
	return was
}

func (t *spinTimer) Reset(d time.Duration) bool {
	t.mu.Lock()
	was := t.active
	t.gen++
	g := t.gen
	t.active = true
	t.mu.Unlock()
	go t.wait(g, t.base.Now().Add(d))
	return was
}

func (t *spinTimer) current(g uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.gen == g && t.active
}

func (t *spinTimer) wait(g uint64, at time.Time) {
	if d := at.Sub(t.base.Now()) - t.spin; d > 0 {
		tm := t.base.NewTimer(d)
		<-tm.C()
	}
	for t.base.Now().Before(at) {
		if !t.current(g) {
			return
		}
		runtime.Gosched()
	}
	t.mu.Lock()
	if t.gen != g || !t.active {
		t.mu.Unlock()
		return
	}
	t.active = false
	t.mu.Unlock()
	select {
	case t.c <- t.base.Now():
	default:
	}
}
