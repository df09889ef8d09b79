package module

import (
	"time"

	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/protocol/session"
)

var timeZero time.Time

// Cause names a kind of input the module refused or could not serve.
type Cause string

// Causes counted in Stats.Rejected.
const (
	CauseMalformed  Cause = "malformed"   // a legacy frame that does not decode (short, bad value)
	CauseUnknownID  Cause = "unknown-id"  // neither legacy nor Web4, or a legacy ID without a message
	CauseBadRequest Cause = "bad-request" // a request naming another module or a cell that does not exist
	CauseRefused    Cause = "refused"     // a registration for another module's identity
	CauseWeb4Idle   Cause = "web4-idle"   // a Web4 frame while the module has no ID (engine not running)
	CauseEncode     Cause = "encode"      // an answer the codec refused (a model value out of range)
	CauseBusy       Cause = "busy"        // a firmware message while the receiver's queue was full
)

// Registrations counts 0x510 frames addressed to the module.
type Registrations struct{ Accepted, Refused uint64 }

// Stats are the module's counters and a snapshot of its state.
type Stats struct {
	ModuleID uint8
	State    legacy.State
	MaxState legacy.State
	Seq      uint16 // the next frame-transfer sequence number

	RxFrames, TxFrames, TxErrors, BusOff uint64
	Rejected                             map[Cause]uint64

	Announcements    uint64
	Registrations    Registrations
	HardwareAnswers  uint64
	StatusAnswers    uint64
	CellDetails      uint64
	StateChanges     uint64
	TimeRequests     uint64
	Deregistrations  uint64
	Isolations       uint64
	SilenceFallbacks uint64

	// Web4.
	Web4Running    bool
	Web4Restarts   uint64
	Commands       map[string]uint64 // executed L5 commands by ACK status
	Telemetry      uint64            // telemetry records handed to the engine and sent
	ShortTelemetry uint64            // single-frame telemetry frames sent
	ShortSkipped   uint64            // single frames skipped while the previous one was still queued
	StepTriggers   uint64            // temperature or voltage steps that raised an escalation
	Updates        uint64            // images received over CAN and booted
	UpdatesRefused uint64            // images received over CAN that the boot loader refused
	Session        session.Stats     // the running engine's counters (zero when none runs)
	Compute        []mcu.Tally       // modelled crypto time charged, per operation
}

func (d *Device) count(f func(s *Stats)) {
	d.statMu.Lock()
	f(&d.stats)
	d.statMu.Unlock()
}

// Stats returns a snapshot of the counters.
func (d *Device) Stats() Stats {
	d.statMu.Lock()
	s := d.stats
	s.Rejected = make(map[Cause]uint64, len(d.stats.Rejected))
	for k, v := range d.stats.Rejected {
		s.Rejected[k] = v
	}
	s.Commands = make(map[string]uint64, len(d.stats.Commands))
	for k, v := range d.stats.Commands {
		s.Commands[k] = v
	}
	d.statMu.Unlock()
	if e := d.engine(); e != nil {
		s.Session = e.Stats()
	}
	s.Compute = d.meter.Tallies()
	return s
}

// publish copies the loop-owned state into the snapshot.
func (d *Device) publish() {
	d.count(func(s *Stats) {
		s.ModuleID, s.State, s.MaxState, s.Seq = d.moduleID, d.state, d.maxState, d.seq
		s.Web4Running = d.web != nil
	})
}
