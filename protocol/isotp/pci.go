package isotp

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/modbatt/hilrun/bus"
)

// PCIType is the frame type in the high nibble of the first byte.
type PCIType uint8

const (
	Single      PCIType = 0 // SF: a whole message
	First       PCIType = 1 // FF: message length and the first bytes
	Consecutive PCIType = 2 // CF: sequence number and the next bytes
	FlowControl PCIType = 3 // FC: flow status, block size, STmin
)

func (t PCIType) String() string {
	switch t {
	case Single:
		return "SF"
	case First:
		return "FF"
	case Consecutive:
		return "CF"
	case FlowControl:
		return "FC"
	}
	return fmt.Sprintf("PCI-%X", uint8(t))
}

// FlowStatus is the FS field of a flow-control frame.
type FlowStatus uint8

const (
	ContinueToSend FlowStatus = 0 // CTS
	Wait           FlowStatus = 1 // WAIT: the receiver is not ready yet
	Overflow       FlowStatus = 2 // OVFLW: the message is larger than the receiver accepts
)

func (s FlowStatus) String() string {
	switch s {
	case ContinueToSend:
		return "CTS"
	case Wait:
		return "WAIT"
	case Overflow:
		return "OVFLW"
	}
	return fmt.Sprintf("FS-%X", uint8(s))
}

// Sizes of the protocol control information and the length limits it implies.
const (
	MaxClassicSF  = 7         // SF_DL without escape
	MaxFF12       = 4095      // largest FF_DL in 12 bits
	MaxMessageLen = 1<<32 - 1 // largest FF_DL with the 32-bit escape
	fcLen         = 3         // FS/BS/STmin
	ffEscapeLen   = 6         // 0x10 0x00 + 32-bit length
	ffLen         = 2         // 0x1L LL
	sfEscapeLen   = 2         // 0x00 LL
	cfPCILen      = 1         // 0x2N
	stminReserved = 127 * time.Millisecond
)

// PDU is one decoded ISO-TP frame. Data aliases the frame it was parsed from.
type PDU struct {
	Type   PCIType
	Length uint32 // SF_DL or FF_DL
	Escape bool   // SF or FF used the escape form (CAN FD SF, FF_DL > 4095)
	SN     uint8  // CF sequence number
	Status FlowStatus
	BS     uint8 // FC block size
	STmin  uint8 // FC separation time, raw byte
	Data   []byte
}

// Parse decodes a frame's protocol control information. It checks everything that needs no
// session state and rejects the rest with an error wrapping ErrInvalidFrame; it never panics.
func Parse(f *bus.Frame) (PDU, error) {
	n := int(f.Len)
	if f.Remote {
		return PDU{}, invalid("remote frame")
	}
	if (!f.FD && n > bus.MaxClassicLen) || n > bus.MaxFDLen {
		return PDU{}, invalid(fmt.Sprintf("length %d", n))
	}
	if n == 0 {
		return PDU{}, invalid("empty frame")
	}
	d := f.Data[:n]
	p := PDU{Type: PCIType(d[0] >> 4)}
	switch p.Type {
	case Single:
		if n <= bus.MaxClassicLen {
			p.Length = uint32(d[0] & 0x0F)
			if p.Length == 0 || int(p.Length) > n-1 {
				return PDU{}, invalid(fmt.Sprintf("SF_DL %d in a %d-byte frame", p.Length, n))
			}
			p.Data = d[1 : 1+p.Length]
			return p, nil
		}
		// CAN_DL > 8 (FD only): escape form 0x00 SF_DL.
		if d[0] != 0 {
			return PDU{}, invalid(fmt.Sprintf("SF without escape in a %d-byte frame", n))
		}
		p.Escape, p.Length = true, uint32(d[1])
		if p.Length <= MaxClassicSF || int(p.Length) > n-sfEscapeLen {
			return PDU{}, invalid(fmt.Sprintf("escaped SF_DL %d in a %d-byte frame", p.Length, n))
		}
		p.Data = d[sfEscapeLen : sfEscapeLen+p.Length]
		return p, nil
	case First:
		if n < bus.MaxClassicLen {
			return PDU{}, invalid(fmt.Sprintf("FF in a %d-byte frame", n))
		}
		p.Length = uint32(d[0]&0x0F)<<8 | uint32(d[1])
		pci := ffLen
		if p.Length == 0 {
			p.Escape, pci = true, ffEscapeLen
			p.Length = binary.BigEndian.Uint32(d[2:6])
			if p.Length <= MaxFF12 {
				return PDU{}, invalid(fmt.Sprintf("escaped FF_DL %d fits 12 bits", p.Length))
			}
		}
		// An FF must announce more than a single frame of the same length could carry.
		sfCap := n - sfEscapeLen
		if n <= bus.MaxClassicLen {
			sfCap = MaxClassicSF
		}
		if int64(p.Length) <= int64(sfCap) {
			return PDU{}, invalid(fmt.Sprintf("FF_DL %d fits a single frame", p.Length))
		}
		p.Data = d[pci:]
		return p, nil
	case Consecutive:
		p.SN = d[0] & 0x0F
		p.Data = d[cfPCILen:]
		return p, nil
	case FlowControl:
		if n < fcLen {
			return PDU{}, invalid(fmt.Sprintf("FC in a %d-byte frame", n))
		}
		p.Status, p.BS, p.STmin = FlowStatus(d[0]&0x0F), d[1], d[2]
		return p, nil
	}
	return PDU{}, invalid(fmt.Sprintf("reserved PCI type %X", d[0]>>4))
}

func invalid(reason string) error { return fmt.Errorf("%w: %s", ErrInvalidFrame, reason) }

// Format is how a sender lays out its frames: classic or CAN FD, the FD payload length (TX_DL)
// and padding. It is the frame codec; it keeps no state.
type Format struct {
	FD      bool // send CAN FD frames
	BRS     bool // bit-rate switch on FD frames
	TxDL    int  // FD: frame payload length for SF/FF/CF, a CAN FD length 8–64 (0 means 64); classic: 8
	Pad     bool // pad frames shorter than 8 bytes to 8 (FD frames are always padded to a valid FD length)
	PadByte byte // padding value
}

// txDL returns the payload length of full-size frames.
func (fm Format) txDL() int {
	if !fm.FD {
		return bus.MaxClassicLen
	}
	if fm.TxDL == 0 {
		return bus.MaxFDLen
	}
	return fm.TxDL
}

func (fm Format) validate() error {
	if fm.FD {
		if _, ok := bus.FDLenToDLC(fm.TxDL); fm.TxDL != 0 && (!ok || fm.TxDL < 8) {
			return fmt.Errorf("isotp: TX_DL %d is not a CAN FD length of at least 8", fm.TxDL)
		}
	} else if fm.BRS {
		return fmt.Errorf("isotp: BRS set without FD")
	}
	return nil
}

// SFCapacity returns the most bytes a single frame carries in this format.
func (fm Format) SFCapacity() int {
	if dl := fm.txDL(); dl > bus.MaxClassicLen {
		return dl - sfEscapeLen
	}
	return MaxClassicSF
}

// frame builds a frame of the format holding b (already including the PCI), padded as the
// format says.
func (fm Format) frame(id uint32, b []byte) bus.Frame {
	f := bus.Frame{ID: id, Extended: true, FD: fm.FD, BRS: fm.FD && fm.BRS}
	n := copy(f.Data[:], b)
	l := n
	if fm.Pad && l < bus.MaxClassicLen {
		l = bus.MaxClassicLen
	}
	if fm.FD {
		l = bus.FDPadLen(l)
	}
	for i := n; i < l; i++ {
		f.Data[i] = fm.PadByte
	}
	f.Len = uint8(l)
	return f
}

// Single encodes a single frame. data must fit SFCapacity.
func (fm Format) Single(id uint32, data []byte) (bus.Frame, error) {
	var b [bus.MaxFDLen]byte
	switch {
	case len(data) == 0:
		return bus.Frame{}, ErrEmpty
	case len(data) <= MaxClassicSF:
		b[0] = byte(len(data))
		return fm.frame(id, append(b[:1:1], data...)), nil
	case len(data) <= fm.SFCapacity():
		b[0], b[1] = 0, byte(len(data))
		return fm.frame(id, append(b[:2:2], data...)), nil
	}
	return bus.Frame{}, fmt.Errorf("isotp: %d bytes do not fit a single frame", len(data))
}

// First encodes the first frame of a size-byte message whose bytes start with data, and
// returns it with the number of data bytes it carries.
func (fm Format) First(id uint32, size int, data []byte) (bus.Frame, int) {
	var b [bus.MaxFDLen]byte
	pci := ffLen
	if size <= MaxFF12 {
		b[0], b[1] = 0x10|byte(size>>8), byte(size)
	} else {
		pci = ffEscapeLen
		b[0], b[1] = 0x10, 0
		binary.BigEndian.PutUint32(b[2:], uint32(size))
	}
	n := copy(b[pci:fm.txDL()], data)
	f := fm.frame(id, b[:pci+n])
	return f, n
}

// Consecutive encodes a consecutive frame with sequence number sn (low 4 bits) carrying the
// first bytes of data, and returns it with the number of bytes it carries.
func (fm Format) Consecutive(id uint32, sn uint8, data []byte) (bus.Frame, int) {
	var b [bus.MaxFDLen]byte
	b[0] = 0x20 | sn&0x0F
	n := copy(b[cfPCILen:fm.txDL()], data)
	return fm.frame(id, b[:cfPCILen+n]), n
}

// FlowControl encodes a flow-control frame.
func (fm Format) FlowControl(id uint32, fs FlowStatus, bs, stmin uint8) bus.Frame {
	return fm.frame(id, []byte{0x30 | byte(fs)&0x0F, bs, stmin})
}

// EncodeSTmin returns the STmin byte for a separation time, rounding up to the next value the
// byte can express (100–900 µs in 100 µs steps, then whole milliseconds up to 127 ms).
func EncodeSTmin(d time.Duration) uint8 {
	switch {
	case d <= 0:
		return 0
	case d <= 900*time.Microsecond:
		return 0xF0 + uint8((d+99*time.Microsecond)/(100*time.Microsecond))
	case d >= 127*time.Millisecond:
		return 0x7F
	}
	return uint8((d + time.Millisecond - 1) / time.Millisecond)
}

// DecodeSTmin returns the separation time an STmin byte asks for. Reserved values mean 127 ms,
// as ISO 15765-2 tells a sender to assume.
func DecodeSTmin(b uint8) time.Duration {
	switch {
	case b <= 0x7F:
		return time.Duration(b) * time.Millisecond
	case b >= 0xF1 && b <= 0xF9:
		return time.Duration(b-0xF0) * 100 * time.Microsecond
	}
	return stminReserved
}
