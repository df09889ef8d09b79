package framework

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/modbatt/hilrun/clock"
)

// skewedClock is a device's own clock: the system's clock plus an offset the bench can
// change while the device runs (a drifting or wrongly set RTC). Timers are not affected:
// durations are the same on every clock.
type skewedClock struct {
	base   clock.Clock
	offset atomic.Int64
	spin   time.Duration // > 0: short waits end by polling the clock (Options.Spin)
}

func (c *skewedClock) Now() time.Time { return c.base.Now().Add(time.Duration(c.offset.Load())) }
func (c *skewedClock) NewTimer(d time.Duration) clock.Timer {
	if c.spin > 0 && d <= spinTimerMax {
		return newSpinTimer(c.base, c.spin, d)
	}
	return c.base.NewTimer(d)
}

// deviceClock returns the clock of a device, made on first use.
func (s *System) deviceClock(name string) *skewedClock {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clocks[name]
	if !ok {
		c = &skewedClock{base: s.Clock, spin: s.spin}
		s.clocks[name] = c
	}
	return c
}

// SetSkew sets how far a device's clock is off the system's (positive: ahead).
func (s *System) SetSkew(name string, d time.Duration) error {
	if !s.powered(name) {
		return fmt.Errorf("%w: %s is not powered", ErrNoDevice, name)
	}
	s.deviceClock(name).offset.Store(int64(d))
	return nil
}
