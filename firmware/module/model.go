package module

import (
	"math"
	"time"

	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/protocol/message"
)

func secs(n uint16) time.Duration { return time.Duration(n) * time.Second }

// stepModel advances the cell model by one chain read and checks the step triggers.
func (d *Device) stepModel() {
	copy(d.prevV, d.model.vRead)
	copy(d.prevT, d.model.tRead)
	d.model.step(d.cfg.StepPeriod, d.demand, d.state == legacy.StateOn, d.lim)
	if d.model.anyDead() {
		d.commFail++
	}
	var dv, dt float64
	for k := range d.prevV {
		dv = math.Max(dv, math.Abs(d.model.vRead[k]-d.prevV[k]))
		dt = math.Max(dt, math.Abs(d.model.tRead[k]-d.prevT[k]))
	}
	if dt > d.cfg.TempStepC {
		d.log.Info("module: temperature step", "delta_c", dt)
		d.escalateStep(message.ReasonTempStep)
	}
	if dv > d.cfg.VoltStepV {
		d.log.Info("module: voltage step", "delta_v", dv)
		d.escalateStep(message.ReasonVoltageStep)
	}
}
