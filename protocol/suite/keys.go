package suite

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
)

// PrivateKey is a P-256 private key used for both ECDSA and ECDH.
type PrivateKey struct {
	sig *ecdsa.PrivateKey
	dh  *ecdh.PrivateKey
	pub *PublicKey
}

// PublicKey is a P-256 public key ("semi-public" in Web4: handed only to bound partners).
type PublicKey struct {
	sig  *ecdsa.PublicKey
	dh   *ecdh.PublicKey
	sec1 [PublicKeySize]byte
	kid  uint16
}

// maxKeyGenTries bounds rejection sampling; a uniformly random 32-byte string is out of range
// with probability below 2^-32, so reaching the bound means the reader is broken.
const maxKeyGenTries = 8

// GenerateKey makes a key pair from 32-byte candidates read from r, rejecting candidates that are
// zero or not below the group order. The key is a deterministic function of the bytes r yields,
// so a seeded reader reproduces a run.
func GenerateKey(r io.Reader) (*PrivateKey, error) {
	var buf [ScalarSize]byte
	defer Erase(buf[:])
	for range maxKeyGenTries {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return nil, fmt.Errorf("suite: generate key: read random: %w", err)
		}
		k, err := NewPrivateKey(buf[:])
		if err == nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("suite: generate key: %d candidates out of range: %w", maxKeyGenTries, ErrBadScalar)
}

// NewPrivateKey makes a key from a 32-byte big-endian scalar in [1, n-1]: fixed keys for test
// vectors, and a device's key loaded from its own NVM.
func NewPrivateKey(scalar []byte) (*PrivateKey, error) {
	if len(scalar) != ScalarSize {
		return nil, fmt.Errorf("%w: scalar is %d bytes, want %d", ErrBadScalar, len(scalar), ScalarSize)
	}
	sk, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadScalar, err)
	}
	dh, err := sk.ECDH()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadScalar, err)
	}
	pub, err := publicFrom(&sk.PublicKey)
	if err != nil {
		return nil, err
	}
	return &PrivateKey{sig: sk, dh: dh, pub: pub}, nil
}

// Public returns the public half.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// Bytes returns the 32-byte scalar, for the device's own NVM only. The caller erases it after use.
func (k *PrivateKey) Bytes() []byte {
	b, err := k.sig.Bytes()
	if err != nil {
		// A key built by this package always has a P-256 scalar.
		return nil
	}
	return b
}

func publicFrom(pk *ecdsa.PublicKey) (*PublicKey, error) {
	b, err := pk.Bytes()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPoint, err)
	}
	return ParsePublicKey(b)
}

// ParsePublicKey parses a 65-byte uncompressed SEC1 point (0x04 || X || Y). It rejects other
// lengths and prefixes as malformed, and a point not on the curve (or the identity) as ErrBadPoint.
func ParsePublicKey(sec1 []byte) (*PublicKey, error) {
	if len(sec1) != PublicKeySize {
		return nil, malformed("public key", fmt.Sprintf("%d bytes, want %d", len(sec1), PublicKeySize), nil)
	}
	if sec1[0] != 0x04 {
		return nil, malformed("public key", fmt.Sprintf("prefix 0x%02x, want 0x04 (uncompressed)", sec1[0]), nil)
	}
	sig, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), sec1)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPoint, err)
	}
	dh, err := ecdh.P256().NewPublicKey(sec1)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPoint, err)
	}
	p := &PublicKey{sig: sig, dh: dh}
	copy(p.sec1[:], sec1)
	p.kid = KeyID(sec1)
	return p, nil
}

// KeyID is the 16-bit key ID of a public key: the first two bytes, big-endian, of SHA-256 over
// its 65-byte uncompressed SEC1 encoding.
func KeyID(sec1 []byte) uint16 {
	h := sha256.Sum256(sec1)
	return binary.BigEndian.Uint16(h[:2])
}

// Bytes returns the 65-byte uncompressed SEC1 encoding.
func (p *PublicKey) Bytes() []byte {
	b := p.sec1
	return b[:]
}

// KID returns the key's 16-bit key ID (see KeyID).
func (p *PublicKey) KID() uint16 { return p.kid }

// Equal reports whether p and q are the same point.
func (p *PublicKey) Equal(q *PublicKey) bool {
	if p == nil || q == nil {
		return p == q
	}
	return subtle.ConstantTimeCompare(p.sec1[:], q.sec1[:]) == 1
}

// ECDH returns the 32-byte x-coordinate of the shared point (SEC 1 section 3.3.1).
func ECDH(k *PrivateKey, peer *PublicKey) ([]byte, error) {
	if k == nil || peer == nil {
		return nil, fmt.Errorf("suite: ecdh: nil key: %w", ErrBadPoint)
	}
	s, err := k.dh.ECDH(peer.dh)
	if err != nil {
		return nil, fmt.Errorf("%w: ecdh: %v", ErrBadPoint, err)
	}
	return s, nil
}

// Erase overwrites key material with zeros. It is best effort: Go may have copied the bytes
// elsewhere, but the buffer the caller holds does not keep the secret.
func Erase(b []byte) {
	clear(b)
}
