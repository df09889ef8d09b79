package authority

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/modbatt/hilrun/protocol/message"
)

// TestVerdicts: signed verdicts through a pairing's and a binding's life.
func TestVerdicts(t *testing.T) {
	w := newWorld(t, 2)
	defer w.close()
	b := w.bind(w.pack, w.mods[0])
	r := w.issue(b, "battery_management", w.pack, w.mods[0])
	r2 := w.issue(b, "diagnostics", w.pack, w.mods[0])
	pending, err := w.c.GenerateKeys(w.ctx, GenerateKeysRequest{AccessData: w.pack.access, Role: "pack", PartnerAccessData: w.mods[1].access})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(level int, subject string, want message.Verdict) *message.ValidationResult {
		t.Helper()
		req := []byte("question " + subject)
		resp, err := w.c.Validate(w.ctx, level, subject, req)
		if err != nil {
			t.Fatal(err)
		}
		sid, _ := message.ParseUUID(subject)
		m, err := message.VerifyValidationResult(w.auth, b64(t, resp.ValidationResult), sid, w.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		ref := sha256.Sum256(req)
		if m.Verdict != want || string(m.Ref) != string(ref[:]) || int(m.Level) != level || resp.Verdict != verdictNames[want] {
			t.Fatalf("L%d %s: verdict %d (%s), want %d", level, subject, m.Verdict, resp.Verdict, want)
		}
		return m
	}
	unknown := "00000000-0000-4000-8000-000000000000"
	ask(6, r.PairingID, message.VerdictInvalid) // issued, not completed
	ask(6, unknown, message.VerdictUnknown)
	ask(7, b, message.VerdictValid)
	ask(7, pending.BindingID, message.VerdictInvalid)
	ask(7, unknown, message.VerdictUnknown)
	pS, mS := w.pairUp(b, certOf(t, r), w.pack, w.mods[0])
	if _, err := w.c.Complete(w.ctx, r.PairingID, w.completion(pS, mS, w.clk.Now())); err != nil {
		t.Fatal(err)
	}
	ask(6, r.PairingID, message.VerdictValid)
	if _, err := w.c.RevokePairing(w.ctx, r2.PairingID, "anomaly"); err != nil {
		t.Fatal(err)
	}
	if m := ask(6, r2.PairingID, message.VerdictRevoked); m.Reason == nil || *m.Reason != message.ReasonAnomaly {
		t.Fatalf("revoked verdict reason %v", m.Reason)
	}
	if _, err := w.c.RevokePairing(w.ctx, r2.PairingID, "anomaly"); !errors.Is(err, ErrPairingRevoked) {
		t.Fatalf("second revocation: %v", err)
	}
	w.clk.Advance(31 * 24 * time.Hour)
	ask(6, r.PairingID, message.VerdictExpired)
	if _, err := w.c.Validate(w.ctx, 5, b, nil); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("level 5: %v", err)
	}
	if _, err := w.c.RevokeBinding(w.ctx, b, RevokeBindingRequest{Reason: "operator"}); err != nil {
		t.Fatal(err)
	}
	ask(7, b, message.VerdictRevoked)
}
