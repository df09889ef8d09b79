package freshness

import (
	"errors"
	"fmt"
)

// Errors a Window reports; both come wrapped in a *ReplayError.
var (
	ErrReplay = errors.New("freshness: counter already accepted (replay)")
	ErrStale  = errors.New("freshness: counter older than the replay window")
)

// ReplayError names the counter a Window refused and its highest accepted counter.
type ReplayError struct {
	Counter, Highest uint64
	Err              error // ErrReplay or ErrStale
}

func (e *ReplayError) Error() string {
	return fmt.Sprintf("%v: counter %d, highest %d", e.Err, e.Counter, e.Highest)
}

func (e *ReplayError) Unwrap() error { return e.Err }

// DefaultWindow is the replay window of profile v1, in counter values.
const DefaultWindow = 64

// MaxWindow bounds the configurable window size.
const MaxWindow = 4096

// Window is a receiver's sliding replay window (as in IPsec and OSCORE): it accepts a counter
// above the highest accepted one, or an unseen counter less than Size below it, and refuses
// duplicates and older counters. The bitmap is a ring indexed by counter, so sliding costs no
// shifting. It is not safe for concurrent use.
type Window struct {
	size    uint64
	ring    uint64 // bits in the ring, a multiple of 64 ≥ size
	highest uint64
	started bool
	bits    []uint64
}

// NewWindow makes a window of size counter values (1 to MaxWindow; 0 means DefaultWindow).
func NewWindow(size int) (*Window, error) {
	if size == 0 {
		size = DefaultWindow
	}
	if size < 0 || size > MaxWindow {
		return nil, fmt.Errorf("freshness: window size %d outside 1..%d", size, MaxWindow)
	}
	words := (size + 63) / 64
	return &Window{size: uint64(size), ring: uint64(words) * 64, bits: make([]uint64, words)}, nil
}

// Size returns the window size.
func (w *Window) Size() int { return int(w.size) }

// Highest returns the highest accepted counter, and false before the first one.
func (w *Window) Highest() (uint64, bool) { return w.highest, w.started }

// Check reports whether c would be accepted, without recording it. Receivers check before
// authenticating and Accept after, so a forged frame cannot move the window.
func (w *Window) Check(c uint64) error {
	if !w.started || c > w.highest {
		return nil
	}
	if w.highest-c >= w.size {
		return &ReplayError{Counter: c, Highest: w.highest, Err: ErrStale}
	}
	if w.test(c) {
		return &ReplayError{Counter: c, Highest: w.highest, Err: ErrReplay}
	}
	return nil
}

// Accept checks c and records it.
func (w *Window) Accept(c uint64) error {
	if err := w.Check(c); err != nil {
		return err
	}
	switch {
	case !w.started:
		clear(w.bits)
		w.highest, w.started = c, true
	case c > w.highest:
		if c-w.highest >= w.ring {
			clear(w.bits)
		} else {
			for v := w.highest + 1; v != c; v++ {
				w.unset(v)
			}
		}
		w.highest = c
	}
	w.set(c)
	return nil
}

func (w *Window) pos(c uint64) (int, uint64) { i := c % w.ring; return int(i / 64), 1 << (i % 64) }
func (w *Window) test(c uint64) bool         { i, b := w.pos(c); return w.bits[i]&b != 0 }
func (w *Window) set(c uint64)               { i, b := w.pos(c); w.bits[i] |= b }
func (w *Window) unset(c uint64)             { i, b := w.pos(c); w.bits[i] &^= b }
