package message

import (
	"fmt"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/suite"
)

// Carrier says which CAN message type carries a structure and under which key level. The CAN
// ID's encrypted bit is set exactly when the payload is a suite channel envelope (docs/protocol.md 2.7):
// pairing level for L4/L5, exchange level for key halves and telemetry, binding level (the
// partners' binding-level keys, hop by hop) for validation traffic and certificates. Signed
// structures keep their COSE_Sign1 inside the envelope, so the signer is authenticated end to
// end and the hop's envelope adds confidentiality and the CAN ID binding.
type Carrier struct {
	Type      canid.Type
	Encrypted bool
	Level     canid.Level
	Signed    bool // the payload is a COSE_Sign1 of the structure
}

// CarrierOf returns the carrier of a structure of the catalogue; false for a part that never
// travels alone (EntitySection, HandshakeSection, PairingMetadata).
func CarrierOf(m any) (Carrier, bool) {
	enc := func(t canid.Type, l canid.Level) Carrier { return Carrier{Type: t, Encrypted: true, Level: l} }
	signedAt := func(t canid.Type) Carrier {
		return Carrier{Type: t, Encrypted: true, Level: canid.LevelBinding, Signed: true}
	}
	switch v := m.(type) {
	case *Announce:
		return Carrier{Type: canid.TypeAnnounce}, true
	case *GenerateKeysRequest, *GenerateKeysResponse:
		return Carrier{Type: canid.TypeBindingXfer}, true
	case *BindingClaims:
		return Carrier{Type: canid.TypeBindingXfer, Signed: true}, true
	case *SignedHandshake:
		return Carrier{Type: canid.TypeSignedHandshake, Signed: true}, true
	case *PairingCertificate:
		return enc(canid.TypePairingCert, canid.LevelBinding), true
	case *KeyHalf:
		return enc(canid.TypeKeyHalf, canid.LevelExchange), true
	case *Completion:
		return enc(canid.TypeCompletion, canid.LevelBinding), true
	case *Escalation:
		return enc(canid.TypeEscalation, canid.LevelBinding), true
	case *Witness:
		return signedAt(canid.TypeWitness), true
	case *PairingValidation:
		return signedAt(canid.TypePairingValid), true
	case *BindingValidation:
		return signedAt(canid.TypeBindingValid), true
	case *ValidationResult:
		return signedAt(canid.TypeValidResult), true
	case *PairedHandshake:
		return enc(canid.TypePairedHandshake, canid.LevelPairing), true
	case *Command:
		if v.Code == CmdEmergencyIsolate {
			return enc(canid.TypeEmergency, canid.LevelPairing), true
		}
		return enc(canid.TypeCommand, canid.LevelPairing), true
	case *Ack:
		return enc(canid.TypeCommandAck, canid.LevelPairing), true
	case *Telemetry:
		return enc(canid.TypeTelemetry, canid.LevelExchange), true
	}
	return Carrier{}, false
}

// CheckCarrier reports whether id may carry m.
func CheckCarrier(m any, id canid.ID) error {
	car, ok := CarrierOf(m)
	if !ok {
		return fmt.Errorf("%w: %T does not travel alone", ErrInvalid, m)
	}
	typeOK := id.Type == car.Type
	if _, ack := m.(*Ack); ack && id.Type == canid.TypeEmergencyAck {
		typeOK = true // the ACK of an emergency isolate travels at its priority
	}
	if _, tel := m.(*Telemetry); tel && !id.Encrypted && typeOK {
		return nil // telemetry may travel in the clear where the pairing's policy allows it
	}
	if !typeOK || id.Encrypted != car.Encrypted || (car.Encrypted && id.Level != car.Level) {
		return fmt.Errorf("%w: %T travels as %s (encrypted %v, level %s), not %s", ErrInvalid, m, car.Type, car.Encrypted, car.Level, id)
	}
	return nil
}

// SealEnvelope seals payload (an encoded structure, a COSE_Sign1 or a certificate) for the CAN
// identifier id, which must have the encrypted bit set; the caller owns the counter.
func SealEnvelope(ch *suite.Channel, id canid.ID, counter uint64, payload []byte) ([]byte, error) {
	if !id.Encrypted {
		return nil, fmt.Errorf("%w: %s is a clear identifier", ErrInvalid, id)
	}
	if len(payload) > MaxMessageSize-suite.EnvelopeSize(counter, 0) {
		return nil, fmt.Errorf("%w: payload of %d bytes does not fit an envelope", ErrSize, len(payload))
	}
	return ch.Seal(id.Encode(), counter, payload, nil), nil
}

// OpenEnvelope authenticates an envelope and returns its counter and payload. Errors:
// ErrWrongKey (KID), ErrDecrypt (tag: tampering, wrong identifier or key), ErrMalformed or
// ErrVersion (header). Replay checking is the caller's (protocol/freshness).
func OpenEnvelope(ch *suite.Channel, id canid.ID, env []byte) (uint64, []byte, error) {
	if len(env) > MaxMessageSize {
		return 0, nil, fmt.Errorf("%w: envelope of %d bytes", ErrSize, len(env))
	}
	ctr, pt, err := ch.Open(id.Encode(), env, nil)
	if err != nil {
		return 0, nil, suiteErr("envelope", err)
	}
	return ctr, pt, nil
}

// SealMessage encodes an unsigned channel-protected structure (Command, Ack, PairedHandshake,
// Telemetry, Escalation, Completion) and seals it for the CAN identifier id with the caller's
// counter. The AAD is the CAN ID and the envelope header (see suite.Channel).
func SealMessage(ch *suite.Channel, id canid.ID, counter uint64, m Structure) ([]byte, error) {
	if err := CheckCarrier(m, id); err != nil {
		return nil, err
	}
	pt, err := encode(m)
	if err != nil {
		return nil, err
	}
	return SealEnvelope(ch, id, counter, pt)
}

// OpenCommand opens an L5 command envelope; it also returns the exact plaintext, which the ACK
// hashes.
func OpenCommand(ch *suite.Channel, id canid.ID, env []byte) (counter uint64, cmd *Command, plaintext []byte, err error) {
	ctr, pt, err := OpenEnvelope(ch, id, env)
	if err != nil {
		return 0, nil, nil, err
	}
	cmd, err = DecodeCommand(pt)
	if err != nil {
		return 0, nil, nil, err
	}
	if want := map[bool]canid.Type{true: canid.TypeEmergency, false: canid.TypeCommand}[cmd.Code == CmdEmergencyIsolate]; id.Type != want {
		return 0, nil, nil, fmt.Errorf("%w: %s carried as %s", ErrInvalid, cmd.Code, id.Type)
	}
	return ctr, cmd, pt, nil
}

// OpenAck opens an ACK envelope.
func OpenAck(ch *suite.Channel, id canid.ID, env []byte) (uint64, *Ack, error) {
	ctr, pt, err := OpenEnvelope(ch, id, env)
	if err != nil {
		return 0, nil, err
	}
	m, err := DecodeAck(pt)
	return ctr, m, err
}

// OpenPairedHandshake opens an L4 envelope.
func OpenPairedHandshake(ch *suite.Channel, id canid.ID, env []byte) (uint64, *PairedHandshake, error) {
	ctr, pt, err := OpenEnvelope(ch, id, env)
	if err != nil {
		return 0, nil, err
	}
	m, err := DecodePairedHandshake(pt)
	return ctr, m, err
}

// OpenTelemetry opens a telemetry envelope.
func OpenTelemetry(ch *suite.Channel, id canid.ID, env []byte) (uint64, *Telemetry, error) {
	ctr, pt, err := OpenEnvelope(ch, id, env)
	if err != nil {
		return 0, nil, err
	}
	m, err := DecodeTelemetry(pt)
	return ctr, m, err
}
