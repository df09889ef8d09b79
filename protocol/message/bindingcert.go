package message

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/modbatt/hilrun/protocol/suite"
)

// COSEKey is an RFC 9052 EC2 public key (P-256), used as the binding certificate's
// confirmation key.
type COSEKey struct {
	Kty int    `cbor:"1,keyasint"`  // 2 = EC2
	KID []byte `cbor:"2,keyasint"`  // the 16-bit key ID, 2 bytes big-endian
	Crv int    `cbor:"-1,keyasint"` // 1 = P-256
	X   []byte `cbor:"-2,keyasint"` // 32 bytes
	Y   []byte `cbor:"-3,keyasint"` // 32 bytes
}

// COSE key parameters used by profile v1.
const (
	KtyEC2  = 2
	CrvP256 = 1
)

// Confirmation is the CWT cnf claim (RFC 8747): the key the subject proves possession of.
type Confirmation struct {
	Key COSEKey `cbor:"1,keyasint"`
}

// KeyToCOSE converts a public key to its COSE form.
func KeyToCOSE(p *suite.PublicKey) COSEKey {
	b := p.Bytes()
	return COSEKey{Kty: KtyEC2, KID: kidBytes(p.KID()), Crv: CrvP256,
		X: append([]byte(nil), b[1:33]...), Y: append([]byte(nil), b[33:65]...)}
}

// PublicKey parses the COSE key and checks that its KID is the key's KID.
func (k *COSEKey) PublicKey() (*suite.PublicKey, error) {
	c := checker{name: "COSEKey"}
	c.check(k.Kty == KtyEC2, "Kty", 1, "kty %d, want %d", k.Kty, KtyEC2)
	c.check(k.Crv == CrvP256, "Crv", -1, "crv %d, want %d", k.Crv, CrvP256)
	c.size("KID", 2, k.KID, 2)
	c.size("X", -2, k.X, 32)
	c.size("Y", -3, k.Y, 32)
	if c.err != nil {
		return nil, c.err
	}
	pub, err := suite.ParsePublicKey(append(append([]byte{4}, k.X...), k.Y...))
	if err != nil {
		return nil, fieldErr("COSEKey", "X", -2, ErrInvalid, "%v", err)
	}
	if !bytes.Equal(kidBytes(pub.KID()), k.KID) {
		return nil, fieldErr("COSEKey", "KID", 2, ErrKeyMismatch, "kid %x, key has %04x", k.KID, pub.KID())
	}
	return pub, nil
}

func kidBytes(kid uint16) []byte { return binary.BigEndian.AppendUint16(nil, kid) }

// BindingClaims is the payload of a binding certificate: the authority states that Subject,
// reachable through Access, holds the key in Cnf, for the partner Audience. It is a CWT-like
// claims set (RFC 8392 keys 1–8) with profile claims 20 and up.
type BindingClaims struct {
	V         uint8        `cbor:"0,keyasint"`
	Issuer    string       `cbor:"1,keyasint"` // iss: authority identifier
	Subject   string       `cbor:"2,keyasint"` // sub: the entity whose key this is
	Audience  string       `cbor:"3,keyasint"` // aud: the bound partner
	Expires   int64        `cbor:"4,keyasint"` // exp
	NotBefore int64        `cbor:"5,keyasint"` // nbf
	IssuedAt  int64        `cbor:"6,keyasint"` // iat
	BindingID []byte       `cbor:"7,keyasint"` // cti: 16-byte binding ID
	Cnf       Confirmation `cbor:"8,keyasint"` // cnf: the subject's semi-public key
	Role      Role         `cbor:"20,keyasint"`
	Access    AccessData   `cbor:"21,keyasint"` // how to reach the subject
}

// Validate checks the claims without keys or time.
func (m *BindingClaims) Validate() error {
	c := checker{name: "BindingClaims"}
	c.version(m.V)
	c.text("Issuer", 1, m.Issuer, true)
	c.text("Subject", 2, m.Subject, true)
	c.text("Audience", 3, m.Audience, true)
	c.time("Expires", 4, m.Expires)
	c.time("NotBefore", 5, m.NotBefore)
	c.time("IssuedAt", 6, m.IssuedAt)
	c.check(m.NotBefore < m.Expires, "Expires", 4, "exp %d not after nbf %d", m.Expires, m.NotBefore)
	c.size("BindingID", 7, m.BindingID, IDSize)
	c.check(m.Role.valid(), "Role", 20, "role %d", m.Role)
	if c.err != nil {
		return c.err
	}
	if _, err := m.Cnf.Key.PublicKey(); err != nil {
		return err
	}
	return m.Access.Validate()
}

// Encode returns the deterministic CBOR form.
func (m *BindingClaims) Encode() ([]byte, error) { return encode(m) }

// DecodeBindingClaims parses the claims strictly.
func DecodeBindingClaims(b []byte) (*BindingClaims, error) {
	m := new(BindingClaims)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// IssueBindingCertificate signs the claims with the authority's key (COSE_Sign1, ES256,
// external AAD "web4/v1/binding-certificate").
func IssueBindingCertificate(authority *suite.PrivateKey, m *BindingClaims, r io.Reader) ([]byte, error) {
	payload, err := m.Encode()
	if err != nil {
		return nil, err
	}
	return signDomain(authority, domainBindingCert, payload, r)
}

// BindingExpect is what the receiver of a binding certificate knows beforehand.
type BindingExpect struct {
	Issuer    string // authority identifier; empty skips the check
	Subject   string // expected subject; empty skips the check
	Audience  string // the receiver itself; empty skips the check
	BindingID []byte // nil skips the check
}

// VerifyBindingCertificate checks a binding certificate in this order: authority KID, signature,
// claims decoding, issuer, subject, audience, binding ID, validity window (±MaxSkew), issue time
// not in the future, confirmation key. It returns the claims and the subject's key.
func VerifyBindingCertificate(msg []byte, authority *suite.PublicKey, want BindingExpect, now time.Time) (*BindingClaims, *suite.PublicKey, error) {
	payload, err := verifyDomain(authority, domainBindingCert, msg)
	if err != nil {
		return nil, nil, err
	}
	m, err := DecodeBindingClaims(payload)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case want.Issuer != "" && m.Issuer != want.Issuer:
		return nil, nil, fmt.Errorf("%w: issuer %q, want %q", ErrIssuer, m.Issuer, want.Issuer)
	case want.Subject != "" && m.Subject != want.Subject:
		return nil, nil, fmt.Errorf("%w: subject %q, want %q", ErrSubject, m.Subject, want.Subject)
	case want.Audience != "" && m.Audience != want.Audience:
		return nil, nil, fmt.Errorf("%w: audience %q, want %q", ErrEntity, m.Audience, want.Audience)
	case want.BindingID != nil && !bytes.Equal(m.BindingID, want.BindingID):
		return nil, nil, fmt.Errorf("%w: %x, want %x", ErrBindingID, m.BindingID, want.BindingID)
	}
	if err := CheckValidity(now, m.NotBefore, m.Expires); err != nil {
		return nil, nil, err
	}
	if d := time.Unix(m.IssuedAt, 0).Sub(now) - MaxSkew; d > 0 {
		return nil, nil, &TimeError{Kind: ErrClockSkew, By: d}
	}
	pub, err := m.Cnf.Key.PublicKey()
	if err != nil {
		return nil, nil, err
	}
	return m, pub, nil
}
