package message

import (
	"fmt"
	"io"
	"time"

	"github.com/modbatt/hilrun/protocol/suite"
)

// WitnessEvent is what a witness saw.
type WitnessEvent uint8

const (
	EventStateChange WitnessEvent = 1 // the subject changed its operating state
	EventAnnounce    WitnessEvent = 2 // the subject announced itself
	EventAnomaly     WitnessEvent = 3 // the subject's data crossed a limit
	EventImage       WitnessEvent = 4 // the subject reported a new image
)

// Witness is the L2 witness statement: a node (the pack) attests that it observed a message or
// state of another node. Signed by the witness's binding key (COSE_Sign1).
type Witness struct {
	V            uint8        `cbor:"0,keyasint"`
	Witness      string       `cbor:"1,keyasint"` // witness entity ID
	Subject      string       `cbor:"2,keyasint"` // observed entity ID
	Event        WitnessEvent `cbor:"3,keyasint"`
	ObservedHash []byte       `cbor:"4,keyasint"` // SHA-256 of the observed message bytes
	ObservedAt   int64        `cbor:"5,keyasint"`
	State        *uint8       `cbor:"6,keyasint,omitempty"` // subject's state after a state change
	Escalation   *Escalation  `cbor:"7,keyasint,omitempty"`
}

// Validate checks ranges.
func (m *Witness) Validate() error {
	c := checker{name: "Witness"}
	c.version(m.V)
	c.text("Witness", 1, m.Witness, true)
	c.text("Subject", 2, m.Subject, true)
	c.check(m.Event >= EventStateChange && m.Event <= EventImage, "Event", 3, "event %d", m.Event)
	c.size("ObservedHash", 4, m.ObservedHash, HashSize)
	c.time("ObservedAt", 5, m.ObservedAt)
	c.check(m.Event != EventStateChange || m.State != nil, "State", 6, "state change without the state")
	if c.err != nil {
		return c.err
	}
	return validateEscalation(m.Escalation)
}

// Encode returns the deterministic CBOR form (the signed payload).
func (m *Witness) Encode() ([]byte, error) { return encode(m) }

// DecodeWitness parses a witness payload strictly.
func DecodeWitness(b []byte) (*Witness, error) {
	m := new(Witness)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// SignWitness signs a witness statement.
func SignWitness(k *suite.PrivateKey, m *Witness, r io.Reader) ([]byte, error) {
	return signMessage(k, domainWitness, m, r)
}

// VerifyWitness checks a signed witness statement: KID, signature, decoding, observation time
// within ±5 min of now.
func VerifyWitness(pub *suite.PublicKey, msg []byte, now time.Time) (*Witness, error) {
	m, err := verifyMessage[Witness](pub, domainWitness, msg)
	if err != nil {
		return nil, err
	}
	if err := CheckFreshness(now, m.ObservedAt); err != nil {
		return nil, err
	}
	return m, nil
}

// Step is a handshake's step.
type Step uint8

const (
	StepHello Step = 1 // initiator's nonce
	StepReply Step = 2 // responder's nonce and the initiator's echoed
)

// SignedHandshake is the L3 signed handshake: first contact between bound entities without a
// pairing, each step signed by the sender's binding key.
type SignedHandshake struct {
	V         uint8  `cbor:"0,keyasint"`
	Step      Step   `cbor:"1,keyasint"`
	BindingID []byte `cbor:"2,keyasint"`
	From      string `cbor:"3,keyasint"`
	To        string `cbor:"4,keyasint"`
	Nonce     []byte `cbor:"5,keyasint"`           // sender's fresh 16-byte nonce
	PeerNonce []byte `cbor:"6,keyasint,omitempty"` // the hello's nonce, in the reply only
	At        int64  `cbor:"7,keyasint"`
}

// Validate checks ranges and the step rules.
func (m *SignedHandshake) Validate() error {
	c := checker{name: "SignedHandshake"}
	c.version(m.V)
	c.check(m.Step == StepHello || m.Step == StepReply, "Step", 1, "step %d", m.Step)
	c.size("BindingID", 2, m.BindingID, IDSize)
	c.text("From", 3, m.From, true)
	c.text("To", 4, m.To, true)
	c.size("Nonce", 5, m.Nonce, NonceSize)
	if m.Step == StepReply {
		c.size("PeerNonce", 6, m.PeerNonce, NonceSize)
	} else {
		c.check(m.PeerNonce == nil, "PeerNonce", 6, "peer nonce in a hello")
	}
	c.time("At", 7, m.At)
	return c.err
}

// Encode returns the deterministic CBOR form (the signed payload).
func (m *SignedHandshake) Encode() ([]byte, error) { return encode(m) }

// DecodeSignedHandshake parses a signed-handshake payload strictly.
func DecodeSignedHandshake(b []byte) (*SignedHandshake, error) {
	m := new(SignedHandshake)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// SignSignedHandshake signs a handshake step with the sender's binding key.
func SignSignedHandshake(k *suite.PrivateKey, m *SignedHandshake, r io.Reader) ([]byte, error) {
	return signMessage(k, domainSignedHS, m, r)
}

// HandshakeExpect is what the receiver of a handshake step knows.
type HandshakeExpect struct {
	BindingID []byte
	Self      string // the receiver's entity ID (the message's To)
	Peer      string // the sender's entity ID (the message's From)
	MyNonce   []byte // for a reply: the nonce of our hello
}

// VerifySignedHandshake checks a handshake step: KID, signature, decoding, binding ID
// (ErrBindingID), addressing (ErrEntity), echoed nonce (ErrNonce), time within ±5 min.
func VerifySignedHandshake(pub *suite.PublicKey, msg []byte, want HandshakeExpect, now time.Time) (*SignedHandshake, error) {
	m, err := verifyMessage[SignedHandshake](pub, domainSignedHS, msg)
	if err != nil {
		return nil, err
	}
	switch {
	case !equalBytes(m.BindingID, want.BindingID):
		return nil, fmt.Errorf("%w: handshake for binding %x", ErrBindingID, m.BindingID)
	case m.From != want.Peer || m.To != want.Self:
		return nil, fmt.Errorf("%w: handshake %s→%s, want %s→%s", ErrEntity, m.From, m.To, want.Peer, want.Self)
	case m.Step == StepReply && !equalBytes(m.PeerNonce, want.MyNonce):
		return nil, fmt.Errorf("%w: reply does not echo our nonce", ErrNonce)
	}
	if err := CheckFreshness(now, m.At); err != nil {
		return nil, err
	}
	return m, nil
}

// PairedHandshake is the L4 paired handshake: two paired entities re-establish a session
// (after a reset) under the pairing key; the channel's AEAD protects it. Each side states the
// last counter it accepted so the peer resumes above it.
type PairedHandshake struct {
	V           uint8  `cbor:"0,keyasint"`
	Step        Step   `cbor:"1,keyasint"`
	PairingID   []byte `cbor:"2,keyasint"`
	Nonce       []byte `cbor:"3,keyasint"`
	PeerNonce   []byte `cbor:"4,keyasint,omitempty"`
	LastCounter uint64 `cbor:"5,keyasint"` // highest counter accepted from the peer
	At          int64  `cbor:"6,keyasint"`
}

// Validate checks ranges and the step rules.
func (m *PairedHandshake) Validate() error {
	c := checker{name: "PairedHandshake"}
	c.version(m.V)
	c.check(m.Step == StepHello || m.Step == StepReply, "Step", 1, "step %d", m.Step)
	c.size("PairingID", 2, m.PairingID, IDSize)
	c.size("Nonce", 3, m.Nonce, NonceSize)
	if m.Step == StepReply {
		c.size("PeerNonce", 4, m.PeerNonce, NonceSize)
	} else {
		c.check(m.PeerNonce == nil, "PeerNonce", 4, "peer nonce in a hello")
	}
	c.time("At", 6, m.At)
	return c.err
}

// Encode returns the deterministic CBOR form (the channel plaintext).
func (m *PairedHandshake) Encode() ([]byte, error) { return encode(m) }

// DecodePairedHandshake parses a paired-handshake plaintext strictly.
func DecodePairedHandshake(b []byte) (*PairedHandshake, error) {
	m := new(PairedHandshake)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}
