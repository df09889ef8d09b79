package session

import (
	"github.com/modbatt/hilrun/protocol/isotp"
	"github.com/modbatt/hilrun/protocol/message"
)

// Event is something the engine reports to the device or app layer. Every event names the
// peer (node address on this bus) it concerns.
type Event interface{ PeerAddr() uint8 }

// Peer addressing shared by the events.
type peerOf struct{ Peer uint8 }

// PeerAddr returns the peer's node address.
func (p peerOf) PeerAddr() uint8 { return p.Peer }

// EventKeyGenerated: the node made a new binding key pair for a partner (on a generate-keys
// request). BindingID is empty: the binding ID arrives with the binding record.
type EventKeyGenerated struct {
	peerOf
	KID uint16
}

// EventBound: the partner's binding record verified and the binding secret is stored.
type EventBound struct {
	peerOf
	PeerID    string
	BindingID []byte
	OwnKID    uint16
	PeerKID   uint16
}

// EventBindingRevoked: a binding (and every pairing of it) was dropped.
type EventBindingRevoked struct {
	peerOf
	BindingID []byte
}

// EventPairingStarted: a pairing certificate opened; the key-half exchange runs.
type EventPairingStarted struct {
	peerOf
	PairingID []byte
	Context   message.Context
}

// EventPaired: both halves are in, the pairing keys derived, the exchange key erased.
type EventPaired struct {
	peerOf
	PairingID []byte
	Context   message.Context
	KID       uint16
}

// EventPairingRefused: a pairing certificate, key half or completion was refused.
type EventPairingRefused struct {
	peerOf
	PairingID []byte // nil when the certificate did not open
	Err       error
}

// EventPairingTimeout: a half-finished pairing passed its 30 s and its material was erased.
type EventPairingTimeout struct {
	peerOf
	PairingID []byte
}

// EventCompletion: the node collected a pairing's completion with every proof it can give
// (the app: both signatures; the pack: its signature over a module's checked MAC). The layer
// above posts it to the authority (the app) or forwards it towards the app (the pack).
type EventCompletion struct {
	peerOf
	PairingID  []byte
	Completion []byte // deterministic CBOR of message.Completion
	Relayed    bool   // received from a peer for a pairing this node is not part of
}

// EventCommand: an L5 command verified. The layer above must answer it exactly once with
// Reply; until it does, no ACK is sent.
type EventCommand struct {
	peerOf
	Command *message.Command
	reply   func(status message.Status, state *uint8) error
}

// Reply sends the command's ACK with a status and, optionally, the operating state after it.
func (e EventCommand) Reply(status message.Status, state *uint8) error { return e.reply(status, state) }

// EventAck: an L5 ACK verified and matched to a command sent by this node.
type EventAck struct {
	peerOf
	Ack *message.Ack
}

// EventTelemetry: a telemetry record arrived (Protected is false for clear telemetry the
// policy allows).
type EventTelemetry struct {
	peerOf
	Telemetry *message.Telemetry
	Protected bool
}

// EventShortTelemetry: a single-frame telemetry frame verified. Peer is the frame's source;
// Relayed says it came from a node behind this node's pack (verified under the pack pairing).
type EventShortTelemetry struct {
	peerOf
	Samples message.ShortTelemetry
	Counter uint64
	Relayed bool
}

// EventAnnounce: an L1 announce arrived (key-loss announces also raise EventKeyLoss).
type EventAnnounce struct {
	peerOf
	Announce *message.Announce
	Raw      []byte // as received, for forwarding
}

// EventKeyLoss: a peer announced that it lost its binding key. The node has raised (or
// rate-limited) an escalation to L7 on it.
type EventKeyLoss struct {
	peerOf
	EntityID string
	LostKID  uint16
}

// EventEscalation: an escalation request, received from a peer (Local false) or raised by
// this node's own triggers (Local true; Sent says whether the rate limit let it out).
type EventEscalation struct {
	peerOf
	Escalation *message.Escalation
	Local      bool
	Sent       bool
}

// EventKeysAnswer: a generate-keys answer arrived from a device (the app relays it).
type EventKeysAnswer struct {
	peerOf
	Response *message.GenerateKeysResponse
	Raw      []byte // as received, for forwarding
}

// EventForward: a message arrived for a node this one proxies for (the pack on CAN1 for its
// modules). Payload is opened: the hop's envelope is removed, so the layer above re-protects
// it for the next hop (Engine.Forward).
type EventForward struct {
	peerOf
	Msg     isotp.Message // as received: Msg.ID.Dst is the proxied node
	Payload []byte
}

// EventMessage: a message of a type the engine does not act on (witness, L6/L7 statements,
// validation results, discovery), authenticated where it was protected.
type EventMessage struct {
	peerOf
	Msg     isotp.Message
	Payload []byte
}

// EventResynced: an L4 paired handshake re-synchronised the replay window of a peer.
type EventResynced struct {
	peerOf
	PairingID []byte
}

// EventWitness: an L2 witness statement from the peer verified against its binding key.
type EventWitness struct {
	peerOf
	Witness *message.Witness
}

// EventHandshake: an L3 signed handshake with the peer completed (as initiator or responder).
type EventHandshake struct {
	peerOf
	Level message.Level
}

// EventRenewed: a renewed pairing took over (a message under its KID verified) and the old
// pairing's keys were erased (R2).
type EventRenewed struct {
	peerOf
	Old, New []byte // pairing IDs
}

// EventPairingRevoked: the authority's L6 revocation of a pairing of this node verified; the
// pairing's keys are erased and its ID is refused from now on.
type EventPairingRevoked struct {
	peerOf
	PairingID []byte
}
