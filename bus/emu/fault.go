package emu

import (
	"fmt"
	"time"

	"github.com/modbatt/hilrun/bus"
)

// FaultKind is what a fault rule does to a frame it fires on.
type FaultKind int

const (
	// Drop loses the frame: it occupies the bus but no receiver gets it.
	Drop FaultKind = iota + 1
	// Corrupt delivers the frame with Bits data bits flipped, as if its CRC had failed to catch
	// the damage: a test of upper-layer MACs.
	Corrupt
	// Error destroys the frame with an error frame; the sender retransmits it and its transmit
	// error counter rises by 8 (at 256 it goes bus-off, as ISO 11898-1 says).
	Error
	// Delay hands the frame to receivers Delay after its end of frame.
	Delay
	// Duplicate transmits the frame twice back to back.
	Duplicate
	// BusOff destroys the frame and puts its sender bus-off for Recovery.
	BusOff
)

var kindNames = map[FaultKind]string{
	Drop: "drop", Corrupt: "corrupt", Error: "error", Delay: "delay", Duplicate: "dup", BusOff: "busoff",
}

func (k FaultKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// Format selects frames by identifier format.
type Format int

const (
	AnyFormat Format = iota
	StandardOnly
	ExtendedOnly
)

// Fault is a fault-injection rule. A frame matches when ID&Mask == Value, its format and
// sender match, the rule has firings left and a draw with probability P succeeds.
type Fault struct {
	Kind  FaultKind
	Mask  uint32 // 0 matches every identifier
	Value uint32
	Fmt   Format
	From  string  // sender's endpoint name; "" is any
	P     float64 // probability in (0, 1]; 0 means 1
	Count int     // firings before the rule retires; 0 is unlimited

	Delay    time.Duration // Delay: extra latency
	Bits     int           // Corrupt: data bits to flip (0 means 1)
	Recovery time.Duration // BusOff: time off the bus (0 means the bus's recovery time)
}

// Validate reports a rule that could never make sense.
func (f *Fault) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrBadFault, fmt.Sprintf(format, a...))
	}
	switch {
	case f.Kind < Drop || f.Kind > BusOff:
		return bad("unknown kind %d", int(f.Kind))
	case f.Mask > bus.MaxExtendedID:
		return bad("mask 0x%X wider than 29 bits", f.Mask)
	case f.Value&^f.Mask != 0:
		return bad("value 0x%X has bits outside mask 0x%X", f.Value, f.Mask)
	case f.Fmt < AnyFormat || f.Fmt > ExtendedOnly:
		return bad("unknown format %d", int(f.Fmt))
	case !(f.P >= 0 && f.P <= 1): // also rejects NaN
		return bad("probability %v outside [0, 1]", f.P)
	case f.Count < 0 || f.Bits < 0 || f.Delay < 0 || f.Recovery < 0:
		return bad("negative count, bits or duration")
	case f.Kind == Delay && f.Delay == 0:
		return bad("delay rule without a delay")
	}
	return nil
}

func (f *Fault) matches(ep *Endpoint, fr *bus.Frame) bool {
	switch {
	case fr.ID&f.Mask != f.Value:
		return false
	case f.Fmt == StandardOnly && fr.Extended, f.Fmt == ExtendedOnly && !fr.Extended:
		return false
	case f.From != "" && f.From != ep.name:
		return false
	}
	return true
}

// FaultID names a rule added to a bus.
type FaultID int

type ruleState struct {
	id    FaultID
	rule  Fault
	fired int
}

// AddFault installs a rule after those already there.
func (b *Bus) AddFault(f Fault) (FaultID, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextRule++
	b.rules = append(b.rules, &ruleState{id: b.nextRule, rule: f})
	return b.nextRule, nil
}

// RemoveFault uninstalls a rule; it reports whether the rule was there.
func (b *Bus) RemoveFault(id FaultID) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, r := range b.rules {
		if r.id == id {
			b.rules = append(b.rules[:i:i], b.rules[i+1:]...)
			return true
		}
	}
	return false
}

// Fired reports how many times a rule has fired, and whether it is installed.
func (b *Bus) Fired(id FaultID) (int, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.rules {
		if r.id == id {
			return r.fired, true
		}
	}
	return 0, false
}

// matchLocked finds the first rule that fires on fr; its kind is 0 when none does.
func (b *Bus) matchLocked(ep *Endpoint, fr *bus.Frame) (FaultKind, Fault) {
	for _, r := range b.rules {
		if r.rule.Count > 0 && r.fired >= r.rule.Count {
			continue
		}
		if !r.rule.matches(ep, fr) {
			continue
		}
		if p := r.rule.P; p > 0 && p < 1 && b.rng.Float64() >= p {
			continue
		}
		r.fired++
		return r.rule.Kind, r.rule
	}
	return 0, Fault{}
}

// ForceBusOff puts the named endpoints bus-off now, as a BusOff rule would; recovery 0 means
// the bus's recovery time. It returns how many endpoints it hit.
func (b *Bus) ForceBusOff(name string, recovery time.Duration) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	now := b.nowLocked()
	for _, ep := range b.eps {
		if ep.name == name && !ep.busOff {
			b.busOffLocked(ep, recovery, now)
			n++
		}
	}
	return n
}
