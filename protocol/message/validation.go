package message

import (
	"fmt"
	"io"
	"time"

	"github.com/modbatt/hilrun/protocol/suite"
)

// PairingValidationKind is the kind of an L6 pairing validation.
type PairingValidationKind uint8

const (
	PairingCompleted PairingValidationKind = 1 // the authority confirms a completion
	PairingRevoked   PairingValidationKind = 2 // the pairing is void from now on
	PairingModified  PairingValidationKind = 3 // new expiry and/or policy for the same keys
)

// PairingValidation is the authority's L6 statement about a pairing, signed (COSE_Sign1).
type PairingValidation struct {
	V              uint8                 `cbor:"0,keyasint"`
	Kind           PairingValidationKind `cbor:"1,keyasint"`
	PairingID      []byte                `cbor:"2,keyasint"`
	IssuedAt       int64                 `cbor:"3,keyasint"`
	CompletionHash []byte                `cbor:"4,keyasint,omitempty"` // completed: SHA-256 of the Completion's encoding
	Reason         *Reason               `cbor:"5,keyasint,omitempty"` // revoked
	ExpiresAt      int64                 `cbor:"6,keyasint,omitempty"` // modified: new expires_at
	Policy         Policy                `cbor:"7,keyasint,omitempty"` // modified: new policy
	PolicyDigest   []byte                `cbor:"8,keyasint,omitempty"` // modified with a policy
}

// Validate checks the kind's fields.
func (m *PairingValidation) Validate() error {
	c := checker{name: "PairingValidation"}
	c.version(m.V)
	c.size("PairingID", 2, m.PairingID, IDSize)
	c.time("IssuedAt", 3, m.IssuedAt)
	switch m.Kind {
	case PairingCompleted:
		c.size("CompletionHash", 4, m.CompletionHash, HashSize)
		c.check(m.Reason == nil && m.ExpiresAt == 0 && m.Policy == nil && m.PolicyDigest == nil, "Kind", 1, "fields of another kind")
	case PairingRevoked:
		c.check(m.Reason != nil && m.Reason.valid(), "Reason", 5, "revocation without a valid reason")
		c.check(m.CompletionHash == nil && m.ExpiresAt == 0 && m.Policy == nil && m.PolicyDigest == nil, "Kind", 1, "fields of another kind")
	case PairingModified:
		c.check(m.ExpiresAt > 0 || m.Policy != nil, "Kind", 1, "modification changes nothing")
		c.check(m.CompletionHash == nil && m.Reason == nil, "Kind", 1, "fields of another kind")
		c.check((m.Policy == nil) == (m.PolicyDigest == nil), "PolicyDigest", 8, "policy and digest go together")
		for cl, p := range m.Policy {
			c.check(cl.valid() && p.valid(), "Policy", 7, "class %d protection %d", cl, p)
		}
		if m.Policy != nil && c.err == nil {
			c.size("PolicyDigest", 8, m.PolicyDigest, HashSize)
			if c.err == nil && !equalBytes(m.Policy.Digest(), m.PolicyDigest) {
				c.fail("PolicyDigest", 8, ErrPolicyDigest, "")
			}
		}
	default:
		c.fail("Kind", 1, ErrInvalid, "kind %d", m.Kind)
	}
	return c.err
}

// Encode returns the deterministic CBOR form (the signed payload).
func (m *PairingValidation) Encode() ([]byte, error) { return encode(m) }

// DecodePairingValidation parses an L6 payload strictly.
func DecodePairingValidation(b []byte) (*PairingValidation, error) {
	m := new(PairingValidation)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// SignPairingValidation signs an L6 statement with the authority's key.
func SignPairingValidation(authority *suite.PrivateKey, m *PairingValidation, r io.Reader) ([]byte, error) {
	return signMessage(authority, domainPairingVal, m, r)
}

// VerifyPairingValidation checks an L6 statement: KID, signature, decoding, pairing ID
// (ErrPairingID), issue time within ±5 min.
func VerifyPairingValidation(authority *suite.PublicKey, msg, pairingID []byte, now time.Time) (*PairingValidation, error) {
	m, err := verifyMessage[PairingValidation](authority, domainPairingVal, msg)
	if err != nil {
		return nil, err
	}
	if !equalBytes(m.PairingID, pairingID) {
		return nil, fmt.Errorf("%w: L6 for %x", ErrPairingID, m.PairingID)
	}
	if err := CheckFreshness(now, m.IssuedAt); err != nil {
		return nil, err
	}
	return m, nil
}

// BindingValidationKind is the kind of an L7 binding validation.
type BindingValidationKind uint8

const (
	BindingEstablished BindingValidationKind = 1
	BindingVerified    BindingValidationKind = 2
	BindingRevoked     BindingValidationKind = 3 // every pairing of these entities is void
)

// BindingValidation is the authority's L7 statement about a binding, signed (COSE_Sign1),
// with the ledger proof.
type BindingValidation struct {
	V               uint8                 `cbor:"0,keyasint"`
	Kind            BindingValidationKind `cbor:"1,keyasint"`
	BindingID       []byte                `cbor:"2,keyasint"`
	Entities        []string              `cbor:"3,keyasint"` // exactly 2
	KIDs            []uint16              `cbor:"4,keyasint"` // their binding KIDs, same order
	BlockchainProof []byte                `cbor:"5,keyasint"` // hash of the ledger entry (32 bytes)
	IssuedAt        int64                 `cbor:"6,keyasint"`
	Reason          *Reason               `cbor:"7,keyasint,omitempty"` // revoked
}

// Validate checks the kind's fields.
func (m *BindingValidation) Validate() error {
	c := checker{name: "BindingValidation"}
	c.version(m.V)
	c.check(m.Kind >= BindingEstablished && m.Kind <= BindingRevoked, "Kind", 1, "kind %d", m.Kind)
	c.size("BindingID", 2, m.BindingID, IDSize)
	c.check(len(m.Entities) == 2, "Entities", 3, "%d entities, want 2", len(m.Entities))
	for i, e := range m.Entities {
		c.text(fmt.Sprintf("Entities[%d]", i), 3, e, true)
	}
	c.check(len(m.KIDs) == 2, "KIDs", 4, "%d KIDs, want 2", len(m.KIDs))
	c.size("BlockchainProof", 5, m.BlockchainProof, HashSize)
	c.time("IssuedAt", 6, m.IssuedAt)
	if m.Kind == BindingRevoked {
		c.check(m.Reason != nil && m.Reason.valid(), "Reason", 7, "revocation without a valid reason")
	} else {
		c.check(m.Reason == nil, "Reason", 7, "reason outside a revocation")
	}
	return c.err
}

// Encode returns the deterministic CBOR form (the signed payload).
func (m *BindingValidation) Encode() ([]byte, error) { return encode(m) }

// DecodeBindingValidation parses an L7 payload strictly.
func DecodeBindingValidation(b []byte) (*BindingValidation, error) {
	m := new(BindingValidation)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// SignBindingValidation signs an L7 statement with the authority's key.
func SignBindingValidation(authority *suite.PrivateKey, m *BindingValidation, r io.Reader) ([]byte, error) {
	return signMessage(authority, domainBindingVal, m, r)
}

// VerifyBindingValidation checks an L7 statement: KID, signature, decoding, binding ID
// (ErrBindingID), issue time within ±5 min.
func VerifyBindingValidation(authority *suite.PublicKey, msg, bindingID []byte, now time.Time) (*BindingValidation, error) {
	m, err := verifyMessage[BindingValidation](authority, domainBindingVal, msg)
	if err != nil {
		return nil, err
	}
	if !equalBytes(m.BindingID, bindingID) {
		return nil, fmt.Errorf("%w: L7 for %x", ErrBindingID, m.BindingID)
	}
	if err := CheckFreshness(now, m.IssuedAt); err != nil {
		return nil, err
	}
	return m, nil
}

// Verdict is a validation result.
type Verdict uint8

const (
	VerdictValid   Verdict = 0
	VerdictInvalid Verdict = 1 // a check failed; Reason says which kind
	VerdictRevoked Verdict = 2
	VerdictExpired Verdict = 3
	VerdictUnknown Verdict = 4 // the authority has no record of the subject
)

// ValidationResult is the authority's verdict on an L6 or L7 request, relayed to a device,
// signed (COSE_Sign1).
type ValidationResult struct {
	V       uint8   `cbor:"0,keyasint"`
	Level   Level   `cbor:"1,keyasint"` // 6 or 7
	Subject []byte  `cbor:"2,keyasint"` // pairing ID (L6) or binding ID (L7)
	Verdict Verdict `cbor:"3,keyasint"`
	Ref     []byte  `cbor:"4,keyasint"` // SHA-256 of the request it answers
	At      int64   `cbor:"5,keyasint"`
	Reason  *Reason `cbor:"6,keyasint,omitempty"`
}

// Validate checks ranges.
func (m *ValidationResult) Validate() error {
	c := checker{name: "ValidationResult"}
	c.version(m.V)
	c.check(m.Level == L6PairingValidation || m.Level == L7BindingValidation, "Level", 1, "level %d", m.Level)
	c.size("Subject", 2, m.Subject, IDSize)
	c.check(m.Verdict <= VerdictUnknown, "Verdict", 3, "verdict %d", m.Verdict)
	c.size("Ref", 4, m.Ref, HashSize)
	c.time("At", 5, m.At)
	if m.Reason != nil {
		c.check(m.Reason.valid(), "Reason", 6, "reason %d", *m.Reason)
	}
	return c.err
}

// Encode returns the deterministic CBOR form (the signed payload).
func (m *ValidationResult) Encode() ([]byte, error) { return encode(m) }

// DecodeValidationResult parses a validation result payload strictly.
func DecodeValidationResult(b []byte) (*ValidationResult, error) {
	m := new(ValidationResult)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// SignValidationResult signs a verdict with the authority's key.
func SignValidationResult(authority *suite.PrivateKey, m *ValidationResult, r io.Reader) ([]byte, error) {
	return signMessage(authority, domainResult, m, r)
}

// VerifyValidationResult checks a verdict: KID, signature, decoding, subject (ErrSubject),
// time within ±5 min.
func VerifyValidationResult(authority *suite.PublicKey, msg, subject []byte, now time.Time) (*ValidationResult, error) {
	m, err := verifyMessage[ValidationResult](authority, domainResult, msg)
	if err != nil {
		return nil, err
	}
	if !equalBytes(m.Subject, subject) {
		return nil, fmt.Errorf("%w: verdict on %x", ErrSubject, m.Subject)
	}
	if err := CheckFreshness(now, m.At); err != nil {
		return nil, err
	}
	return m, nil
}
