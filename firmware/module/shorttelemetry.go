package module

import (
	"context"
	"errors"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

// shortSignals is the order in which fast telemetry goes out, one signal per single frame (the
// classic layout carries one sample): current first, as it moves fastest.
var shortSignals = []message.Signal{message.SignalCurrent, message.SignalVoltage, message.SignalCellMin, message.SignalCellMax,
	message.SignalTempMin, message.SignalTempMax, message.SignalSOC, message.SignalStatus}

// shortSample is the current value of signal s in the single-frame scaling (docs/protocol.md 4.8).
func (d *Device) shortSample(s message.Signal) message.Sample {
	c := d.model
	lo, hi, _ := c.voltStats()
	tlo, thi, _ := c.tempStats()
	signed := func(v float64) uint16 { return uint16(int16(clamp(v, -32768, 32767))) }
	unsigned := func(v float64) uint16 { return uint16(clamp(v, 0, 65535)) }
	var raw uint16
	switch s {
	case message.SignalVoltage:
		raw = unsigned(c.total() * 100)
	case message.SignalCurrent:
		raw = signed(c.current * 10)
	case message.SignalSOC:
		raw = unsigned(c.socAvg() * 10)
	case message.SignalCellMin:
		raw = unsigned(lo * 1000)
	case message.SignalCellMax:
		raw = unsigned(hi * 1000)
	case message.SignalTempMin:
		raw = signed(tlo * 10)
	case message.SignalTempMax:
		raw = signed(thi * 10)
	case message.SignalStatus:
		raw = uint16(d.state) & 0x0F
		if c.balOn {
			raw |= 1 << 4
		}
		if c.anyDead() || c.limited {
			raw |= 1 << 5
		}
	}
	return message.Sample{Signal: s, Raw: raw}
}

// sendShort sends the next fast-telemetry signal as a single frame with a truncated MAC
// (docs/protocol.md 6.5) when the pairing's policy lets telemetry travel at exchange level or
// below; nothing goes out before a pairing or under a policy without telemetry (firmware_update,
// emergency).
func (d *Device) sendShort() {
	w := d.web
	if w == nil {
		return
	}
	if !d.shortBusy.CompareAndSwap(false, true) {
		// The engine has not taken the previous frame yet (busy with seconds of P-256): skip
		// this one rather than queue a burst, as the MCU's single transmit slot would.
		d.count(func(st *Stats) { st.ShortSkipped++ })
		return
	}
	s := d.shortSample(shortSignals[d.shortNext%len(shortSignals)])
	d.shortNext++
	d.goWeb(func(ctx context.Context) {
		defer d.shortBusy.Store(false)
		err := w.eng.SendShortTelemetry(ctx, canid.AddrPack, message.ShortTelemetry{s})
		switch {
		case err == nil:
			d.count(func(st *Stats) { st.ShortTelemetry++ })
		case errors.Is(err, session.ErrNotPaired), errors.Is(err, session.ErrNotAllowed), errors.Is(err, session.ErrBelowPolicy), ctx.Err() != nil:
		default:
			d.log.Debug("module: short telemetry", "err", err)
		}
	})
}
