// Package suite is the Web4 profile v1 crypto suite: P-256 keys, COSE_Sign1 signatures,
// COSE_Encrypt sections sealed to one entity's semi-public key, the HKDF key schedule of
// bindings and pairings, and the compact AEAD envelope of encrypted CAN messages.
//
// The package is pure: it does no I/O and reads no clock, and randomness enters only through an
// io.Reader parameter. Every decoder rejects bad input with a distinct sentinel error (wrapped,
// for malformed input, in a *DecodeError that says why) and never panics. The byte formats are
// specified in docs/protocol.md section 2.
package suite

import (
	"errors"
	"fmt"
)

// Version is the profile version carried by every structure of profile v1.
const Version = 1

// COSE algorithm identifiers (RFC 9053) used by profile v1.
const (
	AlgES256         = -7  // ECDSA P-256 with SHA-256
	AlgECDHESHKDF256 = -25 // ECDH-ES with HKDF-SHA256, direct key agreement
	AlgA256GCM       = 3   // AES-256-GCM, 128-bit tag
)

// Sizes of keys and fields, in bytes.
const (
	ScalarSize     = 32 // P-256 private scalar
	PublicKeySize  = 65 // uncompressed SEC1 point 0x04 || X || Y
	SignatureSize  = 64 // r || s
	SecretSize     = 32 // ECDH shared secret, binding secret, AES-256 key, key half
	HalfSize       = 32 // one pairing key half
	PairingKeySize = 64
	NonceSize      = 12 // AES-GCM nonce
	TagSize        = 16 // AES-GCM tag, never truncated
)

// Sentinel errors. Each failure of a check has its own, so a caller can react to the kind of
// failure and a tamper test can tell them apart.
var (
	ErrMalformed      = errors.New("suite: malformed input")
	ErrBadSignature   = errors.New("suite: signature does not verify")
	ErrWrongKey       = errors.New("suite: key ID does not match the key")
	ErrAuth           = errors.New("suite: authentication tag does not verify")
	ErrUnsupportedAlg = errors.New("suite: unsupported algorithm")
	ErrBadPoint       = errors.New("suite: not a valid P-256 point")
	ErrBadScalar      = errors.New("suite: not a valid P-256 private scalar")
	ErrVersion        = errors.New("suite: unsupported version")
)

// DecodeError says why input was rejected as malformed. It matches ErrMalformed with errors.Is.
type DecodeError struct {
	What   string // the structure being decoded, e.g. "COSE_Sign1"
	Reason string
	Err    error // underlying error, if any
}

func (e *DecodeError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("suite: malformed %s: %s: %v", e.What, e.Reason, e.Err)
	}
	return fmt.Sprintf("suite: malformed %s: %s", e.What, e.Reason)
}

// Is makes errors.Is(err, ErrMalformed) true for every *DecodeError.
func (e *DecodeError) Is(target error) bool { return target == ErrMalformed }

func (e *DecodeError) Unwrap() error { return e.Err }

func malformed(what, reason string, err error) error {
	return &DecodeError{What: what, Reason: reason, Err: err}
}
