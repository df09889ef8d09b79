package message

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/suite"
)

// KeyHalf is the key-half exchange message, sent under the certificate's exchange key
// (COSE_Encrypt0, A256GCM, the metadata hash as external AAD).
type KeyHalf struct {
	V         uint8   `cbor:"0,keyasint"`
	PairingID []byte  `cbor:"1,keyasint"`
	Index     uint8   `cbor:"2,keyasint"` // sender's index: 0 = A, 1 = B
	Context   Context `cbor:"3,keyasint"`
	Half      []byte  `cbor:"4,keyasint"` // 32 bytes
}

// Validate checks sizes and ranges.
func (m *KeyHalf) Validate() error {
	c := checker{name: "KeyHalf"}
	c.version(m.V)
	c.size("PairingID", 1, m.PairingID, IDSize)
	c.check(m.Index <= 1, "Index", 2, "index %d", m.Index)
	c.check(m.Context.valid(), "Context", 3, "context %d", m.Context)
	c.size("Half", 4, m.Half, HalfSize)
	return c.err
}

// Encode returns the deterministic CBOR form (the plaintext of the sealed message).
func (m *KeyHalf) Encode() ([]byte, error) { return encode(m) }

// DecodeKeyHalf parses an opened key-half message strictly.
func DecodeKeyHalf(b []byte) (*KeyHalf, error) {
	m := new(KeyHalf)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// exchangeChannel is the channel of the exchange phase: suite.ExchangeKeys over the exchange
// key and the pairing ID, shared by both directions (the nonce carries the sender's address).
func exchangeChannel(exchangeKey, pairingID []byte) *suite.Channel {
	l := suite.ExchangeKeys(exchangeKey, pairingID)
	defer l.Erase()
	return suite.NewLevelChannel(l)
}

// ExchangeKID is the KID of a pairing's exchange-phase keys; it also names the handshake
// section's key.
func ExchangeKID(exchangeKey, pairingID []byte) uint16 {
	l := suite.ExchangeKeys(exchangeKey, pairingID)
	defer l.Erase()
	return l.KID
}

// SealKeyHalf makes the entity's key-half message: a channel envelope under the exchange keys
// for CAN identifier id (type key-half, encrypted, level exchange), with the metadata hash as
// AAD. counter is the sender's exchange-phase counter.
func (o *Opened) SealKeyHalf(id canid.ID, counter uint64) ([]byte, error) {
	if id.Type != canid.TypeKeyHalf || !id.Encrypted || id.Level != canid.LevelExchange {
		return nil, fmt.Errorf("%w: key half must travel as key-half at level exchange, not %s", ErrInvalid, id)
	}
	m := KeyHalf{V: Version1, PairingID: o.Metadata.PairingID, Index: o.Section.Index,
		Context: o.Metadata.Context, Half: o.Section.KeyHalf}
	pt, err := m.Encode()
	if err != nil {
		return nil, err
	}
	return exchangeChannel(o.Section.ExchangeKey, o.Metadata.PairingID).Seal(id.Encode(), counter, pt, o.MetadataHash), nil
}

// OpenKeyHalf opens the peer's key-half message and returns the peer's half. Checks: exchange
// KID (ErrWrongKey), authentication (ErrDecrypt), decoding, pairing ID (ErrPairingID), context
// (ErrContext), sender index is the peer's (ErrIndex).
func (o *Opened) OpenKeyHalf(id canid.ID, env []byte) ([]byte, error) {
	m, err := OpenKeyHalfWith(o.Section.ExchangeKey, o.Metadata.PairingID, o.MetadataHash, id, env)
	if err != nil {
		return nil, err
	}
	switch {
	case !equalBytes(m.PairingID, o.Metadata.PairingID):
		return nil, fmt.Errorf("%w: key half for %x", ErrPairingID, m.PairingID)
	case m.Context != o.Metadata.Context:
		return nil, fmt.Errorf("%w: key half for %s, pairing is %s", ErrContext, m.Context, o.Metadata.Context)
	case m.Index != 1-o.Section.Index:
		return nil, fmt.Errorf("%w: key half from index %d, peer is %d", ErrIndex, m.Index, 1-o.Section.Index)
	}
	return m.Half, nil
}

// OpenKeyHalfWith opens a key-half envelope with an exchange key (which the authority also
// holds: the halves are no secret from it, the binding secret is).
func OpenKeyHalfWith(exchangeKey, pairingID, mdHash []byte, id canid.ID, env []byte) (*KeyHalf, error) {
	if len(env) > MaxMessageSize {
		return nil, fmt.Errorf("%w: envelope of %d bytes", ErrSize, len(env))
	}
	_, pt, err := exchangeChannel(exchangeKey, pairingID).Open(id.Encode(), env, mdHash)
	if err != nil {
		return nil, suiteErr("key half", err)
	}
	return DecodeKeyHalf(pt)
}

// Proof is one entity's proof over a completion: an ES256 signature (64 bytes r||s, the
// signature of a COSE_Sign1 over the completion's to-be-signed bytes) or, for a module, an
// HMAC-SHA256 under the pairing's completion MAC key.
type Proof struct {
	Index uint8  `cbor:"1,keyasint"`
	Alg   int    `cbor:"2,keyasint"` // AlgES256 or AlgHMAC256
	KID   uint16 `cbor:"3,keyasint"` // binding key KID (ES256) or pairing KID (HMAC)
	Tag   []byte `cbor:"4,keyasint"`
}

// Completion is the handshake completion (L6) both entities send to the authority.
type Completion struct {
	V               uint8   `cbor:"0,keyasint"`
	PairingID       []byte  `cbor:"1,keyasint"`
	ValidationNonce []byte  `cbor:"2,keyasint"`
	MetadataHash    []byte  `cbor:"3,keyasint"`
	CompletedAt     int64   `cbor:"4,keyasint"`
	Proofs          []Proof `cbor:"5,keyasint"` // one per entity, ordered by index
}

// Validate checks sizes, algorithms and that proofs are one per index in order.
func (m *Completion) Validate() error {
	c := checker{name: "Completion"}
	c.version(m.V)
	c.size("PairingID", 1, m.PairingID, IDSize)
	c.size("ValidationNonce", 2, m.ValidationNonce, NonceSize)
	c.size("MetadataHash", 3, m.MetadataHash, HashSize)
	c.time("CompletedAt", 4, m.CompletedAt)
	c.check(len(m.Proofs) >= 1 && len(m.Proofs) <= 2, "Proofs", 5, "%d proofs", len(m.Proofs))
	for i, p := range m.Proofs {
		c.check(p.Index <= 1 && (i == 0 || p.Index > m.Proofs[i-1].Index), "Proofs", 5, "proof %d index %d", i, p.Index)
		switch p.Alg {
		case AlgES256:
			c.size("Proofs.Tag", 5, p.Tag, SigSize)
		case AlgHMAC256:
			c.size("Proofs.Tag", 5, p.Tag, MACSize)
		default:
			c.fail("Proofs.Alg", 5, ErrAlgorithm, "alg %d", p.Alg)
		}
	}
	return c.err
}

// Encode returns the deterministic CBOR form.
func (m *Completion) Encode() ([]byte, error) { return encode(m) }

// DecodeCompletion parses a completion strictly.
func DecodeCompletion(b []byte) (*Completion, error) {
	m := new(Completion)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// completionTBS is what every proof covers: the completion without its proofs.
type completionTBS struct {
	V               uint8  `cbor:"0,keyasint"`
	PairingID       []byte `cbor:"1,keyasint"`
	ValidationNonce []byte `cbor:"2,keyasint"`
	MetadataHash    []byte `cbor:"3,keyasint"`
	CompletedAt     int64  `cbor:"4,keyasint"`
}

// ToBeSigned returns the bytes every proof covers.
func (m *Completion) ToBeSigned() ([]byte, error) {
	return marshal(completionTBS{m.V, m.PairingID, m.ValidationNonce, m.MetadataHash, m.CompletedAt})
}

const domainCompletion = "web4/v1/completion"

// LabelCompletionMAC labels the HKDF derivation of a module's completion MAC key from the
// pairing key (suite.HKDF(pairingKey, nil, LabelCompletionMAC, pairingID, 32)).
const LabelCompletionMAC = "completion mac"

// CompletionMACKey derives the MAC key a module proves completion with.
func CompletionMACKey(k *suite.PairingKeys, pairingID []byte) []byte {
	return suite.HKDF(k.Key[:], nil, LabelCompletionMAC, pairingID, MACSize)
}

// NewCompletion starts a completion for an opened pairing.
func (o *Opened) NewCompletion(nonce []byte, at time.Time) *Completion {
	return &Completion{V: Version1, PairingID: o.Metadata.PairingID, ValidationNonce: nonce,
		MetadataHash: o.MetadataHash, CompletedAt: at.Unix()}
}

// SignProof adds an ES256 proof by the entity at index. The signature is deterministic when r
// is nil.
func (m *Completion) SignProof(index uint8, k *suite.PrivateKey, r io.Reader) error {
	tbs, err := m.ToBeSigned()
	if err != nil {
		return err
	}
	msg, err := signDomain(k, domainCompletion, tbs, r)
	if err != nil {
		return err
	}
	sig, err := sign1Signature(msg)
	if err != nil {
		return err
	}
	m.addProof(Proof{Index: index, Alg: AlgES256, KID: k.Public().KID(), Tag: sig})
	return nil
}

// MACProof adds an HMAC-SHA256 proof by the entity at index under the completion MAC key.
func (m *Completion) MACProof(index uint8, macKey []byte, pairingKID uint16) error {
	tbs, err := m.ToBeSigned()
	if err != nil {
		return err
	}
	h := hmac.New(sha256.New, macKey)
	h.Write(tbs)
	m.addProof(Proof{Index: index, Alg: AlgHMAC256, KID: pairingKID, Tag: h.Sum(nil)})
	return nil
}

func (m *Completion) addProof(p Proof) {
	out := m.Proofs[:0:0]
	for _, q := range m.Proofs {
		if q.Index != p.Index {
			out = append(out, q)
		}
	}
	out = append(out, p)
	if len(out) == 2 && out[0].Index > out[1].Index {
		out[0], out[1] = out[1], out[0]
	}
	m.Proofs = out
}

// CompletionExpect is what the verifier of a completion knows.
type CompletionExpect struct {
	PairingID       []byte
	ValidationNonce []byte
	MetadataHash    []byte
	Keys            [2]*suite.PublicKey // binding keys of A and B; nil where that entity MACs
	MACKey          []byte              // completion MAC key, for the peer of a module; nil otherwise
	Required        [2]bool             // which indices must carry a proof this verifier can check
}

// VerifyCompletion checks, in order: pairing ID (ErrPairingID), metadata hash
// (ErrMetadataHash), validation nonce (ErrNonce), completion time within ±5 min (ErrClockSkew),
// then each proof: KID (ErrWrongKey), signature (ErrSignature) or MAC (ErrMAC); a required
// proof that is absent is ErrProofMissing.
func VerifyCompletion(m *Completion, want CompletionExpect, now time.Time) error {
	if err := m.Validate(); err != nil {
		return err
	}
	switch {
	case !equalBytes(m.PairingID, want.PairingID):
		return fmt.Errorf("%w: completion for %x", ErrPairingID, m.PairingID)
	case !equalBytes(m.MetadataHash, want.MetadataHash):
		return fmt.Errorf("%w: completion", ErrMetadataHash)
	case !equalBytes(m.ValidationNonce, want.ValidationNonce):
		return fmt.Errorf("%w: validation nonce", ErrNonce)
	}
	if err := CheckFreshness(now, m.CompletedAt); err != nil {
		return err
	}
	tbs, err := m.ToBeSigned()
	if err != nil {
		return err
	}
	var seen [2]bool
	for _, p := range m.Proofs {
		switch p.Alg {
		case AlgES256:
			pub := want.Keys[p.Index]
			if pub == nil {
				continue
			}
			if p.KID != pub.KID() {
				return fmt.Errorf("%w: proof %d by kid %04x, want %04x", ErrWrongKey, p.Index, p.KID, pub.KID())
			}
			if _, err := verifyDomain(pub, domainCompletion, attachSignature(p.KID, tbs, p.Tag)); err != nil {
				return fmt.Errorf("proof %d: %w", p.Index, err)
			}
		case AlgHMAC256:
			if want.MACKey == nil {
				continue
			}
			h := hmac.New(sha256.New, want.MACKey)
			h.Write(tbs)
			if !hmac.Equal(h.Sum(nil), p.Tag) {
				return fmt.Errorf("%w: proof %d", ErrMAC, p.Index)
			}
		}
		seen[p.Index] = true
	}
	for i := range 2 {
		if want.Required[i] && !seen[i] {
			return fmt.Errorf("%w: entity %d", ErrProofMissing, i)
		}
	}
	return nil
}

// sign1Signature returns the 64-byte signature of a COSE_Sign1 made by suite.Sign1.
func sign1Signature(msg []byte) ([]byte, error) {
	var tag cbor.RawTag
	if err := tagDecMode.Unmarshal(msg, &tag); err != nil {
		return nil, fmt.Errorf("%w: COSE_Sign1: %v", ErrMalformed, err)
	}
	var parts []cbor.RawMessage
	if err := tagDecMode.Unmarshal(tag.Content, &parts); err != nil || len(parts) != 4 {
		return nil, fmt.Errorf("%w: COSE_Sign1 array", ErrMalformed)
	}
	var sig []byte
	if err := tagDecMode.Unmarshal(parts[3], &sig); err != nil {
		return nil, fmt.Errorf("%w: COSE_Sign1 signature: %v", ErrMalformed, err)
	}
	return sig, nil
}

// attachSignature rebuilds the COSE_Sign1 whose signature a proof carries: protected header
// {1: -7, 4: kid}, empty unprotected header, the to-be-signed bytes as payload.
func attachSignature(kid uint16, payload, sig []byte) []byte {
	prot, _ := marshal(map[int64]any{1: AlgES256, 4: kidBytes(kid)})
	b, _ := marshal(cbor.Tag{Number: 18, Content: []any{prot, map[int64]any{}, payload, sig}})
	return b
}
