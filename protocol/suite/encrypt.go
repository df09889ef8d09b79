package suite

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"io"

	"github.com/fxamacker/cbor/v2"
)

const whatEncrypt = "COSE_Encrypt"

// encryptMsg is COSE_Encrypt without its tag.
type encryptMsg struct {
	_           struct{} `cbor:",toarray"`
	Protected   cbor.RawMessage
	Unprotected map[int64]cbor.RawMessage
	Ciphertext  cbor.RawMessage
	Recipients  []recipientMsg
}

// recipientMsg is one COSE_recipient (RFC 9052 section 5.1), with no nested recipients.
type recipientMsg struct {
	_           struct{} `cbor:",toarray"`
	Protected   cbor.RawMessage
	Unprotected map[int64]cbor.RawMessage
	Ciphertext  cbor.RawMessage
}

// kdfContext builds COSE_KDF_Context (RFC 9053 section 5.2) for direct ECDH-ES + HKDF-256 into
// A256GCM: AlgorithmID 3, PartyU and PartyV identities all nil, SuppPubInfo [256, recipient
// protected header]. Nothing profile-specific goes in here, so a general COSE library opens a
// sealed section with its defaults; the caller binds context through the external AAD.
func kdfContext(alg, keyBits int, recipientProtected []byte) ([]byte, error) {
	party := []any{nil, nil, nil}
	return encMode.Marshal([]any{alg, party, party, []any{keyBits, bstr(recipientProtected)}})
}

// encStructure is the AAD of the content layer (RFC 9052 section 5.3).
func encStructure(protected, external []byte) ([]byte, error) {
	return encMode.Marshal([]any{"Encrypt", bstr(protected), bstr(external)})
}

// cekFromECDH derives the 32-byte content key: HKDF-SHA256 with an empty salt over the ECDH
// x-coordinate, info = COSE_KDF_Context.
func cekFromECDH(shared, recipientProtected []byte) ([]byte, error) {
	info, err := kdfContext(AlgA256GCM, 8*SecretSize, recipientProtected)
	if err != nil {
		return nil, err
	}
	return hkdfRaw(shared, nil, info, SecretSize), nil
}

// Seal encrypts plaintext to one entity's public key as a tagged COSE_Encrypt: content
// protected {1: 3}, unprotected {5: 12-byte IV}; one recipient with protected {1: -25} and
// unprotected {-1: ephemeral COSE_Key, 4: recipient kid}, empty ciphertext. The ephemeral key
// and the IV are read from r.
func Seal(to *PublicKey, plaintext, external []byte, r io.Reader) ([]byte, error) {
	if to == nil {
		return nil, fmt.Errorf("suite: seal: nil key: %w", ErrBadPoint)
	}
	eph, err := GenerateKey(r)
	if err != nil {
		return nil, fmt.Errorf("suite: seal: ephemeral key: %w", err)
	}
	var iv [NonceSize]byte
	if _, err := io.ReadFull(r, iv[:]); err != nil {
		return nil, fmt.Errorf("suite: seal: read IV: %w", err)
	}
	return sealWith(to, eph, iv, plaintext, external)
}

// sealWith is Seal with the ephemeral key and IV given, for test vectors.
func sealWith(to *PublicKey, eph *PrivateKey, iv [NonceSize]byte, plaintext, external []byte) ([]byte, error) {
	shared, err := ECDH(eph, to)
	if err != nil {
		return nil, fmt.Errorf("suite: seal: %w", err)
	}
	defer Erase(shared)
	rprot, err := encMode.Marshal(map[int64]any{hdrAlg: AlgECDHESHKDF256})
	if err != nil {
		return nil, fmt.Errorf("suite: seal: %w", err)
	}
	cek, err := cekFromECDH(shared, rprot)
	if err != nil {
		return nil, fmt.Errorf("suite: seal: %w", err)
	}
	defer Erase(cek)
	prot, err := encMode.Marshal(map[int64]any{hdrAlg: AlgA256GCM})
	if err != nil {
		return nil, fmt.Errorf("suite: seal: %w", err)
	}
	aad, err := encStructure(prot, external)
	if err != nil {
		return nil, fmt.Errorf("suite: seal: %w", err)
	}
	aead, err := newGCM(cek)
	if err != nil {
		return nil, fmt.Errorf("suite: seal: %w", err)
	}
	ct := aead.Seal(nil, iv[:], plaintext, aad)
	ep := eph.pub.sec1
	ekey := map[int64]any{keyKty: ktyEC2, keyCrv: crvP256, keyX: ep[1:33], keyY: ep[33:65]}
	recipient := []any{rprot, map[int64]any{hdrEphemeral: ekey, hdrKID: kidBytes(to.kid)}, []byte{}}
	return encMode.Marshal(cbor.Tag{Number: tagEncrypt, Content: []any{
		prot, map[int64]any{hdrIV: iv[:]}, ct, []any{recipient},
	}})
}

// Open decrypts a COSE_Encrypt made by Seal for k. Errors: ErrMalformed (a *DecodeError),
// ErrUnsupportedAlg, ErrWrongKey (the recipient kid is not k's), ErrBadPoint (the ephemeral key
// is not on the curve), ErrAuth (the tag does not verify: tampering, wrong external AAD).
func Open(k *PrivateKey, msg, external []byte) ([]byte, error) {
	if k == nil {
		return nil, fmt.Errorf("suite: open: nil key: %w", ErrBadScalar)
	}
	m, err := parseEncrypt(msg)
	if err != nil {
		return nil, err
	}
	if m.kid != k.pub.kid {
		return nil, fmt.Errorf("%w: recipient kid %04x, key kid %04x", ErrWrongKey, m.kid, k.pub.kid)
	}
	shared, err := ECDH(k, m.eph)
	if err != nil {
		return nil, err
	}
	defer Erase(shared)
	cek, err := cekFromECDH(shared, m.rprot)
	if err != nil {
		return nil, fmt.Errorf("suite: open: %w", err)
	}
	defer Erase(cek)
	aad, err := encStructure(m.prot, external)
	if err != nil {
		return nil, fmt.Errorf("suite: open: %w", err)
	}
	aead, err := newGCM(cek)
	if err != nil {
		return nil, fmt.Errorf("suite: open: %w", err)
	}
	pt, err := aead.Open(nil, m.iv, m.ct, aad)
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}

// PeekEncrypt returns the recipient key ID of a sealed section without opening it, so a
// receiver can tell which section is its own. Errors as Open's, less ErrWrongKey and ErrAuth.
func PeekEncrypt(msg []byte) (kid uint16, err error) {
	m, err := parseEncrypt(msg)
	if err != nil {
		return 0, err
	}
	return m.kid, nil
}

// parsedEncrypt is a structurally valid COSE_Encrypt of profile v1.
type parsedEncrypt struct {
	prot, rprot, iv, ct []byte
	kid                 uint16
	eph                 *PublicKey
}

func parseEncrypt(msg []byte) (*parsedEncrypt, error) {
	content, err := untag(whatEncrypt, msg, tagEncrypt)
	if err != nil {
		return nil, err
	}
	var m encryptMsg
	if err := decMode.Unmarshal(content, &m); err != nil {
		return nil, malformed(whatEncrypt, "not a 4-element array with one recipient layer", err)
	}
	prot, err := decodeBstr(whatEncrypt, "protected header", m.Protected)
	if err != nil {
		return nil, err
	}
	h, err := decodeHeader(whatEncrypt, prot)
	if err != nil {
		return nil, err
	}
	alg, ok, err := h.int(whatEncrypt, hdrAlg)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, malformed(whatEncrypt, "no content algorithm in the protected header", nil)
	}
	if alg != AlgA256GCM {
		return nil, fmt.Errorf("%w: content algorithm %d, want %d (A256GCM)", ErrUnsupportedAlg, alg, AlgA256GCM)
	}
	if err := h.only(whatEncrypt, hdrAlg); err != nil {
		return nil, err
	}
	uh := header(m.Unprotected)
	if err := uh.only(whatEncrypt, hdrIV); err != nil {
		return nil, err
	}
	iv, ok, err := uh.bytes(whatEncrypt, hdrIV)
	if err != nil {
		return nil, err
	}
	if !ok || len(iv) != NonceSize {
		return nil, malformed(whatEncrypt, fmt.Sprintf("IV missing or not %d bytes", NonceSize), nil)
	}
	ct, err := decodeBstr(whatEncrypt, "ciphertext", m.Ciphertext)
	if err != nil {
		return nil, err
	}
	if len(ct) < TagSize {
		return nil, malformed(whatEncrypt, "ciphertext shorter than the tag", nil)
	}
	if len(m.Recipients) != 1 {
		return nil, malformed(whatEncrypt, fmt.Sprintf("%d recipients, want 1", len(m.Recipients)), nil)
	}
	rc := m.Recipients[0]
	rprot, err := decodeBstr(whatEncrypt, "recipient protected header", rc.Protected)
	if err != nil {
		return nil, err
	}
	rh, err := decodeHeader(whatEncrypt, rprot)
	if err != nil {
		return nil, err
	}
	ralg, ok, err := rh.int(whatEncrypt, hdrAlg)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, malformed(whatEncrypt, "no recipient algorithm in the protected header", nil)
	}
	if ralg != AlgECDHESHKDF256 {
		return nil, fmt.Errorf("%w: key agreement %d, want %d (ECDH-ES + HKDF-256)", ErrUnsupportedAlg, ralg, AlgECDHESHKDF256)
	}
	if err := rh.only(whatEncrypt, hdrAlg); err != nil {
		return nil, err
	}
	ruh := header(rc.Unprotected)
	if err := ruh.only(whatEncrypt, hdrEphemeral, hdrKID); err != nil {
		return nil, err
	}
	kid, ok, err := ruh.kid(whatEncrypt)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, malformed(whatEncrypt, "no recipient kid", nil)
	}
	rct, err := decodeBstr(whatEncrypt, "recipient ciphertext", rc.Ciphertext)
	if err != nil {
		return nil, err
	}
	if len(rct) != 0 {
		return nil, malformed(whatEncrypt, "recipient ciphertext not empty (direct key agreement)", nil)
	}
	eph, err := parseEphemeral(ruh)
	if err != nil {
		return nil, err
	}
	return &parsedEncrypt{prot: prot, rprot: rprot, iv: iv, ct: ct, kid: kid, eph: eph}, nil
}

func parseEphemeral(h header) (*PublicKey, error) {
	raw, ok := h[hdrEphemeral]
	if !ok {
		return nil, malformed(whatEncrypt, "no ephemeral key", nil)
	}
	var params map[int64]cbor.RawMessage
	if err := decMode.Unmarshal(raw, &params); err != nil {
		return nil, malformed(whatEncrypt, "ephemeral key is not a COSE_Key map", err)
	}
	kh := header(params)
	if err := kh.only(whatEncrypt, keyKty, keyCrv, keyX, keyY); err != nil {
		return nil, err
	}
	kty, ok1, err := kh.int(whatEncrypt, keyKty)
	if err != nil {
		return nil, err
	}
	crv, ok2, err := kh.int(whatEncrypt, keyCrv)
	if err != nil {
		return nil, err
	}
	if !ok1 || !ok2 {
		return nil, malformed(whatEncrypt, "ephemeral key without kty or crv", nil)
	}
	if kty != ktyEC2 || crv != crvP256 {
		return nil, fmt.Errorf("%w: ephemeral key kty %d crv %d, want EC2 P-256", ErrUnsupportedAlg, kty, crv)
	}
	x, okx, err := kh.bytes(whatEncrypt, keyX)
	if err != nil {
		return nil, err
	}
	y, oky, err := kh.bytes(whatEncrypt, keyY)
	if err != nil {
		return nil, err
	}
	if !okx || !oky || len(x) != 32 || len(y) != 32 {
		return nil, malformed(whatEncrypt, "ephemeral key x and y must be 32-byte byte strings", nil)
	}
	sec1 := make([]byte, 0, PublicKeySize)
	sec1 = append(append(append(sec1, 0x04), x...), y...)
	return ParsePublicKey(sec1)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
