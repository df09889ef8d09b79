package message

import (
	"fmt"
	"io"
	"time"

	"github.com/modbatt/hilrun/protocol/suite"
)

// handshakeIV is the handshake section's IV: its key is derived per certificate and used once.
var handshakeIV = make([]byte, 12)

// Issued is the authority's record of a pairing certificate it made. It holds the halves, the
// exchange key and the validation nonce, but no binding secret: it cannot derive the pairing key.
type Issued struct {
	Certificate     []byte
	Metadata        []byte // encoded metadata (the signed payload)
	MetadataHash    []byte
	HalfA, HalfB    []byte
	ExchangeKey     []byte
	ValidationNonce []byte
}

// IssuePairingCertificate makes a pairing certificate. keyA and keyB are the entities'
// semi-public keys in the order of md.Entities; their KIDs must match. Key halves, the exchange
// key and the validation nonce are read from r (in that order), then r feeds the
// ephemeral keys and IVs of the two sealed sections. The metadata signature is deterministic.
func IssuePairingCertificate(authority *suite.PrivateKey, md *PairingMetadata, keyA, keyB *suite.PublicKey, r io.Reader) (*Issued, error) {
	if err := md.Validate(); err != nil {
		return nil, err
	}
	keys := []*suite.PublicKey{keyA, keyB}
	for i, k := range keys {
		if k.KID() != md.Entities[i].KID {
			return nil, fmt.Errorf("%w: entity %d has kid %04x, key has %04x", ErrEntity, i, md.Entities[i].KID, k.KID())
		}
	}
	var rnd [2*HalfSize + KeySize + NonceSize]byte
	if _, err := io.ReadFull(r, rnd[:]); err != nil {
		return nil, fmt.Errorf("message: issue pairing: read random: %w", err)
	}
	is := &Issued{
		HalfA:           rnd[0:32:32],
		HalfB:           rnd[32:64:64],
		ExchangeKey:     rnd[64:96:96],
		ValidationNonce: rnd[96:112:112],
	}
	var err error
	if is.Metadata, err = md.Encode(); err != nil {
		return nil, err
	}
	is.MetadataHash = MetadataHash(is.Metadata)
	cert := PairingCertificate{V: Version1}
	if cert.Metadata, err = signDomain(authority, domainMetadata, is.Metadata, nil); err != nil {
		return nil, err
	}
	for i, half := range [][]byte{is.HalfA, is.HalfB} {
		sec := EntitySection{V: Version1, PairingID: md.PairingID, Index: uint8(i), KeyHalf: half,
			ExchangeKey: is.ExchangeKey, MetadataHash: is.MetadataHash}
		sealed, err := sealSection(keys[i], &sec, r)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			cert.SectionA = sealed
		} else {
			cert.SectionB = sealed
		}
	}
	hs := HandshakeSection{V: Version1, PairingID: md.PairingID, ValidationNonce: is.ValidationNonce, MetadataHash: is.MetadataHash}
	if cert.Handshake, err = sealHandshake(is.HalfA, is.HalfB, ExchangeKID(is.ExchangeKey, md.PairingID), &hs, is.MetadataHash); err != nil {
		return nil, err
	}
	if is.Certificate, err = cert.Encode(); err != nil {
		return nil, err
	}
	return is, nil
}

// sealSection seals an entity section to its entity. The metadata hash inside the section,
// not the external AAD, ties it to the metadata, so a mismatch is reported as such.
func sealSection(to *suite.PublicKey, sec *EntitySection, r io.Reader) ([]byte, error) {
	pt, err := marshal(sec)
	if err != nil {
		return nil, err
	}
	out, err := suite.Seal(to, pt, []byte(domainSection), r)
	if err != nil {
		return nil, fmt.Errorf("message: seal entity section: %w", err)
	}
	return out, nil
}

func sealHandshake(halfA, halfB []byte, kid uint16, hs *HandshakeSection, mdHash []byte) ([]byte, error) {
	pt, err := marshal(hs)
	if err != nil {
		return nil, err
	}
	key := suite.HandshakeKey(halfA, halfB, mdHash)
	defer suite.Erase(key[:])
	return sealEncrypt0(key[:], kid, handshakeIV, pt, []byte(domainHandshake))
}

// PairingExpect is what an entity knows before it opens a certificate.
type PairingExpect struct {
	Authority *suite.PublicKey  // the authority's key
	Self      *suite.PrivateKey // the entity's own binding key
	Context   Context           // required context; 0 accepts any
	PairingID []byte            // required pairing ID; nil accepts any
}

// Opened is an entity's view of a certificate after OpenPairingCertificate.
type Opened struct {
	Metadata     *PairingMetadata
	MetadataHash []byte
	Section      *EntitySection
	Handshake    []byte // still sealed: opens once the peer's half is known
}

// Index is the entity's position (0 = A, 1 = B).
func (o *Opened) Index() int { return int(o.Section.Index) }

// Peer is the other entity.
func (o *Opened) Peer() Entity { return o.Metadata.Entities[1-o.Index()] }

// OpenPairingCertificate verifies and opens the entity's part of a certificate, in this order:
//
//  1. container decoding;
//  2. metadata signature: authority KID (ErrWrongKey), then signature (ErrSignature);
//  3. metadata decoding and checks, policy digest (ErrPolicyDigest);
//  4. context (ErrContext) and pairing ID (ErrPairingID) against what the caller expects;
//  5. validity window with ±5 min skew (ErrNotYetValid, ErrExpired) and created_at not ahead of
//     now by more than the skew (ErrClockSkew);
//  6. the caller's key among the entities (ErrEntity);
//  7. the entity's section: recipient KID (ErrWrongKey), decryption (ErrDecrypt), decoding;
//  8. the section's pairing ID (ErrPairingID), metadata hash (ErrMetadataHash) and index
//     (ErrIndex) against the metadata.
func OpenPairingCertificate(cert []byte, want PairingExpect, now time.Time) (*Opened, error) {
	c, err := DecodePairingCertificate(cert)
	if err != nil {
		return nil, err
	}
	payload, err := verifyDomain(want.Authority, domainMetadata, c.Metadata)
	if err != nil {
		return nil, err
	}
	md, err := DecodePairingMetadata(payload)
	if err != nil {
		return nil, err
	}
	if want.Context != 0 && md.Context != want.Context {
		return nil, fmt.Errorf("%w: %s, want %s", ErrContext, md.Context, want.Context)
	}
	if want.PairingID != nil && !equalBytes(md.PairingID, want.PairingID) {
		return nil, fmt.Errorf("%w: %x, want %x", ErrPairingID, md.PairingID, want.PairingID)
	}
	if err := CheckValidity(now, md.Timing.ValidFrom, md.Timing.ExpiresAt); err != nil {
		return nil, err
	}
	if d := time.Unix(md.Timing.CreatedAt, 0).Sub(now) - MaxSkew; d > 0 {
		return nil, &TimeError{Kind: ErrClockSkew, By: d}
	}
	kid := want.Self.Public().KID()
	idx := -1
	for i, e := range md.Entities {
		if e.KID == kid {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("%w: kid %04x is not an entity of pairing %x", ErrEntity, kid, md.PairingID)
	}
	sealed := c.SectionA
	if idx == 1 {
		sealed = c.SectionB
	}
	mdHash := MetadataHash(payload)
	pt, err := suite.Open(want.Self, sealed, []byte(domainSection))
	if err != nil {
		return nil, suiteErr("entity section", err)
	}
	sec, err := DecodeEntitySection(pt)
	suite.Erase(pt)
	if err != nil {
		return nil, err
	}
	switch {
	case !equalBytes(sec.PairingID, md.PairingID):
		return nil, fmt.Errorf("%w: section has %x, metadata %x", ErrPairingID, sec.PairingID, md.PairingID)
	case !equalBytes(sec.MetadataHash, mdHash):
		return nil, fmt.Errorf("%w: entity section", ErrMetadataHash)
	case int(sec.Index) != idx:
		return nil, fmt.Errorf("%w: section index %d, entity %d", ErrIndex, sec.Index, idx)
	}
	return &Opened{Metadata: md, MetadataHash: mdHash, Section: sec, Handshake: c.Handshake}, nil
}

// halves orders the own and the peer's half as (A, B).
func (o *Opened) halves(peerHalf []byte) (a, b []byte) {
	if o.Index() == 0 {
		return o.Section.KeyHalf, peerHalf
	}
	return peerHalf, o.Section.KeyHalf
}

// OpenHandshake opens the handshake section with both halves and returns the validation nonce.
func (o *Opened) OpenHandshake(peerHalf []byte) ([]byte, error) {
	if len(peerHalf) != HalfSize {
		return nil, fmt.Errorf("%w: peer half of %d bytes", ErrSize, len(peerHalf))
	}
	a, b := o.halves(peerHalf)
	return OpenHandshakeSection(o.Handshake, a, b, ExchangeKID(o.Section.ExchangeKey, o.Metadata.PairingID), o.Metadata.PairingID, o.MetadataHash)
}

// OpenHandshakeSection opens a handshake section given both halves (the authority can too: it
// made them) and checks it against the pairing ID and metadata hash.
func OpenHandshakeSection(sealed, halfA, halfB []byte, kid uint16, pairingID, mdHash []byte) ([]byte, error) {
	key := suite.HandshakeKey(halfA, halfB, mdHash)
	pt, err := openEncrypt0(key[:], kid, sealed, []byte(domainHandshake))
	suite.Erase(key[:])
	if err != nil {
		return nil, err
	}
	hs, err := DecodeHandshakeSection(pt)
	if err != nil {
		return nil, err
	}
	switch {
	case !equalBytes(hs.PairingID, pairingID):
		return nil, fmt.Errorf("%w: handshake section has %x, metadata %x", ErrPairingID, hs.PairingID, pairingID)
	case !equalBytes(hs.MetadataHash, mdHash):
		return nil, fmt.Errorf("%w: handshake section", ErrMetadataHash)
	}
	return hs.ValidationNonce, nil
}

// PairingKeys derives the operational keys from the binding secret the entity shares with its
// peer and the peer's half.
func (o *Opened) PairingKeys(bindingSecret, peerHalf []byte) suite.PairingKeys {
	a, b := o.halves(peerHalf)
	return suite.DerivePairingKeys(bindingSecret, a, b, o.MetadataHash, o.Metadata.PairingID, o.Metadata.Context.String())
}

// EraseExchange drops the exchange key once the handshake is complete.
func (o *Opened) EraseExchange() { suite.Erase(o.Section.ExchangeKey) }
