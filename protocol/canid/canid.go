// Package canid encodes, decodes and classifies the 29-bit identifiers of Web4 profile v1 and tells
// them apart from legacy Modbatt identifiers.
//
// Layout (bit 28 is the most significant, sent first, so lower values win arbitration):
//
//	28..26  priority class (0 emergency … 7 bulk; 5 is never used: it is the legacy module-bus space)
//	25..20  message type
//	19..18  key level, meaningful only when bit 17 is set (00 exchange, 01 pairing, 10 binding, 11 reserved)
//	17      encrypted
//	16      profile bit, 0 in profile v1
//	15..8   destination node address
//	 7..0   source node address
//
// Legacy module-bus identifiers are (base11 << 18) | EID with base 0x500–0x51F, so their bits
// 28..26 are always 101 (= 5): no Web4 identifier can equal one, and classification never reads one
// as Web4. Legacy app-bus identifiers are 11-bit and Web4 frames are always extended.
package canid

import (
	"errors"
	"fmt"
)

// Priority is the arbitration class in bits 28..26.
type Priority uint8

const (
	PrioEmergency  Priority = 0 // emergency isolate and its ACK
	PrioCommand    Priority = 1 // L5 paired commands
	PrioResponse   Priority = 2 // L5 ACKs
	PrioValidation Priority = 3 // escalation, L2 witness, L6, L7
	PrioHandshake  Priority = 4 // L3/L4 handshakes, key-half exchange, completion
	PrioLegacy     Priority = 5 // reserved: legacy module-bus identifiers live here
	PrioTelemetry  Priority = 6 // protected telemetry
	PrioBulk       Priority = 7 // L1 announce, certificates, bindings, firmware
)

// Level is the key level in bits 18..19 of an encrypted frame.
type Level uint8

const (
	LevelExchange Level = 0 // exchange-level key (telemetry key derived from the pairing key)
	LevelPairing  Level = 1 // per-direction pairing key
	LevelBinding  Level = 2 // key derived from the binding ECDH secret
	LevelReserved Level = 3
)

func (l Level) String() string {
	switch l {
	case LevelExchange:
		return "exchange"
	case LevelPairing:
		return "pairing"
	case LevelBinding:
		return "binding"
	}
	return "reserved"
}

// Node addresses on either bus.
const (
	AddrBroadcast    uint8 = 0x00
	AddrModuleFirst  uint8 = 0x01
	AddrModuleLast   uint8 = 0x1F
	AddrPack         uint8 = 0x40 // pack controller of pack 0; pack n is 0x40+n
	AddrApp          uint8 = 0x60
	AddrUnregistered uint8 = 0xFF // a module with no assigned address yet
)

// Bit positions.
const (
	shiftPriority = 26
	shiftType     = 20
	shiftLevel    = 18
	bitEncrypted  = 1 << 17
	bitProfile    = 1 << 16
	shiftDst      = 8
	legacyBaseMin = 0x500
	legacyBaseMax = 0x51F
	maxExtendedID = 0x1FFFFFFF
	typeMask      = 0x3F
)

// ID is a decoded Web4 identifier.
type ID struct {
	Priority  Priority
	Type      Type
	Encrypted bool
	Level     Level // only meaningful when Encrypted
	Dst, Src  uint8
}

// Errors Decode returns; each wraps ErrNotWeb4 so callers can test for the class.
var (
	ErrNotWeb4          = errors.New("canid: not a Web4 identifier")
	ErrStandardID       = fmt.Errorf("%w: standard (11-bit) identifier", ErrNotWeb4)
	ErrLegacySpace      = fmt.Errorf("%w: priority class 5 is the legacy module-bus space", ErrNotWeb4)
	ErrProfileBit       = fmt.Errorf("%w: profile bit 16 set (not profile v1)", ErrNotWeb4)
	ErrClearLevel       = fmt.Errorf("%w: key level bits set on a clear frame", ErrNotWeb4)
	ErrReservedLevel    = fmt.Errorf("%w: reserved key level 11", ErrNotWeb4)
	ErrUnknownType      = fmt.Errorf("%w: unknown message type", ErrNotWeb4)
	ErrPriorityMismatch = fmt.Errorf("%w: priority does not match the message type", ErrNotWeb4)
	ErrTooWide          = fmt.Errorf("%w: identifier wider than 29 bits", ErrNotWeb4)
)

// Encode returns the 29-bit identifier. It does not check the fields; use Validate for that.
func (id ID) Encode() uint32 {
	v := uint32(id.Priority&7)<<shiftPriority | uint32(id.Type&typeMask)<<shiftType |
		uint32(id.Dst)<<shiftDst | uint32(id.Src)
	if id.Encrypted {
		v |= bitEncrypted | uint32(id.Level&3)<<shiftLevel
	}
	return v
}

// Validate checks that the identifier is one profile v1 allows.
func (id ID) Validate() error {
	_, err := Decode(id.Encode(), true)
	if err == nil && (id.Level != 0 && !id.Encrypted) {
		return ErrClearLevel
	}
	return err
}

// New builds the identifier of a message of type t, taking its priority from the catalogue.
func New(t Type, encrypted bool, level Level, dst, src uint8) ID {
	return ID{Priority: t.Priority(), Type: t, Encrypted: encrypted, Level: level, Dst: dst, Src: src}
}

// Decode parses a Web4 identifier. extended is the frame's IDE flag.
func Decode(raw uint32, extended bool) (ID, error) {
	if !extended {
		return ID{}, ErrStandardID
	}
	if raw > maxExtendedID {
		return ID{}, ErrTooWide
	}
	id := ID{
		Priority:  Priority(raw >> shiftPriority & 7),
		Type:      Type(raw >> shiftType & typeMask),
		Encrypted: raw&bitEncrypted != 0,
		Dst:       uint8(raw >> shiftDst),
		Src:       uint8(raw),
	}
	level := Level(raw >> shiftLevel & 3)
	switch {
	case id.Priority == PrioLegacy:
		return ID{}, ErrLegacySpace
	case raw&bitProfile != 0:
		return ID{}, ErrProfileBit
	case !id.Encrypted && level != 0:
		return ID{}, ErrClearLevel
	case id.Encrypted && level == LevelReserved:
		return ID{}, ErrReservedLevel
	}
	if id.Encrypted {
		id.Level = level
	}
	info, ok := catalogue[id.Type]
	if !ok {
		return ID{}, ErrUnknownType
	}
	if info.priority != id.Priority {
		return ID{}, ErrPriorityMismatch
	}
	return id, nil
}

// Reply returns the identifier of the same message type with source and destination swapped
// (used for ISO-TP flow control).
func (id ID) Reply() ID { id.Dst, id.Src = id.Src, id.Dst; return id }

func (id ID) String() string {
	prot := "clear"
	if id.Encrypted {
		prot = "enc/" + id.Level.String()
	}
	return fmt.Sprintf("%s p%d %s 0x%02X→0x%02X", id.Type, id.Priority, prot, id.Src, id.Dst)
}

// Class says which protocol an identifier belongs to.
type Class int

const (
	Unknown Class = iota
	Web4
	Legacy
)

func (c Class) String() string {
	switch c {
	case Web4:
		return "web4"
	case Legacy:
		return "legacy"
	}
	return "unknown"
}

// Classify tells whether an identifier is Web4, legacy Modbatt, or neither.
func Classify(raw uint32, extended bool) Class {
	if extended {
		if raw > maxExtendedID {
			return Unknown
		}
		if base := raw >> 18; base >= legacyBaseMin && base <= legacyBaseMax {
			return Legacy
		}
		if _, err := Decode(raw, true); err == nil {
			return Web4
		}
		return Unknown
	}
	if IsLegacyAppID(raw) {
		return Legacy
	}
	return Unknown
}

// IsLegacyAppID reports whether an 11-bit identifier is in the legacy app-bus block of pack 0
// (0x400–0x430) or pack 1 (shifted by 0x100).
func IsLegacyAppID(raw uint32) bool {
	return (raw >= 0x400 && raw <= 0x430) || (raw >= 0x500 && raw <= 0x530)
}

// LegacyBaseRange returns the inclusive range of legacy module-bus base identifiers.
func LegacyBaseRange() (lo, hi uint32) { return legacyBaseMin, legacyBaseMax }
