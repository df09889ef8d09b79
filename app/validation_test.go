package app

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

func TestCheckResult(t *testing.T) {
	auth, err := suite.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := suite.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	subject := bytes.Repeat([]byte{0x5A}, 16)
	req := []byte("request")
	ref := sha256.Sum256(req)
	base := func() *message.ValidationResult {
		return &message.ValidationResult{V: message.Version1, Level: message.L6PairingValidation, Subject: subject,
			Verdict: message.VerdictValid, Ref: ref[:], At: now.Unix()}
	}
	cases := []struct {
		name    string
		key     *suite.PrivateKey
		mod     func(*message.ValidationResult)
		verdict bool // a *VerdictError
		kind    error
	}{
		{name: "valid", key: auth},
		{name: "revoked", key: auth, mod: func(r *message.ValidationResult) { r.Verdict = message.VerdictRevoked }, verdict: true},
		{name: "unknown", key: auth, mod: func(r *message.ValidationResult) { r.Verdict = message.VerdictUnknown }, verdict: true},
		{name: "expired", key: auth, mod: func(r *message.ValidationResult) { r.Verdict = message.VerdictExpired }, verdict: true},
		{name: "signed by another key", key: other, kind: message.ErrWrongKey},
		{name: "another subject", key: auth, mod: func(r *message.ValidationResult) { r.Subject = bytes.Repeat([]byte{1}, 16) }, kind: message.ErrSubject},
		{name: "another request", key: auth, mod: func(r *message.ValidationResult) { r.Ref = make([]byte, 32) }, kind: message.ErrInvalid},
		{name: "another level", key: auth, mod: func(r *message.ValidationResult) { r.Level = message.L7BindingValidation }, kind: message.ErrInvalid},
		{name: "stale", key: auth, mod: func(r *message.ValidationResult) { r.At -= 3600 }, kind: message.ErrClockSkew},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			if tc.mod != nil {
				tc.mod(m)
			}
			signed, err := message.SignValidationResult(tc.key, m, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			r, err := checkResult(auth.Public(), signed, message.L6PairingValidation, subject, req, now)
			var ve *VerdictError
			switch {
			case tc.verdict:
				if !errors.As(err, &ve) || !errors.Is(err, ErrNotValid) || ve.Verdict != m.Verdict || r == nil {
					t.Fatalf("got %v, want the verdict %s refused", err, VerdictName(m.Verdict))
				}
			case tc.kind != nil:
				if !errors.Is(err, tc.kind) || errors.As(err, &ve) {
					t.Fatalf("got %v, want %v", err, tc.kind)
				}
			default:
				if err != nil || r.Verdict != message.VerdictValid {
					t.Fatalf("got %v %v", r, err)
				}
			}
		})
	}
}

func TestCheckCompletionConfirmed(t *testing.T) {
	auth, err := suite.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	pid := bytes.Repeat([]byte{0x11}, 16)
	comp := []byte("completion bytes")
	h := sha256.Sum256(comp)
	sign := func(m *message.PairingValidation) []byte {
		b, err := message.SignPairingValidation(auth, m, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ok := sign(&message.PairingValidation{V: 1, Kind: message.PairingCompleted, PairingID: pid, IssuedAt: now.Unix(), CompletionHash: h[:]})
	if err := checkCompletionConfirmed(auth.Public(), ok, pid, comp, now); err != nil {
		t.Fatal(err)
	}
	if err := checkCompletionConfirmed(auth.Public(), ok, pid, []byte("another completion"), now); !errors.Is(err, message.ErrInvalid) {
		t.Fatalf("another completion: %v", err)
	}
	reason := message.ReasonKeyLoss
	rev := sign(&message.PairingValidation{V: 1, Kind: message.PairingRevoked, PairingID: pid, IssuedAt: now.Unix(), Reason: &reason})
	if err := checkCompletionConfirmed(auth.Public(), rev, pid, comp, now); !errors.Is(err, message.ErrInvalid) {
		t.Fatalf("a revocation taken as a confirmation: %v", err)
	}
	if err := checkCompletionConfirmed(auth.Public(), ok, bytes.Repeat([]byte{0x22}, 16), comp, now); err == nil {
		t.Fatal("a confirmation of another pairing accepted")
	}
}
