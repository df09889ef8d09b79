package authority

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/modbatt/hilrun/protocol/message"
	bolt "go.etcd.io/bbolt"
)

// KindVerdict is the ledger kind of a signed verdict.
const KindVerdict = "validation.verdict"

// ValidateRequest is the body of POST /api/validate: a device (through the app) asks whether a
// pairing (level 6) or binding (level 7) is valid. Request is the device's request bytes, base64;
// the verdict's ref is their SHA-256, so the device matches answer to question.
type ValidateRequest struct {
	Level   int    `json:"level"`
	Subject string `json:"subject"`
	Request string `json:"request,omitempty"`
}

// ValidateResponse carries the signed message.ValidationResult.
type ValidateResponse struct {
	ValidationResult string `json:"validation_result"`
	Verdict          string `json:"verdict"` // valid, invalid, revoked, expired, unknown
	BlockchainProof  string `json:"blockchain_proof"`
	LedgerIndex      uint64 `json:"ledger_index"`
}

var verdictNames = map[message.Verdict]string{
	message.VerdictValid: "valid", message.VerdictInvalid: "invalid", message.VerdictRevoked: "revoked",
	message.VerdictExpired: "expired", message.VerdictUnknown: "unknown",
}

// Validate serves POST /api/validate: a signed verdict on a pairing or binding, ledgered. A
// pairing is valid only once completed and while neither revoked nor expired; a binding only
// while active and unexpired. Nothing is "valid" without this signed answer (recovery R9).
func (a *Authority) Validate(req ValidateRequest) (*ValidateResponse, error) {
	if req.Level != 6 && req.Level != 7 {
		return nil, errf(CodeBadRequest, "level %d, want 6 (pairing) or 7 (binding)", req.Level)
	}
	id, err := parseID(req.Subject)
	if err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(req.Request)
	if err != nil {
		return nil, errf(CodeBadRequest, "request: base64: %v", err)
	}
	ref := sha256.Sum256(raw)
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	skew := int64(message.MaxSkew / time.Second)
	var out *ValidateResponse
	err = a.db.Update(func(tx *bolt.Tx) error {
		verdict := message.VerdictValid
		var reason *message.Reason
		if req.Level == 6 {
			p, err := loadPairing(tx, id)
			switch {
			case err != nil && asError(err).Code == CodeUnknownPairing:
				verdict = message.VerdictUnknown
			case err != nil:
				return err
			case p.Status == PairingRevoked:
				verdict = message.VerdictRevoked
				if r, err := ParseReason(p.Reason); err == nil {
					reason = &r
				}
			case now.Unix() > p.ExpiresAt+skew:
				verdict = message.VerdictExpired
			case p.Status != PairingCompleted:
				verdict = message.VerdictInvalid
			}
		} else {
			b, err := loadBinding(tx, id)
			switch {
			case err != nil && asError(err).Code == CodeUnknownBinding:
				verdict = message.VerdictUnknown
			case err != nil:
				return err
			case b.Status == StatusRevoked:
				verdict = message.VerdictRevoked
			case b.Status != StatusActive:
				verdict = message.VerdictInvalid
			case now.Unix() > b.Expires+skew:
				verdict = message.VerdictExpired
			}
		}
		e, err := appendEntry(tx, now.UnixMilli(), KindVerdict, id, map[string]string{
			"level": strconv.Itoa(req.Level), "verdict": verdictNames[verdict], "ref": hex.EncodeToString(ref[:])})
		if err != nil {
			return err
		}
		m := &message.ValidationResult{V: message.Version1, Level: message.Level(req.Level), Subject: id, Verdict: verdict,
			Ref: ref[:], At: now.Unix(), Reason: reason}
		signed, err := message.SignValidationResult(a.key, m, nil)
		if err != nil {
			return internal("sign verdict", err)
		}
		out = &ValidateResponse{ValidationResult: base64.StdEncoding.EncodeToString(signed), Verdict: verdictNames[verdict],
			BlockchainProof: hex.EncodeToString(e.Hash), LedgerIndex: e.Index}
		return nil
	})
	if err != nil {
		return nil, asError(err)
	}
	return out, nil
}
