// Package describe tells a person reading a capture what a CAN frame means: a Web4 frame (its
// identifier fields, node names and ISO-TP framing), a legacy Modbatt frame (message, direction,
// module, sequence and signals), a controller error frame, or unknown traffic. It only reads
// identifiers and payloads; it keeps no state across frames.
package describe

import (
	"fmt"
	"strings"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/isotp"
)

// Protocol names the kind of traffic a frame belongs to.
type Protocol string

const (
	ProtoWeb4    Protocol = "web4"
	ProtoLegacy  Protocol = "legacy"
	ProtoError   Protocol = "error"
	ProtoUnknown Protocol = "unknown"
)

// Description is the meaning of one frame. Exactly one of Web4, Legacy and ErrorFrame is set,
// matching Protocol (none for unknown traffic).
type Description struct {
	Protocol   Protocol    `json:"protocol"`
	Web4       *Web4       `json:"web4,omitempty"`
	Legacy     *Legacy     `json:"legacy,omitempty"`
	ErrorFrame *ErrorFrame `json:"error_frame,omitempty"`
	// Note says why an extended identifier that is neither legacy nor Web4 was refused.
	Note    string `json:"note,omitempty"`
	Summary string `json:"summary"`
}

// Web4 is a decoded Web4 identifier with the framing of its payload.
type Web4 struct {
	Type      string `json:"type"`
	TypeCode  uint8  `json:"type_code"`
	Priority  uint8  `json:"priority"`
	Encrypted bool   `json:"encrypted"`
	Level     string `json:"level,omitempty"` // key level, only when encrypted
	Src       uint8  `json:"src"`
	SrcName   string `json:"src_name"`
	Dst       uint8  `json:"dst"`
	DstName   string `json:"dst_name"`
	Framing   string `json:"framing"` // "isotp" or "raw"
	ISOTP     *ISOTP `json:"isotp,omitempty"`
}

// ISOTP is the protocol control information of an ISO 15765-2 frame.
type ISOTP struct {
	Kind   string `json:"kind"`             // SF, FF, CF, FC or "invalid"
	Length uint32 `json:"length,omitempty"` // SF_DL or FF_DL
	Seq    *uint8 `json:"seq,omitempty"`    // CF sequence number
	Flow   string `json:"flow,omitempty"`   // FC flow status: CTS, WAIT, OVFLW
	BS     *uint8 `json:"bs,omitempty"`     // FC block size
	STmin  *uint8 `json:"stmin,omitempty"`  // FC separation time, raw byte
	Err    string `json:"error,omitempty"`  // why the PCI is invalid
}

// Legacy is a legacy Modbatt frame as the legacy package describes it.
type Legacy struct {
	Message   string   `json:"message"`
	MsgID     string   `json:"msg_id"`
	Bus       string   `json:"bus"`
	Direction string   `json:"direction,omitempty"`
	ModuleID  *uint8   `json:"module_id,omitempty"`
	Seq       *uint16  `json:"seq,omitempty"`
	Pack      *uint8   `json:"pack,omitempty"`
	Signals   []string `json:"signals,omitempty"`
	Err       string   `json:"error,omitempty"`
}

// ErrorFrame is a controller error report (SocketCAN CAN_ERR_FLAG frame).
type ErrorFrame struct {
	Class uint32   `json:"class"`
	Kinds []string `json:"kinds"`
}

// Frame describes a data or remote frame.
func Frame(f bus.Frame) Description {
	if d, ok := legacy.Describe(f); ok {
		return legacyDescription(d)
	}
	if id, err := canid.Decode(f.ID, f.Extended); err == nil {
		return web4Description(id, f)
	} else if f.Extended {
		return Description{Protocol: ProtoUnknown, Note: err.Error(), Summary: "unknown (" + err.Error() + ")"}
	}
	return Description{Protocol: ProtoUnknown, Summary: "unknown"}
}

func web4Description(id canid.ID, f bus.Frame) Description {
	w := &Web4{
		Type: id.Type.String(), TypeCode: uint8(id.Type), Priority: uint8(id.Priority),
		Encrypted: id.Encrypted, Src: id.Src, SrcName: NodeName(id.Src), Dst: id.Dst, DstName: NodeName(id.Dst),
		Framing: "isotp",
	}
	if id.Encrypted {
		w.Level = id.Level.String()
	}
	if id.Type.Framing() == canid.Raw {
		w.Framing = "raw"
	} else {
		w.ISOTP = parsePCI(f)
	}
	var b strings.Builder
	prot := "clear"
	if w.Encrypted {
		prot = "enc/" + w.Level
	}
	fmt.Fprintf(&b, "web4 %s p%d %s %s(0x%02X) → %s(0x%02X)", w.Type, w.Priority, prot, w.SrcName, w.Src, w.DstName, w.Dst)
	if p := w.ISOTP; p != nil {
		b.WriteString(" ")
		b.WriteString(p.String())
	} else {
		b.WriteString(" raw")
	}
	return Description{Protocol: ProtoWeb4, Web4: w, Summary: b.String()}
}

// String renders the PCI as "SF len=6", "FF len=210", "CF sn=3", "FC CTS bs=0 stmin=0".
func (p *ISOTP) String() string {
	switch {
	case p.Err != "":
		return "ISO-TP invalid (" + p.Err + ")"
	case p.Kind == "SF" || p.Kind == "FF":
		return fmt.Sprintf("ISO-TP %s len=%d", p.Kind, p.Length)
	case p.Kind == "CF":
		return fmt.Sprintf("ISO-TP CF sn=%d", *p.Seq)
	}
	return fmt.Sprintf("ISO-TP FC %s bs=%d stmin=%d", p.Flow, *p.BS, *p.STmin)
}

// parsePCI reads the ISO-TP control information as a receiver's first look does, without
// session state.
func parsePCI(f bus.Frame) *ISOTP {
	p, err := isotp.Parse(&f)
	if err != nil {
		return &ISOTP{Kind: "invalid", Err: strings.TrimPrefix(strings.TrimPrefix(err.Error(), isotp.ErrInvalidFrame.Error()), ": ")}
	}
	out := &ISOTP{Kind: p.Type.String()}
	switch p.Type {
	case isotp.Single, isotp.First:
		out.Length = p.Length
	case isotp.Consecutive:
		out.Seq = &p.SN
	case isotp.FlowControl:
		out.Flow, out.BS, out.STmin = p.Status.String(), &p.BS, &p.STmin
	}
	return out
}

// NodeName names a Web4 node address.
func NodeName(a uint8) string {
	switch {
	case a == canid.AddrBroadcast:
		return "broadcast"
	case a >= canid.AddrModuleFirst && a <= canid.AddrModuleLast:
		return fmt.Sprintf("module %d", a)
	case a == canid.AddrPack:
		return "pack"
	case a > canid.AddrPack && a < canid.AddrApp:
		return fmt.Sprintf("pack %d", a-canid.AddrPack)
	case a == canid.AddrApp:
		return "app"
	case a == canid.AddrUnregistered:
		return "unregistered"
	}
	return "node"
}

func legacyDescription(d legacy.Description) Description {
	l := &Legacy{Message: d.Name, MsgID: fmt.Sprintf("0x%03X", uint16(d.ID)), Bus: d.Bus.String()}
	if d.Direction != 0 {
		l.Direction = d.Direction.String()
	}
	if d.Bus == legacy.BusModule {
		mod, seq := d.ModuleID, d.Seq
		l.ModuleID, l.Seq = &mod, &seq
	} else {
		pack := d.Pack
		l.Pack = &pack
	}
	for _, s := range d.Signals {
		l.Signals = append(l.Signals, s.String())
	}
	if d.Err != nil {
		l.Err = d.Err.Error()
	}
	return Description{Protocol: ProtoLegacy, Legacy: l, Summary: "legacy " + d.String()}
}

// SocketCAN error classes (linux/can/error.h), in bit order.
var errorKinds = [...]string{
	"tx-timeout", "lost-arbitration", "controller", "protocol-violation", "transceiver",
	"no-ack", "bus-off", "bus-error", "restarted", "error-counter",
}

// Error describes a controller error record with the given class bits (without CAN_ERR_FLAG).
func Error(class uint32) Description {
	e := &ErrorFrame{Class: class, Kinds: []string{}}
	for i, k := range errorKinds {
		if class&(1<<i) != 0 {
			e.Kinds = append(e.Kinds, k)
		}
	}
	if rest := class &^ (1<<len(errorKinds) - 1); rest != 0 {
		e.Kinds = append(e.Kinds, fmt.Sprintf("0x%X", rest))
	}
	kinds := strings.Join(e.Kinds, ",")
	if kinds == "" {
		kinds = "none"
	}
	return Description{Protocol: ProtoError, ErrorFrame: e, Summary: fmt.Sprintf("error frame class=0x%X %s", class, kinds)}
}
