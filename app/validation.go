package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// ErrNotValid is wrapped by a VerdictError: the authority's signed verdict on a pairing or
// binding is not "valid".
var ErrNotValid = errors.New("app: not valid")

// VerdictError is a verified verdict other than valid (invalid, revoked, expired, unknown):
// the app refuses the pairing or binding it names.
type VerdictError struct {
	Level   message.Level
	Subject string
	Verdict message.Verdict
}

func (e *VerdictError) Error() string {
	return fmt.Sprintf("app: L%d verdict on %s: %s", e.Level, e.Subject, VerdictName(e.Verdict))
}

func (e *VerdictError) Unwrap() error { return ErrNotValid }

// VerdictName names a verdict as the authority's API does.
func VerdictName(v message.Verdict) string {
	switch v {
	case message.VerdictValid:
		return "valid"
	case message.VerdictInvalid:
		return "invalid"
	case message.VerdictRevoked:
		return "revoked"
	case message.VerdictExpired:
		return "expired"
	case message.VerdictUnknown:
		return "unknown"
	}
	return fmt.Sprintf("verdict %d", uint8(v))
}

// ValidatePairing asks the authority for its signed verdict on a pairing (L6) and returns it
// once verified; a verdict other than valid is a *VerdictError (recovery R9: nothing is taken
// as validated without the authority's signed result).
func (a *App) ValidatePairing(ctx context.Context, pairingID string) (*message.ValidationResult, error) {
	return a.validate(ctx, message.L6PairingValidation, pairingID)
}

// ValidateBinding asks the authority for its signed verdict on a binding (L7), as
// ValidatePairing does for a pairing.
func (a *App) ValidateBinding(ctx context.Context, bindingID string) (*message.ValidationResult, error) {
	return a.validate(ctx, message.L7BindingValidation, bindingID)
}

func (a *App) validate(ctx context.Context, level message.Level, subject string) (*message.ValidationResult, error) {
	id, err := message.ParseUUID(subject)
	if err != nil {
		return nil, fmt.Errorf("app: L%d subject: %w", level, err)
	}
	// A fresh request, so that the verdict's ref ties this answer to this question and an
	// old verdict replayed by anyone between the app and the authority is refused.
	req := make([]byte, 1+message.NonceSize, 1+message.NonceSize+len(id))
	req[0] = uint8(level)
	if _, err := io.ReadFull(a.cfg.Rand, req[1:]); err != nil {
		return nil, fmt.Errorf("app: L%d request: %w", level, err)
	}
	req = append(req, id...)
	resp, err := a.cfg.Authority.Validate(ctx, int(level), subject, req)
	if err != nil {
		return nil, fmt.Errorf("app: L%d validation of %s: %w", level, subject, err)
	}
	signed, err := base64.StdEncoding.DecodeString(resp.ValidationResult)
	if err != nil {
		return nil, fmt.Errorf("app: L%d result: %w", level, err)
	}
	return checkResult(a.auth, signed, level, id, req, a.cfg.Clock.Now())
}

// checkResult verifies a signed validation result: the authority's key and signature, the
// subject, the time (message.VerifyValidationResult), then the level, that it answers req, and
// the verdict.
func checkResult(auth *suite.PublicKey, signed []byte, level message.Level, subject, req []byte, now time.Time) (*message.ValidationResult, error) {
	r, err := message.VerifyValidationResult(auth, signed, subject, now)
	if err != nil {
		return nil, fmt.Errorf("app: L%d result: %w", level, err)
	}
	ref := sha256.Sum256(req)
	switch {
	case r.Level != level:
		return nil, fmt.Errorf("app: L%d result: %w: answers level %d", level, message.ErrInvalid, r.Level)
	case !bytes.Equal(r.Ref, ref[:]):
		return nil, fmt.Errorf("app: L%d result: %w: answers another request", level, message.ErrInvalid)
	case r.Verdict != message.VerdictValid:
		return r, &VerdictError{Level: level, Subject: message.FormatUUID(subject), Verdict: r.Verdict}
	}
	return r, nil
}

// checkCompletionConfirmed verifies the authority's L6 answer to a completion: signed by the
// authority, for this pairing, of kind "completion confirmed", over exactly this completion.
func checkCompletionConfirmed(auth *suite.PublicKey, signed, pairingID, completion []byte, now time.Time) error {
	pv, err := message.VerifyPairingValidation(auth, signed, pairingID, now)
	if err != nil {
		return err
	}
	h := sha256.Sum256(completion)
	switch {
	case pv.Kind != message.PairingCompleted:
		return fmt.Errorf("%w: L6 of kind %d, want completion confirmed", message.ErrInvalid, pv.Kind)
	case !bytes.Equal(pv.CompletionHash, h[:]):
		return fmt.Errorf("%w: L6 confirms another completion", message.ErrInvalid)
	}
	return nil
}
