package authority

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is the machine-readable error code of the HTTP API ({"error": {"code": ...}}).
type Code string

// Error codes. Each maps to one HTTP status (Status).
const (
	CodeBadRequest        Code = "bad_request"         // malformed JSON, missing or invalid field
	CodeUnsupportedMedia  Code = "unsupported_media"   // Content-Type is not application/json
	CodeTooLarge          Code = "body_too_large"      // body beyond the limit
	CodeNotFound          Code = "not_found"           // no such endpoint
	CodeMethod            Code = "method_not_allowed"  // wrong HTTP method
	CodeUnknownRole       Code = "unknown_role"        // role is not app, pack or module
	CodeNoKeyGenerator    Code = "no_key_generator"    // no KeyGenerator for the role
	CodeDeviceFailed      Code = "device_failed"       // the device's key generation failed
	CodeUnknownBinding    Code = "unknown_binding"     // no binding with this ID
	CodeUnknownEntity     Code = "unknown_entity"      // no active binding for this entity or pair
	CodeNotAParty         Code = "not_a_party"         // the entity is not a party of the binding
	CodeBindingExists     Code = "binding_exists"      // an active binding joins these entities
	CodeBindingMismatch   Code = "binding_mismatch"    // second generate-keys call does not match the first
	CodeBindingIncomplete Code = "binding_incomplete"  // only one side has generated its key
	CodeBindingRevoked    Code = "binding_revoked"     // the binding was revoked
	CodeUnknownPairing    Code = "unknown_pairing"     // no pairing with this ID
	CodePairingMismatch   Code = "pairing_id_mismatch" // body names another pairing than the path
	CodeReplayed          Code = "completion_replayed" // the pairing is already completed
	CodePairingRevoked    Code = "pairing_revoked"     // revoked or invalidated by a binding revocation
	CodePairingTimedOut   Code = "pairing_timed_out"   // not completed within the partial-pairing timeout
	CodePairingExpired    Code = "pairing_expired"     // past expires_at
	CodeBadNonce          Code = "bad_nonce"           // validation nonce does not match
	CodeBadProof          Code = "bad_proof"           // an entity proof does not verify
	CodeProofMissing      Code = "proof_missing"       // an entity did not prove
	CodeMetadataHash      Code = "metadata_hash"       // completion names other metadata
	CodeClockSkew         Code = "clock_skew"          // a timestamp beyond ±5 min
	CodeConflict          Code = "conflict"            // the operation does not apply in this state
	CodeInternal          Code = "internal"            // storage or signing failure
)

var codeStatus = map[Code]int{
	CodeBadRequest:        http.StatusBadRequest,
	CodeUnsupportedMedia:  http.StatusUnsupportedMediaType,
	CodeTooLarge:          http.StatusRequestEntityTooLarge,
	CodeNotFound:          http.StatusNotFound,
	CodeMethod:            http.StatusMethodNotAllowed,
	CodeUnknownRole:       http.StatusBadRequest,
	CodeNoKeyGenerator:    http.StatusNotImplemented,
	CodeDeviceFailed:      http.StatusBadGateway,
	CodeUnknownBinding:    http.StatusNotFound,
	CodeUnknownEntity:     http.StatusNotFound,
	CodeNotAParty:         http.StatusForbidden,
	CodeBindingExists:     http.StatusConflict,
	CodeBindingMismatch:   http.StatusConflict,
	CodeBindingIncomplete: http.StatusConflict,
	CodeBindingRevoked:    http.StatusGone,
	CodeUnknownPairing:    http.StatusNotFound,
	CodePairingMismatch:   http.StatusBadRequest,
	CodeReplayed:          http.StatusConflict,
	CodePairingRevoked:    http.StatusGone,
	CodePairingTimedOut:   http.StatusGone,
	CodePairingExpired:    http.StatusGone,
	CodeBadNonce:          http.StatusForbidden,
	CodeBadProof:          http.StatusForbidden,
	CodeProofMissing:      http.StatusForbidden,
	CodeMetadataHash:      http.StatusBadRequest,
	CodeClockSkew:         http.StatusBadRequest,
	CodeConflict:          http.StatusConflict,
	CodeInternal:          http.StatusInternalServerError,
}

// Status is the HTTP status of a code; unknown codes are 500.
func (c Code) Status() int {
	if s, ok := codeStatus[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error is an authority failure: the same type on the server (it becomes the JSON error body)
// and in the Client (rebuilt from that body). errors.Is matches two Errors with the same Code,
// so callers test errors.Is(err, authority.ErrNotAParty).
type Error struct {
	Code    Code
	Message string
	Status  int   // HTTP status; set by the client from the response
	Err     error // underlying cause, server side only
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("authority: %s", e.Code)
	}
	return fmt.Sprintf("authority: %s: %s", e.Code, e.Message)
}

// Is matches any *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func (e *Error) Unwrap() error { return e.Err }

// Sentinels for errors.Is, one per code callers react to.
var (
	ErrBadRequest        = &Error{Code: CodeBadRequest}
	ErrUnknownRole       = &Error{Code: CodeUnknownRole}
	ErrNoKeyGenerator    = &Error{Code: CodeNoKeyGenerator}
	ErrDeviceFailed      = &Error{Code: CodeDeviceFailed}
	ErrUnknownBinding    = &Error{Code: CodeUnknownBinding}
	ErrUnknownEntity     = &Error{Code: CodeUnknownEntity}
	ErrNotAParty         = &Error{Code: CodeNotAParty}
	ErrBindingExists     = &Error{Code: CodeBindingExists}
	ErrBindingMismatch   = &Error{Code: CodeBindingMismatch}
	ErrBindingIncomplete = &Error{Code: CodeBindingIncomplete}
	ErrBindingRevoked    = &Error{Code: CodeBindingRevoked}
	ErrUnknownPairing    = &Error{Code: CodeUnknownPairing}
	ErrPairingMismatch   = &Error{Code: CodePairingMismatch}
	ErrReplayed          = &Error{Code: CodeReplayed}
	ErrPairingRevoked    = &Error{Code: CodePairingRevoked}
	ErrPairingTimedOut   = &Error{Code: CodePairingTimedOut}
	ErrPairingExpired    = &Error{Code: CodePairingExpired}
	ErrBadNonce          = &Error{Code: CodeBadNonce}
	ErrBadProof          = &Error{Code: CodeBadProof}
	ErrProofMissing      = &Error{Code: CodeProofMissing}
	ErrMetadataHash      = &Error{Code: CodeMetadataHash}
	ErrClockSkew         = &Error{Code: CodeClockSkew}
	ErrConflict          = &Error{Code: CodeConflict}
	ErrInternal          = &Error{Code: CodeInternal}
)

func errf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func internal(what string, err error) *Error {
	return &Error{Code: CodeInternal, Message: what, Err: err}
}

// asError turns any error into an *Error (unknown errors are internal).
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return internal("unexpected failure", err)
}
