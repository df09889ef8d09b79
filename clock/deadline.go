package clock

import "time"

// Deadline is one timer that follows a deadline which moves as a loop runs. Each turn the loop
// passes the deadline it wants next to C and selects on the channel it returns; after receiving
// from it, the loop calls Fired. Stop releases the timer.
type Deadline struct {
	clk   Clock
	timer Timer
	armed time.Time // the deadline the timer is set for; zero when not armed
}

// NewDeadline returns a Deadline on c.
func NewDeadline(c Clock) *Deadline { return &Deadline{clk: c} }

// C arms the timer for at (re-arming only when at changed) and returns its channel; with ok false
// it disarms the timer and returns nil, which blocks forever in a select.
func (d *Deadline) C(at time.Time, ok bool) <-chan time.Time {
	switch {
	case ok && d.timer != nil && at.Equal(d.armed):
		return d.timer.C()
	case ok:
		wait := at.Sub(d.clk.Now())
		if d.timer == nil {
			d.timer = d.clk.NewTimer(wait)
		} else {
			d.timer.Stop()
			d.timer.Reset(wait)
		}
		d.armed = at
		return d.timer.C()
	case d.timer != nil && !d.armed.IsZero():
		d.timer.Stop()
		d.armed = time.Time{}
	}
	return nil
}

// Fired records that the timer's channel delivered, so the next C arms it afresh.
func (d *Deadline) Fired() { d.armed = time.Time{} }

// Stop stops the timer.
func (d *Deadline) Stop() {
	if d.timer != nil {
		d.timer.Stop()
	}
}
