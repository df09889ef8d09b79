package pack

import "github.com/modbatt/hilrun/mcu"

// SetMeter makes the pack record the modelled compute it charges from now on in m (nil: stop
// recording), so a performance run can attribute each operation's crypto to the pack. A
// legacy-only pack charges nothing and ignores it.
func (d *Device) SetMeter(m *mcu.Meter) {
	if d.web != nil {
		d.web.meter.Store(m)
	}
}
