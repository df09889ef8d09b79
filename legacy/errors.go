package legacy

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns wraps one of them, so a caller can test the
// class with errors.Is and get the detail with errors.As on the typed errors below.
var (
	// ErrNotLegacy: the identifier is not in the legacy module-bus or app-bus space.
	ErrNotLegacy = errors.New("legacy: not a legacy Modbatt identifier")
	// ErrUnknownMessage: the identifier is in the legacy space but no message is defined for it.
	ErrUnknownMessage = errors.New("legacy: no message defined for this identifier")
	// ErrBase: a module-bus base identifier outside 0x500–0x51F.
	ErrBase = errors.New("legacy: module-bus base outside 0x500–0x51F")
	// ErrModuleID: a module ID that is neither broadcast (0x00), assigned (0x01–0x1F) nor
	// unregistered (0xFF), or one the message does not allow.
	ErrModuleID = errors.New("legacy: module ID out of range")
	// ErrSeq: a frame-transfer sequence number wider than 10 bits.
	ErrSeq = errors.New("legacy: sequence number wider than 10 bits")
	// ErrPack: a pack ID other than 0 or 1.
	ErrPack = errors.New("legacy: pack ID must be 0 or 1")
	// ErrWrongBus: a module-bus message encoded for the app bus or the other way round.
	ErrWrongBus = errors.New("legacy: message belongs to the other bus")
	// ErrFrameKind: a remote, CAN FD or malformed frame; legacy traffic is classic data frames.
	ErrFrameKind = errors.New("legacy: not a classic CAN data frame")
	// ErrLength: a payload too short for its message.
	ErrLength = errors.New("legacy: payload too short")
	// ErrRange: a physical value the message's scaling cannot carry.
	ErrRange = errors.New("legacy: value out of range")
	// ErrValue: a raw field value the message does not define (bad enum, bad module ID).
	ErrValue = errors.New("legacy: undefined field value")
)

// IDError reports an identifier that cannot be built or parsed.
type IDError struct {
	ID       uint32
	Extended bool
	Err      error // one of ErrNotLegacy, ErrUnknownMessage, ErrBase, ErrModuleID, ErrSeq, ErrPack
}

func (e *IDError) Error() string {
	if e.Extended {
		return fmt.Sprintf("%v (id 0x%08X)", e.Err, e.ID)
	}
	return fmt.Sprintf("%v (id 0x%03X)", e.Err, e.ID)
}

func (e *IDError) Unwrap() error { return e.Err }

// LengthError reports a payload shorter than its message needs.
type LengthError struct {
	Message  string
	Got, Min int
}

func (e *LengthError) Error() string {
	return fmt.Sprintf("legacy: %s needs at least %d payload bytes, got %d", e.Message, e.Min, e.Got)
}

func (e *LengthError) Unwrap() error { return ErrLength }

// RangeError reports a value an encoder refused because the field cannot carry it.
type RangeError struct {
	Message, Signal string
	Value, Min, Max float64
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("legacy: %s.%s = %g outside [%g, %g]", e.Message, e.Signal, e.Value, e.Min, e.Max)
}

func (e *RangeError) Unwrap() error { return ErrRange }

// ValueError reports a raw field value the message does not define: an enum out of its set or a
// module ID a message may not carry. Decoders and encoders both return it.
type ValueError struct {
	Message, Signal string
	Raw             uint64
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("legacy: %s.%s has undefined value %d (0x%X)", e.Message, e.Signal, e.Raw, e.Raw)
}

func (e *ValueError) Unwrap() error { return ErrValue }
