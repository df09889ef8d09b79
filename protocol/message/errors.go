package message

import (
	"errors"
	"fmt"
	"time"
)

// Decoding errors: the bytes are not a well-formed structure of the expected kind.
var (
	ErrMalformed    = errors.New("message: malformed CBOR")
	ErrNonCanonical = errors.New("message: not the deterministic encoding")
	ErrUnknownField = errors.New("message: unknown field")
	ErrMissingField = errors.New("message: required field missing")
	ErrWrongType    = errors.New("message: field has the wrong type")
	ErrSize         = errors.New("message: value has the wrong size")
	ErrVersion      = errors.New("message: unsupported version")
	ErrAlgorithm    = errors.New("message: unsupported algorithm")
)

// Semantic errors: the structure decodes but a field is out of range or inconsistent.
var (
	ErrInvalid      = errors.New("message: invalid field value")
	ErrPolicyDigest = errors.New("message: policy digest does not match the policy")
	ErrEntity       = errors.New("message: entity is not part of this structure")
)

// Cryptographic and binding errors: the structure is well formed but does not belong here.
var (
	ErrSignature     = errors.New("message: signature does not verify")
	ErrWrongKey      = errors.New("message: wrong key or key ID")
	ErrDecrypt       = errors.New("message: sealed section does not open")
	ErrMAC           = errors.New("message: MAC does not verify")
	ErrMetadataHash  = errors.New("message: metadata hash mismatch")
	ErrPairingID     = errors.New("message: pairing ID mismatch")
	ErrBindingID     = errors.New("message: binding ID mismatch")
	ErrContext       = errors.New("message: pairing context mismatch")
	ErrIndex         = errors.New("message: entity index mismatch")
	ErrNonce         = errors.New("message: nonce mismatch")
	ErrSubject       = errors.New("message: subject mismatch")
	ErrIssuer        = errors.New("message: issuer mismatch")
	ErrKeyMismatch   = errors.New("message: confirmation key does not match its key ID")
	ErrCommandHash   = errors.New("message: command hash mismatch")
	ErrCommandSeq    = errors.New("message: command sequence mismatch")
	ErrProofMissing  = errors.New("message: entity proof missing")
	ErrRepairNeeded  = errors.New("message: re-pairing required")
	ErrExpired       = fmt.Errorf("message: expired: %w", ErrRepairNeeded)
	ErrNotYetValid   = fmt.Errorf("message: not yet valid: %w", ErrRepairNeeded)
	ErrClockSkew     = fmt.Errorf("message: clock skew beyond ±5 min: %w", ErrRepairNeeded)
	ErrUnexpectedKey = errors.New("message: key material must not be present")
)

// FieldError says which field of which structure failed. It matches its Err with errors.Is.
type FieldError struct {
	Struct string // e.g. "PairingMetadata"
	Key    int64  // CBOR map key, -1 when not tied to one key
	Field  string // Go field name, when known
	Err    error
	Detail string
}

func (e *FieldError) Error() string {
	s := fmt.Sprintf("%v: %s", e.Err, e.Struct)
	if e.Field != "" {
		s += "." + e.Field
	}
	if e.Key >= 0 || e.Field != "" {
		s += fmt.Sprintf(" (key %d)", e.Key)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(strct, field string, key int64, err error, format string, args ...any) error {
	return &FieldError{Struct: strct, Key: key, Field: field, Err: err, Detail: fmt.Sprintf(format, args...)}
}

// TimeError reports a validity or freshness failure with the distance from the accepted window.
// It matches its Kind (ErrExpired, ErrNotYetValid or ErrClockSkew) and ErrRepairNeeded.
type TimeError struct {
	Kind error
	By   time.Duration // how far outside the accepted window, skew tolerance included
}

func (e *TimeError) Error() string { return fmt.Sprintf("%v (by %s)", e.Kind, e.By) }

func (e *TimeError) Unwrap() error { return e.Kind }

// kindOrder lists the sentinels from most to least specific for Kind.
var kindOrder = []struct {
	err  error
	name string
}{
	{ErrExpired, "expired"}, {ErrNotYetValid, "not-yet-valid"}, {ErrClockSkew, "clock-skew"},
	{ErrSignature, "signature"}, {ErrWrongKey, "wrong-key"}, {ErrDecrypt, "decrypt"}, {ErrMAC, "mac"},
	{ErrMetadataHash, "metadata-hash"}, {ErrPairingID, "pairing-id"}, {ErrBindingID, "binding-id"},
	{ErrContext, "context"}, {ErrIndex, "index"}, {ErrNonce, "nonce"}, {ErrSubject, "subject"},
	{ErrIssuer, "issuer"}, {ErrKeyMismatch, "key-mismatch"}, {ErrCommandHash, "command-hash"},
	{ErrCommandSeq, "command-seq"}, {ErrProofMissing, "proof-missing"}, {ErrPolicyDigest, "policy-digest"},
	{ErrEntity, "entity"}, {ErrVersion, "version"}, {ErrAlgorithm, "algorithm"}, {ErrSize, "size"},
	{ErrUnknownField, "unknown-field"}, {ErrMissingField, "missing-field"}, {ErrWrongType, "wrong-type"},
	{ErrNonCanonical, "non-canonical"}, {ErrInvalid, "invalid"}, {ErrMalformed, "malformed"},
}

// Kind names the package sentinel an error matches ("signature", "expired", …), or "" for nil
// and "other" for an error of no known kind. Test vectors and reports use these names.
func Kind(err error) string {
	if err == nil {
		return ""
	}
	for _, k := range kindOrder {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "other"
}
