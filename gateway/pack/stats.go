package pack

import (
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/protocol/session"
)

// Cause names why the pack rejected or dropped input.
type Cause string

// Causes counted in Stats.Rejected.
const (
	CauseUnknownID   Cause = "unknown-id"    // neither legacy nor Web4 on this bus
	CauseMalformed   Cause = "malformed"     // a legacy frame that did not decode
	CauseWrongBus    Cause = "wrong-bus"     // module-bus traffic on CAN1 or app-bus traffic on CAN2
	CauseWrongDir    Cause = "wrong-dir"     // a message only the pack sends, or for another pack
	CauseUnregister  Cause = "unregistered"  // module traffic from an ID the pack did not assign
	CauseFull        Cause = "full"          // an announcement with every module ID taken
	CauseBadModule   Cause = "bad-module"    // a 0x404 naming a module that is not registered
	CauseWeb4Idle    Cause = "web4-disabled" // a Web4 frame with no gateway configured
	CauseSend        Cause = "send"          // a frame the bus did not take
	CauseEncode      Cause = "encode"        // a value the codec refused
	CauseWeb4        Cause = "web4"          // a Web4 message the gateway could not route
	CauseEventsFull  Cause = "events-full"   // OnEvent queue overflow (gateway events)
	CauseForwardFail Cause = "forward"       // a forwarded command found no module link
	CauseStore       Cause = "nvm"           // the module registry could not be stored or read
)

// Stats are the pack's counters. Rejected counts bad input by cause; the Web4 engines keep
// their own counters (Web4App, Web4Modules).
type Stats struct {
	RxCAN1, RxCAN2 uint64 // frames received
	TxCAN1, TxCAN2 uint64 // frames sent
	BusOffs        uint64 // bus-off reports from either controller (Web4: an L4 re-handshake is asked for)
	Rejected       map[Cause]uint64

	Registrations   uint64
	Deregistrations uint64
	Timeouts        uint64
	Polls           uint64 // status requests in their round-robin slot
	Repolls         uint64 // status requests to a module silent for more than 2 s
	Heartbeats      uint64
	Blocks          uint64 // app-bus blocks
	AnnounceReqs    uint64
	StateChanges    uint64 // 0x514 frames
	TimeSets        uint64 // 0x516 frames
	ModuleLists     uint64 // 0x41F answers
	LinkLosses      uint64 // Standby or Off forced by app silence

	State    legacy.State // state requested of the modules
	MaxState legacy.State // the heartbeat's max state
	Modules  int          // registered modules

	Web4App     session.Stats // CAN1 engine (zero without Web4)
	Web4Modules session.Stats // CAN2 engine
	Forwarded   uint64        // commands verified on CAN1 and forwarded to a module
	Relayed     uint64        // ACKs, telemetry, announces and completions relayed to the app
	Witnessed   uint64        // module state changes witnessed (L2)
	Escalated   uint64        // escalations forwarded to the app
	Transferred uint64        // firmware-transfer messages relayed between the buses (docs/protocol.md 4.14)
}

func (s *Stats) clone() Stats {
	c := *s
	c.Rejected = make(map[Cause]uint64, len(s.Rejected))
	for k, v := range s.Rejected {
		c.Rejected[k] = v
	}
	return c
}

// ModuleInfo is what the pack knows of one registered module.
type ModuleInfo struct {
	ID           uint8
	UniqueID     uint32
	Manufacturer uint8
	Part         uint8
	Active       bool // answered within the module timeout
	Timeouts     int
	State        legacy.State // as the module last reported it
	Voltage      float64
	Current      float64
	SOC          float64
}
