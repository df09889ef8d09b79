package pack

import (
	"time"

	"github.com/modbatt/hilrun/clock"
)

type nopClock struct{}

func (nopClock) Now() time.Time                       { return t0 }
func (nopClock) NewTimer(d time.Duration) clock.Timer { return clock.NewSim(t0).NewTimer(d) }
