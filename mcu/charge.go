package mcu

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/suite"
)

// Charge waits the modelled duration of n operations op on clk, or until ctx ends. A zero
// cost returns at once without touching the clock, so the Zero profile never blocks on a
// simulated clock. An operation the profile does not price is an error (a device asking for
// it is a bug), not a free pass.
func Charge(ctx context.Context, clk clock.Clock, p Profile, op suite.Op, n int) error {
	if _, ok := p.Ops[op]; !ok {
		return fmt.Errorf("%w: %v in %s", ErrUnknownOp, op, p.Name)
	}
	d := p.Cost(op, n)
	if d <= 0 {
		return ctx.Err()
	}
	return clock.Sleep(ctx, clk, d)
}

// Charger charges one device's operations on its clock and records them in its Meter (nil
// for none).
type Charger struct {
	Clock   clock.Clock
	Profile Profile
	Meter   *Meter
}

// Charge charges n operations op and, once the wait is over, records them.
func (c Charger) Charge(ctx context.Context, op suite.Op, n int) error {
	if err := Charge(ctx, c.Clock, c.Profile, op, n); err != nil {
		return err
	}
	if c.Meter != nil {
		c.Meter.Add(op, n, c.Profile.Cost(op, n))
	}
	return nil
}

// AEAD charges AES-256-GCM over plaintextLen bytes with aadLen bytes of authenticated data.
func (c Charger) AEAD(ctx context.Context, plaintextLen, aadLen int) error {
	return c.Charge(ctx, suite.OpAEADBlock, suite.AEADBlocks(plaintextLen, aadLen))
}

// HMAC charges HMAC-SHA256 over n bytes.
func (c Charger) HMAC(ctx context.Context, n int) error {
	return c.Charge(ctx, suite.OpHashBlock, suite.HashBlocks(n))
}

// Tally is what a Meter recorded for one operation.
type Tally struct {
	Op    suite.Op
	Calls int           // Charge calls
	Units int           // operations (the sum of n)
	Total time.Duration // modelled compute
}

// Meter adds up modelled compute per operation. It is safe for concurrent use; the zero
// value is ready.
type Meter struct {
	mu sync.Mutex
	by map[suite.Op]*Tally
}

// Add records n operations op costing d in all.
func (m *Meter) Add(op suite.Op, n int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.by == nil {
		m.by = make(map[suite.Op]*Tally)
	}
	t := m.by[op]
	if t == nil {
		t = &Tally{Op: op}
		m.by[op] = t
	}
	t.Calls++
	if n > 0 {
		t.Units += n
	}
	t.Total += d
}

// Tallies returns the recorded operations in enum order.
func (m *Meter) Tallies() []Tally {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Tally, 0, len(m.by))
	for _, t := range m.by {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Op < out[j].Op })
	return out
}

// Total is the modelled compute of everything recorded.
func (m *Meter) Total() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	var d time.Duration
	for _, t := range m.by {
		d += t.Total
	}
	return d
}

// Reset forgets everything recorded and returns what it held, so a report can take one
// sample's compute at a time.
func (m *Meter) Reset() []Tally {
	out := m.Tallies()
	m.mu.Lock()
	m.by = nil
	m.mu.Unlock()
	return out
}
