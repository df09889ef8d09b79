package pack

import (
	"github.com/modbatt/hilrun/legacy"
)

// Event is something the pack reports through Config.OnEvent.
type Event interface{ event() }

// EventRegistered: a module announced itself and got a module ID (0x510 sent).
type EventRegistered struct {
	ModuleID     uint8
	UniqueID     uint32
	Manufacturer uint8
	Part         uint8
	Again        bool // the unique ID was already registered under this ID (module restarted)
}

// EventTimeout: a module was silent for the module timeout (4 s).
type EventTimeout struct {
	ModuleID uint8
	Count    int // timeouts in a row
}

// EventDeregistered: a module lost its ID (0x518 sent).
type EventDeregistered struct {
	ModuleID uint8
	Reason   uint8
}

// EventPackState: the state the pack requests of its modules changed (0x514 sent to each).
type EventPackState struct {
	From, To legacy.State
	Cause    string // "app", "link-loss", "max-state"
}

// EventModuleState: a module reported another contactor state in its 0x502 than before. The
// Web4 gateway witnesses these (L2).
type EventModuleState struct {
	ModuleID uint8
	From, To legacy.State
}

// EventLinkLoss: the app went silent; Limit is the state the pack forced.
type EventLinkLoss struct{ Limit legacy.State }

func (EventRegistered) event()   {}
func (EventTimeout) event()      {}
func (EventDeregistered) event() {}
func (EventPackState) event()    {}
func (EventModuleState) event()  {}
func (EventLinkLoss) event()     {}
