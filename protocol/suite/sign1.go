package suite

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"
	"io"
	"math/big"

	"github.com/fxamacker/cbor/v2"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

const whatSign1 = "COSE_Sign1"

// sign1Msg is COSE_Sign1 without its tag. Fields stay raw so the decoder can check each one's
// CBOR type itself (a null payload would mean a detached payload, which profile v1 does not use).
type sign1Msg struct {
	_           struct{} `cbor:",toarray"`
	Protected   cbor.RawMessage
	Unprotected map[int64]cbor.RawMessage
	Payload     cbor.RawMessage
	Signature   cbor.RawMessage
}

// sign1Protected is the protected header of every profile v1 signature: {1: -7, 4: kid}.
func sign1Protected(kid uint16) ([]byte, error) {
	return encMode.Marshal(map[int64]any{hdrAlg: AlgES256, hdrKID: kidBytes(kid)})
}

// sigStructure is the ToBeSigned input of RFC 9052 section 4.4.
func sigStructure(protected, external, payload []byte) ([]byte, error) {
	return encMode.Marshal([]any{"Signature1", bstr(protected), bstr(external), bstr(payload)})
}

// Sign1 signs payload as a tagged COSE_Sign1 with protected header {1: -7, 4: kid} and an empty
// unprotected header; external is the detached external AAD (nil means none). The signature is
// 64 bytes r||s. With r == nil the signature is deterministic (RFC 6979), which test vectors use;
// with a non-nil r it is randomized (Go takes the randomness from its own secure source).
func Sign1(k *PrivateKey, payload, external []byte, r io.Reader) ([]byte, error) {
	if k == nil {
		return nil, fmt.Errorf("suite: sign: nil key: %w", ErrBadScalar)
	}
	prot, err := sign1Protected(k.pub.kid)
	if err != nil {
		return nil, fmt.Errorf("suite: sign: %w", err)
	}
	tbs, err := sigStructure(prot, external, payload)
	if err != nil {
		return nil, fmt.Errorf("suite: sign: %w", err)
	}
	digest := sha256.Sum256(tbs)
	der, err := k.sig.Sign(r, digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("suite: sign: %w", err)
	}
	sig, err := derToRaw(der)
	if err != nil {
		return nil, fmt.Errorf("suite: sign: %w", err)
	}
	return encMode.Marshal(cbor.Tag{Number: tagSign1, Content: []any{
		prot, map[int64]any{}, bstr(payload), sig,
	}})
}

// parsedSign1 is a structurally valid COSE_Sign1 with a supported algorithm.
type parsedSign1 struct {
	protected, payload, signature []byte
	kid                           uint16
}

func parseSign1(msg []byte) (*parsedSign1, error) {
	content, err := untag(whatSign1, msg, tagSign1)
	if err != nil {
		return nil, err
	}
	var m sign1Msg
	if err := decMode.Unmarshal(content, &m); err != nil {
		return nil, malformed(whatSign1, "not a 4-element array", err)
	}
	var p parsedSign1
	if p.protected, err = decodeBstr(whatSign1, "protected header", m.Protected); err != nil {
		return nil, err
	}
	if len(m.Payload) > 0 && m.Payload[0] == 0xf6 {
		return nil, malformed(whatSign1, "detached payload is not used in profile v1", nil)
	}
	if p.payload, err = decodeBstr(whatSign1, "payload", m.Payload); err != nil {
		return nil, err
	}
	if p.signature, err = decodeBstr(whatSign1, "signature", m.Signature); err != nil {
		return nil, err
	}
	h, err := decodeHeader(whatSign1, p.protected)
	if err != nil {
		return nil, err
	}
	alg, ok, err := h.int(whatSign1, hdrAlg)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, malformed(whatSign1, "no algorithm in the protected header", nil)
	}
	if alg != AlgES256 {
		return nil, fmt.Errorf("%w: signature algorithm %d, want %d (ES256)", ErrUnsupportedAlg, alg, AlgES256)
	}
	if err := h.only(whatSign1, hdrAlg, hdrKID); err != nil {
		return nil, err
	}
	kid, ok, err := h.kid(whatSign1)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, malformed(whatSign1, "no kid in the protected header", nil)
	}
	p.kid = kid
	if _, ok := m.Unprotected[hdrAlg]; ok {
		return nil, malformed(whatSign1, "algorithm in the unprotected header", nil)
	}
	if _, ok := m.Unprotected[hdrKID]; ok {
		return nil, malformed(whatSign1, "kid in the unprotected header", nil)
	}
	if len(p.signature) != SignatureSize {
		return nil, malformed(whatSign1, fmt.Sprintf("signature is %d bytes, want %d", len(p.signature), SignatureSize), nil)
	}
	return &p, nil
}

// PeekSign1 returns the signer's key ID and the payload without verifying the signature, so a
// receiver can pick the key. Nothing it returns may be trusted before Verify1 succeeds.
func PeekSign1(msg []byte) (kid uint16, payload []byte, err error) {
	p, err := parseSign1(msg)
	if err != nil {
		return 0, nil, err
	}
	return p.kid, p.payload, nil
}

// Verify1 checks a tagged COSE_Sign1 made by Sign1 against p and the external AAD and returns
// its payload. Errors: ErrMalformed (a *DecodeError), ErrUnsupportedAlg, ErrWrongKey (the kid is
// not p's), ErrBadSignature.
func Verify1(p *PublicKey, msg, external []byte) (payload []byte, err error) {
	if p == nil {
		return nil, fmt.Errorf("suite: verify: nil key: %w", ErrBadPoint)
	}
	m, err := parseSign1(msg)
	if err != nil {
		return nil, err
	}
	if m.kid != p.kid {
		return nil, fmt.Errorf("%w: message kid %04x, key kid %04x", ErrWrongKey, m.kid, p.kid)
	}
	tbs, err := sigStructure(m.protected, external, m.payload)
	if err != nil {
		return nil, fmt.Errorf("suite: verify: %w", err)
	}
	if !verifyRaw(p, tbs, m.signature) {
		return nil, ErrBadSignature
	}
	return m.payload, nil
}

// verifyRaw checks a 64-byte r||s ES256 signature over tbs.
func verifyRaw(p *PublicKey, tbs, sig []byte) bool {
	if len(sig) != SignatureSize {
		return false
	}
	digest := sha256.Sum256(tbs)
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(p.sig, digest[:], r, s)
}

// derToRaw converts an ASN.1 ECDSA signature to fixed-width r||s.
func derToRaw(der []byte) ([]byte, error) {
	var r, s []byte
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1Integer(&r) || !seq.ReadASN1Integer(&s) || !seq.Empty() {
		return nil, fmt.Errorf("unexpected ECDSA signature encoding")
	}
	out := make([]byte, SignatureSize)
	if !putFixed(out[:32], r) || !putFixed(out[32:], s) {
		return nil, fmt.Errorf("ECDSA signature component too long")
	}
	return out, nil
}

// putFixed writes a big-endian integer (possibly with a leading zero byte) right-aligned into dst.
func putFixed(dst, v []byte) bool {
	for len(v) > 0 && v[0] == 0 {
		v = v[1:]
	}
	if len(v) > len(dst) {
		return false
	}
	copy(dst[len(dst)-len(v):], v)
	return true
}
