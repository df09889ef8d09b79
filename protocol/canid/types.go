package canid

import "fmt"

// Type is a Web4 message type (bits 25..20). Each type has a fixed priority class and framing.
type Type uint8

// Framing says how a message type's payload is carried.
type Framing uint8

const (
	// ISOTP payloads are segmented with ISO 15765-2 (a single frame carries its PCI byte too).
	ISOTP Framing = iota
	// Raw payloads are exactly one frame with no PCI byte (single-frame protected telemetry).
	Raw
)

// The message types of profile v1, grouped by priority class.
const (
	TypeEmergency       Type = 0x01 // L5 emergency isolate (P0)
	TypeEmergencyAck    Type = 0x02 // its ACK (P0)
	TypeCommand         Type = 0x08 // L5 paired command (P1)
	TypeCommandAck      Type = 0x09 // L5 ACK (P2)
	TypeEscalation      Type = 0x10 // escalation request (P3)
	TypeWitness         Type = 0x11 // L2 witness (P3)
	TypePairingValid    Type = 0x12 // L6 pairing validation (P3)
	TypeBindingValid    Type = 0x13 // L7 binding validation (P3)
	TypeValidResult     Type = 0x14 // authority's verdict relayed to a device (P3)
	TypeSignedHandshake Type = 0x18 // L3 signed handshake (P4)
	TypePairedHandshake Type = 0x19 // L4 paired handshake (P4)
	TypeKeyHalf         Type = 0x1A // key-half exchange (P4)
	TypeCompletion      Type = 0x1B // handshake completion (P4)
	TypeTelemetry       Type = 0x20 // AEAD-protected telemetry, ISO-TP (P6)
	TypeTelemetryShort  Type = 0x21 // single-frame telemetry with truncated MAC (P6, raw)
	TypeAnnounce        Type = 0x28 // L1 announce, including key-loss announce (P7)
	TypeDiscovery       Type = 0x29 // L1 discovery query and its answer (P7)
	TypeBindingXfer     Type = 0x2A // binding certificate / record delivery (P7)
	TypePairingCert     Type = 0x2B // pairing certificate delivery (P7)
	TypeFirmware        Type = 0x2C // firmware image transfer under firmware_update (P7)
	TypeBulkAck         Type = 0x2D // acknowledgement of a bulk delivery (P7)
)

type typeInfo struct {
	name     string
	priority Priority
	framing  Framing
}

var catalogue = map[Type]typeInfo{
	TypeEmergency:       {"emergency", PrioEmergency, ISOTP},
	TypeEmergencyAck:    {"emergency-ack", PrioEmergency, ISOTP},
	TypeCommand:         {"command", PrioCommand, ISOTP},
	TypeCommandAck:      {"command-ack", PrioResponse, ISOTP},
	TypeEscalation:      {"escalation", PrioValidation, ISOTP},
	TypeWitness:         {"witness", PrioValidation, ISOTP},
	TypePairingValid:    {"pairing-validation", PrioValidation, ISOTP},
	TypeBindingValid:    {"binding-validation", PrioValidation, ISOTP},
	TypeValidResult:     {"validation-result", PrioValidation, ISOTP},
	TypeSignedHandshake: {"signed-handshake", PrioHandshake, ISOTP},
	TypePairedHandshake: {"paired-handshake", PrioHandshake, ISOTP},
	TypeKeyHalf:         {"key-half", PrioHandshake, ISOTP},
	TypeCompletion:      {"completion", PrioHandshake, ISOTP},
	TypeTelemetry:       {"telemetry", PrioTelemetry, ISOTP},
	TypeTelemetryShort:  {"telemetry-short", PrioTelemetry, Raw},
	TypeAnnounce:        {"announce", PrioBulk, ISOTP},
	TypeDiscovery:       {"discovery", PrioBulk, ISOTP},
	TypeBindingXfer:     {"binding-transfer", PrioBulk, ISOTP},
	TypePairingCert:     {"pairing-certificate", PrioBulk, ISOTP},
	TypeFirmware:        {"firmware", PrioBulk, ISOTP},
	TypeBulkAck:         {"bulk-ack", PrioBulk, ISOTP},
}

// Known reports whether t is a profile v1 message type.
func (t Type) Known() bool { _, ok := catalogue[t]; return ok }

// Priority returns the type's arbitration class.
func (t Type) Priority() Priority { return catalogue[t].priority }

// Framing returns how the type's payload is carried.
func (t Type) Framing() Framing { return catalogue[t].framing }

func (t Type) String() string {
	if info, ok := catalogue[t]; ok {
		return info.name
	}
	return fmt.Sprintf("type-0x%02X", uint8(t))
}

// Types returns every profile v1 message type in ascending order.
func Types() []Type {
	var out []Type
	for t := Type(0); t <= typeMask; t++ {
		if t.Known() {
			out = append(out, t)
		}
	}
	return out
}
