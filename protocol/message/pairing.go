package message

import (
	"crypto/sha256"
	"fmt"
)

// Entity is one side of a pairing as the clear metadata lists it.
type Entity struct {
	ID     string     `cbor:"1,keyasint"` // entity identifier (device ID or host ID)
	Role   Role       `cbor:"2,keyasint"`
	Addr   uint8      `cbor:"3,keyasint"` // CAN node address (protocol/canid)
	KID    uint16     `cbor:"4,keyasint"` // key ID of the entity's binding (semi-public) key
	Access AccessData `cbor:"5,keyasint"`
}

func (e *Entity) validate(name string) error {
	c := checker{name: name}
	c.text("ID", 1, e.ID, true)
	c.check(e.Role.valid() && e.Role != RoleAuthority, "Role", 2, "role %d", e.Role)
	if c.err != nil {
		return c.err
	}
	return e.Access.Validate()
}

// Timing is a pairing's validity: NumericDate seconds.
type Timing struct {
	CreatedAt int64 `cbor:"1,keyasint"`
	ValidFrom int64 `cbor:"2,keyasint"`
	ExpiresAt int64 `cbor:"3,keyasint"`
}

// Policy maps each message class to the minimum protection it requires under this pairing.
// A class absent from the map must not be sent at all.
type Policy map[Class]Protection

// Encode returns the policy's deterministic CBOR encoding: a map from class to protection.
func (p Policy) Encode() ([]byte, error) { return marshal(p) }

// Digest is SHA-256 over the policy's deterministic CBOR encoding.
func (p Policy) Digest() []byte {
	b, _ := marshal(p)
	h := sha256.Sum256(b)
	return h[:]
}

// PairingMetadata is the pairing certificate's clear part, signed by the authority.
type PairingMetadata struct {
	V            uint8    `cbor:"0,keyasint"`
	PairingID    []byte   `cbor:"1,keyasint"` // 16 bytes
	Context      Context  `cbor:"2,keyasint"`
	Entities     []Entity `cbor:"3,keyasint"` // exactly 2: [A, B]
	Timing       Timing   `cbor:"4,keyasint"`
	Policy       Policy   `cbor:"5,keyasint"`
	PolicyDigest []byte   `cbor:"6,keyasint"` // SHA-256 of Policy's encoding
	Nonce        []byte   `cbor:"7,keyasint"` // 16 bytes, fresh per certificate
	AEAD         int      `cbor:"8,keyasint"` // algorithm of the pairing keys: A256GCM (3)
}

// Validate checks the metadata without keys or time.
func (m *PairingMetadata) Validate() error {
	c := checker{name: "PairingMetadata"}
	c.version(m.V)
	c.size("PairingID", 1, m.PairingID, IDSize)
	c.check(m.Context.valid(), "Context", 2, "context %d", m.Context)
	c.check(len(m.Entities) == 2, "Entities", 3, "%d entities, want 2", len(m.Entities))
	c.time("Timing.CreatedAt", 4, m.Timing.CreatedAt)
	c.check(m.Timing.CreatedAt <= m.Timing.ValidFrom, "Timing.ValidFrom", 4, "valid_from before created_at")
	c.check(m.Timing.ValidFrom < m.Timing.ExpiresAt, "Timing.ExpiresAt", 4, "expires_at not after valid_from")
	c.check(len(m.Policy) > 0, "Policy", 5, "empty policy")
	for cl, p := range m.Policy {
		c.check(cl.valid() && p.valid(), "Policy", 5, "class %d protection %d", cl, p)
	}
	c.size("PolicyDigest", 6, m.PolicyDigest, HashSize)
	c.size("Nonce", 7, m.Nonce, NonceSize)
	if m.AEAD != AlgA256GCM {
		c.fail("AEAD", 8, ErrAlgorithm, "alg %d, want %d", m.AEAD, AlgA256GCM)
	}
	if c.err != nil {
		return c.err
	}
	for i := range m.Entities {
		if err := m.Entities[i].validate(fmt.Sprintf("PairingMetadata.Entities[%d]", i)); err != nil {
			return err
		}
	}
	if m.Entities[0].KID == m.Entities[1].KID || m.Entities[0].ID == m.Entities[1].ID {
		return fieldErr("PairingMetadata", "Entities", 3, ErrInvalid, "both entities are the same")
	}
	if !equalBytes(m.Policy.Digest(), m.PolicyDigest) {
		return fieldErr("PairingMetadata", "PolicyDigest", 6, ErrPolicyDigest, "")
	}
	return nil
}

// Encode returns the deterministic CBOR form.
func (m *PairingMetadata) Encode() ([]byte, error) { return encode(m) }

// DecodePairingMetadata parses the metadata strictly.
func DecodePairingMetadata(b []byte) (*PairingMetadata, error) {
	m := new(PairingMetadata)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// Requires reports the protection the policy demands for a class, and whether the class is
// allowed at all.
func (m *PairingMetadata) Requires(cl Class) (Protection, bool) {
	p, ok := m.Policy[cl]
	return p, ok
}

// EntitySection is what one entity learns from the certificate, sealed to its semi-public key.
type EntitySection struct {
	V            uint8  `cbor:"0,keyasint"`
	PairingID    []byte `cbor:"1,keyasint"`
	Index        uint8  `cbor:"2,keyasint"` // 0 for entity A, 1 for entity B
	KeyHalf      []byte `cbor:"3,keyasint"` // this entity's half: 32 bytes
	ExchangeKey  []byte `cbor:"4,keyasint"` // 32 bytes, shared by both sections
	MetadataHash []byte `cbor:"5,keyasint"` // SHA-256 of the metadata's encoding
}

// Validate checks sizes.
func (m *EntitySection) Validate() error {
	c := checker{name: "EntitySection"}
	c.version(m.V)
	c.size("PairingID", 1, m.PairingID, IDSize)
	c.check(m.Index <= 1, "Index", 2, "index %d", m.Index)
	c.size("KeyHalf", 3, m.KeyHalf, HalfSize)
	c.size("ExchangeKey", 4, m.ExchangeKey, KeySize)
	c.size("MetadataHash", 5, m.MetadataHash, HashSize)
	return c.err
}

// Encode returns the deterministic CBOR form.
func (m *EntitySection) Encode() ([]byte, error) { return encode(m) }

// DecodeEntitySection parses an opened entity section strictly.
func DecodeEntitySection(b []byte) (*EntitySection, error) {
	m := new(EntitySection)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// HandshakeSection proves that both halves came together: it opens only under the key derived
// from both, and its validation nonce goes back to the authority in the completion.
type HandshakeSection struct {
	V               uint8  `cbor:"0,keyasint"`
	PairingID       []byte `cbor:"1,keyasint"`
	ValidationNonce []byte `cbor:"2,keyasint"` // 16 bytes
	MetadataHash    []byte `cbor:"3,keyasint"`
}

// Validate checks sizes.
func (m *HandshakeSection) Validate() error {
	c := checker{name: "HandshakeSection"}
	c.version(m.V)
	c.size("PairingID", 1, m.PairingID, IDSize)
	c.size("ValidationNonce", 2, m.ValidationNonce, NonceSize)
	c.size("MetadataHash", 3, m.MetadataHash, HashSize)
	return c.err
}

// Encode returns the deterministic CBOR form.
func (m *HandshakeSection) Encode() ([]byte, error) { return encode(m) }

// DecodeHandshakeSection parses an opened handshake section strictly.
func DecodeHandshakeSection(b []byte) (*HandshakeSection, error) {
	m := new(HandshakeSection)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// PairingCertificate is the container the authority issues: the signed metadata (COSE_Sign1),
// one COSE_Encrypt section per entity, and the handshake section (COSE_Encrypt0). Each part is
// embedded as a byte string so its exact bytes are what was signed or sealed.
type PairingCertificate struct {
	V         uint8  `cbor:"0,keyasint"`
	Metadata  []byte `cbor:"1,keyasint"`
	SectionA  []byte `cbor:"2,keyasint"`
	SectionB  []byte `cbor:"3,keyasint"`
	Handshake []byte `cbor:"4,keyasint"`
}

// Validate checks that every part is present.
func (m *PairingCertificate) Validate() error {
	c := checker{name: "PairingCertificate"}
	c.version(m.V)
	c.check(len(m.Metadata) > 0, "Metadata", 1, "empty")
	c.check(len(m.SectionA) > 0, "SectionA", 2, "empty")
	c.check(len(m.SectionB) > 0, "SectionB", 3, "empty")
	c.check(len(m.Handshake) > 0, "Handshake", 4, "empty")
	return c.err
}

// Encode returns the deterministic CBOR form.
func (m *PairingCertificate) Encode() ([]byte, error) { return encode(m) }

// DecodePairingCertificate parses the container strictly (the parts are checked by
// OpenPairingCertificate).
func DecodePairingCertificate(b []byte) (*PairingCertificate, error) {
	m := new(PairingCertificate)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// MetadataHash is SHA-256 over the metadata's exact encoded bytes (the COSE_Sign1 payload).
func MetadataHash(encodedMetadata []byte) []byte {
	h := sha256.Sum256(encodedMetadata)
	return h[:]
}
