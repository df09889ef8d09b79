package authority

import (
	"errors"
	"testing"
	"time"

	"github.com/modbatt/hilrun/protocol/suite"
)

// TestPartnerKeyProof: with RequireProof, only a caller holding the party's binding key gets
// the partner's key; without it, a proof is optional but checked when present.
func TestPartnerKeyProof(t *testing.T) {
	w := newWorld(t, 1)
	b := w.bind(w.pack, w.mods[0])
	w.close()
	w.proof = true
	w.open()
	defer w.close()
	bid := mustID(b)
	now := w.clk.Now()
	packKey, modKey := w.pack.keys[b], w.mods[0].keys[b]
	sign := func(k *suite.PrivateKey, op string, subject []byte, entity string, at time.Time) string {
		h, err := SignRequest(k, op, subject, entity, at)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	good := sign(packKey, OpPartnerKey, bid, w.pack.id(), now)
	for _, tc := range []struct {
		name, entity, proof string
		want                *Error
	}{
		{"no proof", w.pack.id(), "", ErrProofMissing},
		{"signed by the partner", w.pack.id(), sign(modKey, OpPartnerKey, bid, w.pack.id(), now), ErrBadProof},
		{"pack's proof for the module", w.mods[0].id(), good, ErrBadProof},
		{"another op", w.pack.id(), sign(packKey, "other", bid, w.pack.id(), now), ErrBadProof},
		{"another binding", w.pack.id(), sign(packKey, OpPartnerKey, mustID("00000000-0000-4000-8000-000000000000"), w.pack.id(), now), ErrBadProof},
		{"stale", w.pack.id(), sign(packKey, OpPartnerKey, bid, w.pack.id(), now.Add(-6*time.Minute)), ErrClockSkew},
		{"not base64", w.pack.id(), "***", ErrBadProof},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := w.c.PartnerKeyProved(w.ctx, b, tc.entity, tc.proof); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %s", err, tc.want.Code)
			}
		})
	}
	r, err := w.c.PartnerKeyProved(w.ctx, b, w.pack.id(), good)
	if err != nil || r.Partner != w.mods[0].id() || r.SemiPublicKey == "" {
		t.Fatalf("with a good proof: %+v %v", r, err)
	}
	// Without RequireProof: no proof is fine, a bad one is still refused.
	w.close()
	w.proof = false
	w.open()
	if _, err := w.c.PartnerKey(w.ctx, b, w.pack.id()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.c.PartnerKeyProved(w.ctx, b, w.pack.id(), sign(modKey, OpPartnerKey, bid, w.pack.id(), now)); !errors.Is(err, ErrBadProof) {
		t.Fatalf("bad proof without RequireProof: %v", err)
	}
}
