package message

import (
	"fmt"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/suite"
)

// Carrier says which CAN message type carries a structure and under which protection. The CAN
// ID's encrypted bit is set exactly when the payload is a suite channel envelope; signed
// structures and the pairing certificate (whose secret parts are sealed inside it) travel
// with the bit clear.
type Carrier struct {
	Type       canid.Type
	Protection Protection // what protects it on the bus
	Encrypted  bool       // CAN ID bit 17
	Level      canid.Level
}

// CarrierOf returns the carrier of a structure of the catalogue (nil and false for a part that
// never travels alone, such as EntitySection).
func CarrierOf(m any) (Carrier, bool) {
	enc := func(t canid.Type, p Protection, l canid.Level) Carrier {
		return Carrier{Type: t, Protection: p, Encrypted: true, Level: l}
	}
	clear := func(t canid.Type, p Protection) Carrier { return Carrier{Type: t, Protection: p} }
	switch v := m.(type) {
	case *Announce:
		return clear(canid.TypeAnnounce, ProtClear), true
	case *GenerateKeysRequest, *GenerateKeysResponse:
		return clear(canid.TypeBindingXfer, ProtClear), true
	case *BindingClaims: // as a signed binding certificate
		return clear(canid.TypeBindingXfer, ProtBinding), true
	case *PairingCertificate:
		return clear(canid.TypePairingCert, ProtBinding), true
	case *KeyHalf:
		return enc(canid.TypeKeyHalf, ProtExchange, canid.LevelExchange), true
	case *Completion:
		return clear(canid.TypeCompletion, ProtBinding), true
	case *Witness:
		return clear(canid.TypeWitness, ProtBinding), true
	case *SignedHandshake:
		return clear(canid.TypeSignedHandshake, ProtBinding), true
	case *PairedHandshake:
		return enc(canid.TypePairedHandshake, ProtPairing, canid.LevelPairing), true
	case *Command:
		if v.Code == CmdEmergencyIsolate {
			return enc(canid.TypeEmergency, ProtPairing, canid.LevelPairing), true
		}
		return enc(canid.TypeCommand, ProtPairing, canid.LevelPairing), true
	case *Ack:
		return enc(canid.TypeCommandAck, ProtPairing, canid.LevelPairing), true
	case *Escalation:
		return clear(canid.TypeEscalation, ProtClear), true
	case *Telemetry:
		return enc(canid.TypeTelemetry, ProtExchange, canid.LevelExchange), true
	case *PairingValidation:
		return clear(canid.TypePairingValid, ProtBinding), true
	case *BindingValidation:
		return clear(canid.TypeBindingValid, ProtBinding), true
	case *ValidationResult:
		return clear(canid.TypeValidResult, ProtBinding), true
	}
	return Carrier{}, false
}

// SealMessage encodes a channel-protected structure (Command, Ack, PairedHandshake, Telemetry)
// and seals it for the CAN identifier id with the caller's counter. The AAD is the CAN ID and
// the envelope header (see suite.Channel).
func SealMessage(ch *suite.Channel, id canid.ID, counter uint64, m validator) ([]byte, error) {
	car, ok := CarrierOf(m)
	if !ok || !car.Encrypted {
		return nil, fmt.Errorf("message: %T is not sent in a channel envelope", m)
	}
	typeOK := id.Type == car.Type
	if _, ack := m.(*Ack); ack && id.Type == canid.TypeEmergencyAck {
		typeOK = true // the ACK of an emergency isolate travels at its priority
	}
	if !typeOK || !id.Encrypted || id.Level != car.Level {
		return nil, fmt.Errorf("%w: %T must travel as %s at level %s, not %s", ErrInvalid, m, car.Type, car.Level, id)
	}
	pt, err := encode(m)
	if err != nil {
		return nil, err
	}
	return ch.Seal(id.Encode(), counter, pt, nil), nil
}

// openEnvelope authenticates an envelope and returns its counter and plaintext. Errors:
// ErrWrongKey (KID), ErrDecrypt (tag), ErrMalformed/ErrVersion (header).
func openEnvelope(ch *suite.Channel, id canid.ID, env []byte) (uint64, []byte, error) {
	if len(env) > MaxMessageSize {
		return 0, nil, fmt.Errorf("%w: envelope of %d bytes", ErrSize, len(env))
	}
	ctr, pt, err := ch.Open(id.Encode(), env, nil)
	if err != nil {
		return 0, nil, suiteErr("envelope", err)
	}
	return ctr, pt, nil
}

// OpenCommand opens an L5 command envelope; it also returns the exact plaintext, which the ACK
// hashes.
func OpenCommand(ch *suite.Channel, id canid.ID, env []byte) (counter uint64, cmd *Command, plaintext []byte, err error) {
	ctr, pt, err := openEnvelope(ch, id, env)
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
	ctr, pt, err := openEnvelope(ch, id, env)
	if err != nil {
		return 0, nil, err
	}
	m, err := DecodeAck(pt)
	return ctr, m, err
}

// OpenPairedHandshake opens an L4 envelope.
func OpenPairedHandshake(ch *suite.Channel, id canid.ID, env []byte) (uint64, *PairedHandshake, error) {
	ctr, pt, err := openEnvelope(ch, id, env)
	if err != nil {
		return 0, nil, err
	}
	m, err := DecodePairedHandshake(pt)
	return ctr, m, err
}

// OpenTelemetry opens a telemetry envelope.
func OpenTelemetry(ch *suite.Channel, id canid.ID, env []byte) (uint64, *Telemetry, error) {
	ctr, pt, err := openEnvelope(ch, id, env)
	if err != nil {
		return 0, nil, err
	}
	m, err := DecodeTelemetry(pt)
	return ctr, m, err
}
