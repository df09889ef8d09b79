package legacy

import (
	"fmt"
	"strings"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/protocol/canid"
)

// Signal is one decoded field, formatted for people: Value is exact (no rounding beyond the
// field's own resolution) and Unit may be empty.
type Signal struct {
	Name, Value, Unit string
}

// String renders "name=value unit" ("soc=50.5 %", "state=On").
func (s Signal) String() string {
	if s.Unit == "" {
		return s.Name + "=" + s.Value
	}
	return s.Name + "=" + s.Value + " " + s.Unit
}

// Description is what a decoder tool shows for one legacy frame.
type Description struct {
	ID        MsgID     // message identifier (module-bus base or pack-0 app-bus ID)
	Name      string    // message name ("status1"), or legacy_0xNNN when undefined
	Bus       Bus       // CAN2 module bus or CAN1 app bus
	Direction Direction // zero when the message is undefined
	ModuleID  uint8     // module bus: the EID's module field
	Seq       uint16    // module bus: the EID's sequence field
	Pack      uint8     // app bus: 0 or 1
	Signals   []Signal  // empty when Err is set
	Err       error     // why the frame could not be decoded although its ID is legacy
}

// String renders the description on one line.
func (d Description) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", d.Bus, d.Name, d.Direction)
	if d.Bus == BusModule {
		fmt.Fprintf(&b, " module=0x%02X seq=%d", d.ModuleID, d.Seq)
	} else {
		fmt.Fprintf(&b, " pack=%d", d.Pack)
	}
	for _, s := range d.Signals {
		b.WriteString(" ")
		b.WriteString(s.String())
	}
	if d.Err != nil {
		fmt.Fprintf(&b, " error=%q", d.Err.Error())
	}
	return b.String()
}

// Describe explains a frame if it is legacy traffic. ok is false exactly when
// canid.Classify does not call the identifier legacy; then the caller should try another
// protocol. For a legacy identifier whose payload does not decode (too short, bad enum,
// remote frame, undefined message) ok is true and Err says what is wrong.
func Describe(f bus.Frame) (Description, bool) {
	if canid.Classify(f.ID, f.Extended) != canid.Legacy {
		return Description{}, false
	}
	var d Description
	if f.Extended {
		d.Bus = BusModule
		d.ID = MsgID(f.ID >> baseShift)
		d.ModuleID = uint8(f.ID)
		d.Seq = uint16(f.ID>>seqShift) & MaxSeq
	} else {
		d.Bus = BusApp
		d.ID, d.Pack, _ = SplitAppBusID(f.ID)
	}
	d.Name = d.ID.String()
	d.Direction = d.ID.Direction()
	dec, err := Decode(f)
	if err != nil {
		d.Err = err
		return d, true
	}
	d.Signals = Signals(dec.Msg)
	return d, true
}

// Signals returns the fields of m formatted as signals, in payload order.
func Signals(m Message) []Signal {
	var ds describer
	m.walk(&ds)
	return ds.sigs
}
