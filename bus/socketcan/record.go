package socketcan

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/modbatt/hilrun/bus"
)

// Sizes of the kernel's frame records (struct can_frame and struct canfd_frame).
const (
	ClassicRecordLen = 16 // CAN_MTU
	FDRecordLen      = 72 // CANFD_MTU
)

// Flag bits of the kernel's can_id word and of canfd_frame.flags.
const (
	flagExtended = 0x80000000 // CAN_EFF_FLAG
	flagRemote   = 0x40000000 // CAN_RTR_FLAG
	flagError    = 0x20000000 // CAN_ERR_FLAG
	fdBRS        = 0x01       // CANFD_BRS
	fdESI        = 0x02       // CANFD_ESI
	fdFDF        = 0x04       // CANFD_FDF (kernels before 6.2 ignore it)
)

// Error classes carried in the identifier of an error record (linux/can/error.h).
const (
	ErrClassBusOff    = 0x00000040 // CAN_ERR_BUSOFF
	ErrClassRestarted = 0x00000100 // CAN_ERR_RESTARTED
	errClassMask      = 0x1FFFFFFF // CAN_ERR_MASK
)

// ErrMalformed is wrapped by every error about a record that is not a well-formed kernel frame.
var ErrMalformed = errors.New("socketcan: malformed frame record")

// RecordError says what is wrong with a record read from a CAN socket.
type RecordError struct {
	Len    int
	Reason string
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("socketcan: malformed frame record (%d bytes): %s", e.Len, e.Reason)
}

func (e *RecordError) Unwrap() error { return ErrMalformed }

// ErrorFrame is a controller error report: the kernel delivers one on a socket whose error
// filter lets its class through. Class holds the CAN_ERR_* bits, Data the details.
type ErrorFrame struct {
	Class uint32
	Data  [8]byte
}

// BusOff reports whether the controller went bus-off.
func (e ErrorFrame) BusOff() bool { return e.Class&ErrClassBusOff != 0 }

// Restarted reports whether the controller came back from bus-off.
func (e ErrorFrame) Restarted() bool { return e.Class&ErrClassRestarted != 0 }

// Record is one decoded socket record: a data or remote frame, or an error report.
type Record struct {
	Frame    bus.Frame
	IsError  bool
	Error    ErrorFrame
	Oversize bool   // an FD record whose length was not a CAN FD length and was padded up
	Lost     uint32 // frames the kernel dropped on this socket just before this record
}

// UnmarshalRecord decodes a 16-byte can_frame or 72-byte canfd_frame in host (little-endian) order.
// An FD record whose length is not one a DLC can express (a raw socket may write such a record on
// vcan) is padded with zeros to the next valid length, as a controller would put it on the wire.
func UnmarshalRecord(b []byte) (Record, error) {
	bad := func(reason string) (Record, error) {
		return Record{}, &RecordError{Len: len(b), Reason: reason}
	}
	if len(b) != ClassicRecordLen && len(b) != FDRecordLen {
		return bad("not the size of a can_frame or canfd_frame")
	}
	word := binary.LittleEndian.Uint32(b[0:4])
	n := int(b[4])
	var r Record
	if word&flagError != 0 {
		if len(b) != ClassicRecordLen {
			return bad("error report in an FD record")
		}
		r.IsError = true
		r.Error.Class = word & errClassMask
		copy(r.Error.Data[:], b[8:16])
		return r, nil
	}
	f := &r.Frame
	f.Extended = word&flagExtended != 0
	if f.Extended {
		f.ID = word & bus.MaxExtendedID
	} else {
		if word&^(flagRemote) > bus.MaxStandardID {
			return bad("standard identifier wider than 11 bits")
		}
		f.ID = word & bus.MaxStandardID
	}
	f.Remote = word&flagRemote != 0
	if len(b) == ClassicRecordLen {
		if n > bus.MaxClassicLen {
			return bad(fmt.Sprintf("classic length %d", n))
		}
		f.Len = uint8(n)
		if !f.Remote {
			copy(f.Data[:], b[8:8+n])
		}
		return r, nil
	}
	if f.Remote {
		return bad("remote flag in an FD record")
	}
	if n > bus.MaxFDLen {
		return bad(fmt.Sprintf("FD length %d", n))
	}
	f.FD = true
	f.BRS = b[5]&fdBRS != 0
	f.ESI = b[5]&fdESI != 0
	copy(f.Data[:], b[8:8+n])
	if _, ok := bus.FDLenToDLC(n); !ok {
		r.Oversize = true
		n = bus.FDPadLen(n)
	}
	f.Len = uint8(n)
	return r, nil
}

// MarshalRecord writes f into dst as the kernel expects it: a 16-byte can_frame for a classic
// frame, a 72-byte canfd_frame for an FD frame. It returns the record length; dst must hold it.
func MarshalRecord(dst []byte, f *bus.Frame) (int, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	size := ClassicRecordLen
	if f.FD {
		size = FDRecordLen
	}
	if len(dst) < size {
		return 0, fmt.Errorf("socketcan: buffer of %d bytes for a %d-byte record", len(dst), size)
	}
	clear(dst[:size])
	word := f.ID
	if f.Extended {
		word |= flagExtended
	}
	if f.Remote {
		word |= flagRemote
	}
	binary.LittleEndian.PutUint32(dst[0:4], word)
	dst[4] = f.Len
	if f.FD {
		dst[5] = fdFDF
		if f.BRS {
			dst[5] |= fdBRS
		}
		if f.ESI {
			dst[5] |= fdESI
		}
	}
	if !f.Remote {
		copy(dst[8:], f.Payload())
	}
	return size, nil
}
