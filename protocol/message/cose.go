package message

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"

	"github.com/fxamacker/cbor/v2"
	"github.com/modbatt/hilrun/protocol/suite"
)

// Domain labels passed as COSE external AAD, so a signature or ciphertext made for one kind
// of structure is never accepted as another.
const (
	domainBindingCert = "web4/v1/binding-certificate"
	domainMetadata    = "web4/v1/pairing-metadata"
	domainWitness     = "web4/v1/witness"
	domainSignedHS    = "web4/v1/signed-handshake"
	domainPairingVal  = "web4/v1/pairing-validation"
	domainBindingVal  = "web4/v1/binding-validation"
	domainResult      = "web4/v1/validation-result"
	domainSection     = "web4/v1/entity-section"
	domainHandshake   = "web4/v1/handshake-section"
)

func signDomain(k *suite.PrivateKey, domain string, payload []byte, r io.Reader) ([]byte, error) {
	msg, err := suite.Sign1(k, payload, []byte(domain), r)
	if err != nil {
		return nil, fmt.Errorf("message: sign: %w", err)
	}
	return msg, nil
}

// verifyDomain checks the signer's KID before the signature, so a message from another key is
// reported as ErrWrongKey and a tampered one as ErrSignature.
func verifyDomain(pub *suite.PublicKey, domain string, msg []byte) ([]byte, error) {
	if len(msg) > MaxMessageSize {
		return nil, fmt.Errorf("%w: COSE_Sign1 of %d bytes", ErrSize, len(msg))
	}
	kid, _, err := suite.PeekSign1(msg)
	if err != nil {
		return nil, suiteErr("COSE_Sign1", err)
	}
	if kid != pub.KID() {
		return nil, fmt.Errorf("%w: signed by kid %04x, want %04x", ErrWrongKey, kid, pub.KID())
	}
	payload, err := suite.Verify1(pub, msg, []byte(domain))
	if err != nil {
		return nil, suiteErr("COSE_Sign1", err)
	}
	return payload, nil
}

// suiteErr maps a suite error to the package's sentinel and keeps the original in the chain.
func suiteErr(what string, err error) error {
	var ours error
	switch {
	case errors.Is(err, suite.ErrBadSignature):
		ours = ErrSignature
	case errors.Is(err, suite.ErrWrongKey):
		ours = ErrWrongKey
	case errors.Is(err, suite.ErrAuth):
		ours = ErrDecrypt
	case errors.Is(err, suite.ErrUnsupportedAlg):
		ours = ErrAlgorithm
	case errors.Is(err, suite.ErrVersion):
		ours = ErrVersion
	default:
		ours = ErrMalformed
	}
	return fmt.Errorf("%w: %s: %w", ours, what, err)
}

// COSE_Encrypt0 (RFC 9052 section 5.2) with A256GCM under a symmetric key: the handshake
// section and the key-half exchange. Both keys are single-use per pairing and direction, so the
// IV is fixed by the protocol rather than random.

const tagEncrypt0 = 16

var protectedA256GCM = []byte{0xa1, 0x01, 0x03} // {1: 3}

type encrypt0Header struct {
	KID []byte `cbor:"4,keyasint"`
	IV  []byte `cbor:"5,keyasint"`
}

type encrypt0 struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected encrypt0Header
	Ciphertext  []byte
}

var tagDecMode cbor.DecMode

func init() {
	var err error
	tagDecMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		MaxNestedLevels:   maxNested,
		MaxArrayElements:  maxArray,
		MaxMapPairs:       maxPairs,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

func encStructure(external []byte) []byte {
	b, _ := encMode.Marshal([]any{"Encrypt0", protectedA256GCM, external})
	return b
}

func sealEncrypt0(key []byte, kid uint16, iv []byte, plaintext, external []byte) ([]byte, error) {
	aead, err := gcm(key)
	if err != nil {
		return nil, err
	}
	ct := aead.Seal(nil, iv, plaintext, encStructure(external))
	return marshal(cbor.Tag{Number: tagEncrypt0, Content: encrypt0{
		Protected:   protectedA256GCM,
		Unprotected: encrypt0Header{KID: kidBytes(kid), IV: iv},
		Ciphertext:  ct,
	}})
}

// peekEncrypt0 parses a COSE_Encrypt0 strictly and returns its KID.
func peekEncrypt0(msg []byte) (uint16, *encrypt0, error) {
	if len(msg) > MaxMessageSize {
		return 0, nil, fmt.Errorf("%w: COSE_Encrypt0 of %d bytes", ErrSize, len(msg))
	}
	var raw cbor.RawTag
	if err := tagDecMode.Unmarshal(msg, &raw); err != nil {
		return 0, nil, classify("COSE_Encrypt0", err)
	}
	if raw.Number != tagEncrypt0 {
		return 0, nil, fmt.Errorf("%w: COSE_Encrypt0: tag %d", ErrMalformed, raw.Number)
	}
	var e encrypt0
	if err := tagDecMode.Unmarshal(raw.Content, &e); err != nil {
		return 0, nil, classify("COSE_Encrypt0", err)
	}
	switch {
	case !bytes.Equal(e.Protected, protectedA256GCM):
		return 0, nil, fmt.Errorf("%w: COSE_Encrypt0 protected header %x", ErrAlgorithm, e.Protected)
	case len(e.Unprotected.KID) != 2:
		return 0, nil, fmt.Errorf("%w: COSE_Encrypt0 kid of %d bytes", ErrSize, len(e.Unprotected.KID))
	case len(e.Unprotected.IV) != 12:
		return 0, nil, fmt.Errorf("%w: COSE_Encrypt0 IV of %d bytes", ErrSize, len(e.Unprotected.IV))
	case len(e.Ciphertext) < 16:
		return 0, nil, fmt.Errorf("%w: COSE_Encrypt0 ciphertext of %d bytes", ErrSize, len(e.Ciphertext))
	}
	again, err := marshal(cbor.Tag{Number: tagEncrypt0, Content: e})
	if err != nil || !bytes.Equal(again, msg) {
		return 0, nil, fmt.Errorf("%w: COSE_Encrypt0", ErrNonCanonical)
	}
	return uint16(e.Unprotected.KID[0])<<8 | uint16(e.Unprotected.KID[1]), &e, nil
}

func openEncrypt0(key []byte, kid uint16, msg, external []byte) ([]byte, error) {
	got, e, err := peekEncrypt0(msg)
	if err != nil {
		return nil, err
	}
	if got != kid {
		return nil, fmt.Errorf("%w: COSE_Encrypt0 kid %04x, want %04x", ErrWrongKey, got, kid)
	}
	aead, err := gcm(key)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, e.Unprotected.IV, e.Ciphertext, encStructure(external))
	if err != nil {
		return nil, fmt.Errorf("%w: COSE_Encrypt0: %v", ErrDecrypt, err)
	}
	return pt, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: AES-256 key of %d bytes", ErrSize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	return cipher.NewGCM(block)
}
