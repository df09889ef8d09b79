package message

import (
	"bytes"
	"sort"
	"testing"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/suite"
)

// Decoder families; the fuzz input's first byte picks the decoder within the family.
var (
	familyCerts      = []string{"PairingCertificate", "PairingMetadata", "EntitySection", "HandshakeSection", "BindingClaims", "GenerateKeysRequest", "GenerateKeysResponse"}
	familyL5         = []string{"Command", "Ack", "Telemetry", "PairedHandshake", "KeyHalf"}
	familyValidation = []string{"Announce", "Witness", "SignedHandshake", "Completion", "Escalation", "PairingValidation", "BindingValidation", "ValidationResult"}
)

// fuzzDecode decodes data[1:] with the family member data[0] picks and checks the decoder's
// contract: an accepted input is valid and is its own deterministic encoding.
func fuzzDecode(t *testing.T, family []string, data []byte) {
	if len(data) == 0 {
		return
	}
	name := family[int(data[0])%len(family)]
	in := data[1:]
	m, err := decoders[name](in)
	if err != nil {
		if len(kinds(err)) == 0 {
			t.Fatalf("%s: error of no known kind: %v", name, err)
		}
		return
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("%s: accepted but invalid: %v", name, err)
	}
	out, err := marshal(m)
	if err != nil || !bytes.Equal(out, in) {
		t.Fatalf("%s: accepted input is not canonical: %x vs %x (%v)", name, in, out, err)
	}
}

func seedFamily(f *testing.F, family []string) {
	s := samples(f)
	for i, name := range family {
		enc, err := marshal(s[name])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte{byte(i)}, enc...))
	}
}

func FuzzDecodeCertificates(f *testing.F) {
	seedFamily(f, familyCerts)
	w := newWorld(f)
	is := w.issue(f)
	f.Add(append([]byte{0}, is.Certificate...))
	f.Add(append([]byte{1}, is.Metadata...))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, familyCerts, data) })
}

func FuzzDecodeL5(f *testing.F) {
	seedFamily(f, familyL5)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, familyL5, data) })
}

func FuzzDecodeValidation(f *testing.F) {
	seedFamily(f, familyValidation)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, familyValidation, data) })
}

// FuzzOpenPairingCertificate feeds whole certificates to the verify-and-open path.
func FuzzOpenPairingCertificate(f *testing.F) {
	w := newWorld(f)
	is := w.issue(f)
	f.Add(is.Certificate)
	f.Add(is.Metadata)
	want := PairingExpect{Authority: w.authority.Public(), Self: w.module}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := OpenPairingCertificate(data, want, t0)
		if err != nil {
			if len(kinds(err)) == 0 {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		_, _ = o.OpenHandshake(make([]byte, 32))
	})
}

// FuzzVerifySigned feeds COSE_Sign1 messages to every verify path.
func FuzzVerifySigned(f *testing.F) {
	w := newWorld(f)
	for _, m := range samples(f) {
		if enc, err := marshal(m); err == nil {
			msg, _ := signDomain(w.authority, domainWitness, enc, nil)
			f.Add(msg)
		}
	}
	pub := w.authority.Public()
	f.Fuzz(func(t *testing.T, data []byte) {
		now := t0
		_, _, _ = VerifyBindingCertificate(data, pub, BindingExpect{}, now)
		_, _ = VerifyWitness(pub, data, now)
		_, _ = VerifySignedHandshake(pub, data, HandshakeExpect{}, now)
		_, _ = VerifyPairingValidation(pub, data, nil, now)
		_, _ = VerifyBindingValidation(pub, data, nil, now)
		_, _ = VerifyValidationResult(pub, data, nil, now)
		if c, err := DecodeCompletion(data); err == nil {
			_ = VerifyCompletion(c, CompletionExpect{Keys: [2]*suite.PublicKey{pub, pub}, MACKey: make([]byte, 32)}, now)
		}
	})
}

// FuzzOpenEnvelope feeds channel envelopes and COSE_Encrypt0 messages to the open paths.
func FuzzOpenEnvelope(f *testing.F) {
	var key [32]byte
	ch := suite.NewChannel(key, [12]byte{}, 0x0102)
	id := canid.New(canid.TypeCommand, true, canid.LevelPairing, 1, canid.AddrPack)
	s := samples(f)
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if enc, err := marshal(s[n]); err == nil {
			f.Add(ch.Seal(id.Encode(), 5, enc, nil))
		}
	}
	hs, _ := sealEncrypt0(key[:], 0x0102, handshakeIV, []byte{0xa0}, nil)
	f.Add(hs)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _, _ = OpenCommand(ch, id, data)
		_, _, _ = OpenAck(ch, id, data)
		_, _, _ = OpenTelemetry(ch, id, data)
		_, _, _ = OpenPairedHandshake(ch, id, data)
		_, _ = OpenKeyHalfWith(key[:], []byte("pairing-0000-001"), nil, id, data)
		_, _ = OpenHandshakeSection(data, key[:], key[:], 0x0102, nil, nil)
	})
}

// FuzzJSON feeds the HTTP bodies of generate-keys to their decoders.
func FuzzJSON(f *testing.F) {
	f.Add([]byte(`{"partner_access_data":{"type":"can","chain_id":"web4-test","device_id":"PC-12345","endpoint":"0x40"}}`))
	f.Add([]byte(`{"semi_public_key":"BAAA","binding_id":"62696e64-696e-672d-3030-303030303031"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = DecodeGenerateKeysRequestJSON(data)
		_, _ = DecodeGenerateKeysResponseJSON(data, suite.KeyID)
	})
}
