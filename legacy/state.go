package legacy

import "strconv"

// State is a contactor state as modules, pack and app use it (0x502, 0x514, 0x517, 0x400, 0x410 …).
type State uint8

const (
	StateOff       State = 0 // all relays open
	StateStandby   State = 1 // mechanical relay closed, FET open
	StatePrecharge State = 2 // precharge path active
	StateOn        State = 3 // both relays closed
)

func (s State) String() string {
	switch s {
	case StateOff:
		return "Off"
	case StateStandby:
		return "Standby"
	case StatePrecharge:
		return "Precharge"
	case StateOn:
		return "On"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// PackStatus is the 2-bit status of 0x410 and 0x411.
type PackStatus uint8

const (
	StatusOff    PackStatus = 0
	StatusFull   PackStatus = 1
	StatusEmpty  PackStatus = 2
	StatusNormal PackStatus = 3
)

func (s PackStatus) String() string {
	switch s {
	case StatusOff:
		return "Off"
	case StatusFull:
		return "Full"
	case StatusEmpty:
		return "Empty"
	case StatusNormal:
		return "Normal"
	}
	return "PackStatus(" + strconv.Itoa(int(s)) + ")"
}
