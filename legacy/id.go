package legacy

import "fmt"

// Module IDs carried in the low 8 bits of a module-bus EID.
const (
	ModuleBroadcast    uint8 = 0x00 // pack to every registered module
	ModuleFirst        uint8 = 0x01
	ModuleLast         uint8 = 0x1F
	ModuleUnregistered uint8 = 0xFF // a module without an assigned ID, and the pack talking to it
)

// Limits of the identifier fields.
const (
	BaseFirst uint16 = 0x500 // lowest module-bus base
	BaseLast  uint16 = 0x51F // highest module-bus base
	MaxSeq    uint16 = 0x3FF // frame-transfer sequence numbers are 10 bits (EID bits 8–17)

	AppFirst    uint16 = 0x400 // app-bus block of pack 0 (0x400–0x430)
	AppLast     uint16 = 0x430
	PackShift   uint16 = 0x100 // pack 1 shifts every app-bus identifier by this much
	MaxPack     uint8  = 1
	baseShift          = 18
	seqShift           = 8
	maxExtended uint32 = 0x1FFFFFFF
)

// Bus says which of the two legacy buses a message travels on.
type Bus uint8

const (
	BusModule Bus = iota + 1 // CAN2, pack ⇄ modules, 29-bit identifiers
	BusApp                   // CAN1, app ⇄ pack, 11-bit identifiers
)

func (b Bus) String() string {
	switch b {
	case BusModule:
		return "CAN2"
	case BusApp:
		return "CAN1"
	}
	return "?"
}

// Direction is who sends a message to whom.
type Direction uint8

const (
	ModuleToPack Direction = iota + 1
	PackToModule
	AppToPack
	PackToApp
)

func (d Direction) String() string {
	switch d {
	case ModuleToPack:
		return "M→P"
	case PackToModule:
		return "P→M"
	case AppToPack:
		return "A→P"
	case PackToApp:
		return "P→A"
	}
	return "?"
}

// ValidModuleAddress reports whether id may appear in the module field of a module-bus EID.
func ValidModuleAddress(id uint8) bool {
	return id == ModuleBroadcast || id == ModuleUnregistered || (id >= ModuleFirst && id <= ModuleLast)
}

// ModuleBusID builds the 29-bit module-bus identifier (base << 18) | (seq << 8) | moduleID.
func ModuleBusID(base MsgID, moduleID uint8, seq uint16) (uint32, error) {
	raw := uint32(base)<<baseShift | uint32(seq&MaxSeq)<<seqShift | uint32(moduleID)
	switch {
	case uint16(base) < BaseFirst || uint16(base) > BaseLast:
		return 0, &IDError{ID: raw & maxExtended, Extended: true, Err: ErrBase}
	case seq > MaxSeq:
		return 0, &IDError{ID: raw, Extended: true, Err: ErrSeq}
	case !ValidModuleAddress(moduleID):
		return 0, &IDError{ID: raw, Extended: true, Err: ErrModuleID}
	}
	return raw, nil
}

// SplitModuleBusID is the inverse of ModuleBusID. It does not check that a message is defined
// for the base; Decode does.
func SplitModuleBusID(raw uint32) (base MsgID, moduleID uint8, seq uint16, err error) {
	if raw > maxExtended {
		return 0, 0, 0, &IDError{ID: raw, Extended: true, Err: ErrNotLegacy}
	}
	base = MsgID(raw >> baseShift)
	if uint16(base) < BaseFirst || uint16(base) > BaseLast {
		return 0, 0, 0, &IDError{ID: raw, Extended: true, Err: ErrNotLegacy}
	}
	moduleID = uint8(raw)
	seq = uint16(raw>>seqShift) & MaxSeq
	if !ValidModuleAddress(moduleID) {
		return base, moduleID, seq, &IDError{ID: raw, Extended: true, Err: ErrModuleID}
	}
	return base, moduleID, seq, nil
}

// AppBusID returns the 11-bit identifier of app-bus message id for pack 0 or 1.
func AppBusID(id MsgID, pack uint8) (uint16, error) {
	if uint16(id) < AppFirst || uint16(id) > AppLast {
		return 0, &IDError{ID: uint32(id), Err: ErrNotLegacy}
	}
	if pack > MaxPack {
		return 0, &IDError{ID: uint32(id), Err: ErrPack}
	}
	return uint16(id) + uint16(pack)*PackShift, nil
}

// SplitAppBusID returns the pack-0 message identifier and the pack of an 11-bit identifier.
func SplitAppBusID(raw uint32) (id MsgID, pack uint8, err error) {
	for p := uint8(0); p <= MaxPack; p++ {
		lo := uint32(AppFirst) + uint32(p)*uint32(PackShift)
		if raw >= lo && raw <= lo+uint32(AppLast-AppFirst) {
			return MsgID(raw - uint32(p)*uint32(PackShift)), p, nil
		}
	}
	return 0, 0, &IDError{ID: raw, Err: ErrNotLegacy}
}

// MsgID names a legacy message: the module-bus base (0x500–0x51F) or the pack-0 app-bus
// identifier (0x400–0x430). The two ranges are disjoint, so one type covers both buses.
type MsgID uint16

// Bus returns the bus the message travels on.
func (id MsgID) Bus() Bus {
	if uint16(id) >= BaseFirst && uint16(id) <= BaseLast {
		return BusModule
	}
	return BusApp
}

func (id MsgID) String() string {
	if s, ok := specs[id]; ok {
		return s.name
	}
	return fmt.Sprintf("legacy_0x%03X", uint16(id))
}
