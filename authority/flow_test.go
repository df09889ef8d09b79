package authority

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// TestBindPairCompleteRevoke runs the whole life of bindings and pairings over loopback HTTP:
// app↔pack and pack↔modules bound, pairings issued in two contexts, completed (the module by
// MAC, vouched for by the pack's signature), L5 traffic between the devices, L7 verification,
// key loss of a module, and re-binding.
func TestBindPairCompleteRevoke(t *testing.T) {
	w := newWorld(t, 2)
	defer w.close()
	ctx := w.ctx

	bAP := w.bind(w.app, w.pack)
	bPM1 := w.bind(w.pack, w.mods[0])
	bPM2 := w.bind(w.pack, w.mods[1])

	// Binding status and the L7 establishment with its ledger proof.
	info, err := w.c.Binding(ctx, bPM1)
	if err != nil || info.Status != StatusActive || info.Establishment == nil {
		t.Fatalf("binding: %+v, %v", info, err)
	}
	l7 := b64(t, info.Establishment.BindingValidation)
	bid, _ := message.ParseUUID(bPM1)
	bv, err := message.VerifyBindingValidation(w.auth, l7, bid, w.clk.Now())
	if err != nil || bv.Kind != message.BindingEstablished {
		t.Fatalf("L7 establishment: %+v %v", bv, err)
	}
	entry, err := w.c.LedgerEntry(ctx, info.Establishment.LedgerIndex)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(entry.ComputeHash(), bv.BlockchainProof) || !bytes.Equal(entry.Hash, bv.BlockchainProof) || entry.Kind != KindBindingEstablished {
		t.Fatalf("blockchain proof %x is not ledger entry %d (%x, %s)", bv.BlockchainProof, entry.Index, entry.Hash, entry.Kind)
	}

	// Semi-public keys go to bound partners only.
	pub, _, err := w.c.PartnerPublicKey(ctx, bPM1, w.pack.id(), w.auth, w.clk.Now())
	if err != nil || !pub.Equal(w.mods[0].keys[bPM1].Public()) {
		t.Fatalf("partner key for the pack: %v", err)
	}
	for _, stranger := range []string{w.app.id(), w.mods[1].id(), "nobody"} {
		if _, err := w.c.PartnerKey(ctx, bPM1, stranger); !errors.Is(err, ErrNotAParty) {
			t.Fatalf("partner key for %s: %v", stranger, err)
		}
	}

	// Pair pack↔module 1 (battery management) and app↔pack (diagnostics).
	r1 := w.issue(bPM1, "battery_management", w.pack, w.mods[0])
	pS, mS := w.pairUp(bPM1, certOf(t, r1), w.pack, w.mods[0])
	id, env := l5(t, pS, 0x01, 0x40)
	if _, _, _, err := message.OpenCommand(suite.NewLevelChannel(mS.keys.Receive(false)), id, env); err != nil {
		t.Fatalf("module opens the pack's L5 command: %v", err)
	}
	w.clk.Advance(2 * time.Second)
	comp := w.completion(pS, mS, w.clk.Now())
	l6, err := w.c.Complete(ctx, r1.PairingID, comp)
	if err != nil {
		t.Fatalf("complete: %v", err)
	}
	pid, _ := message.ParseUUID(r1.PairingID)
	pv, err := message.VerifyPairingValidation(w.auth, b64(t, l6.PairingValidation), pid, w.clk.Now())
	if err != nil || pv.Kind != message.PairingCompleted {
		t.Fatalf("L6: %+v %v", pv, err)
	}
	if _, err := w.c.Complete(ctx, r1.PairingID, comp); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replayed completion: %v", err)
	}

	r2 := w.issue(bAP, "diagnostics", w.app, w.pack)
	aS, pS2 := w.pairUp(bAP, certOf(t, r2), w.app, w.pack)
	if _, err := w.c.Complete(ctx, r2.PairingID, w.completion(aS, pS2, w.clk.Now())); err != nil {
		t.Fatalf("complete app↔pack: %v", err)
	}
	r3 := w.issue(bPM2, "emergency", w.pack, w.mods[1])

	// Modification of a completed pairing.
	newExp := w.clk.Now().Add(60 * 24 * time.Hour).UTC().Format(time.RFC3339)
	mod, err := w.c.ModifyPairing(ctx, r1.PairingID, ModifyPairingRequest{ExpiresAt: newExp, Policy: map[string]string{"command": "pairing", "telemetry": "exchange"}})
	if err != nil {
		t.Fatal(err)
	}
	mv, err := message.VerifyPairingValidation(w.auth, b64(t, mod.PairingValidation), pid, w.clk.Now())
	if err != nil || mv.Kind != message.PairingModified || mv.Policy == nil {
		t.Fatalf("L6 modified: %+v %v", mv, err)
	}

	// L7 verification.
	v, err := w.c.VerifyBinding(ctx, bAP)
	if err != nil {
		t.Fatal(err)
	}
	aid, _ := message.ParseUUID(bAP)
	if bv, err := message.VerifyBindingValidation(w.auth, b64(t, v.BindingValidation), aid, w.clk.Now()); err != nil || bv.Kind != message.BindingVerified {
		t.Fatalf("L7 verified: %v", err)
	}

	// Module 1 loses its key: its binding is revoked, its pairing refused by ID from then on.
	rev, err := w.c.RevokeBinding(ctx, bPM1, RevokeBindingRequest{Reason: "key_loss", Entity: w.mods[0].id()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rev.RevokedBindings) != 1 || len(rev.InvalidatedPairings) != 1 || rev.InvalidatedPairings[0] != r1.PairingID {
		t.Fatalf("revocation voided %v / %v", rev.RevokedBindings, rev.InvalidatedPairings)
	}
	if bv, err := message.VerifyBindingValidation(w.auth, b64(t, rev.BindingValidation), bid, w.clk.Now()); err != nil || bv.Kind != message.BindingRevoked || *bv.Reason != message.ReasonKeyLoss {
		t.Fatalf("L7 revoked: %v", err)
	}
	if _, err := w.c.ModifyPairing(ctx, r1.PairingID, ModifyPairingRequest{ExpiresAt: newExp}); !errors.Is(err, ErrPairingRevoked) {
		t.Fatalf("modify after revocation: %v", err)
	}
	if p, err := w.c.Pairing(ctx, r1.PairingID); err != nil || p.Status != PairingRevoked {
		t.Fatalf("pairing after revocation: %+v %v", p, err)
	}
	if _, err := w.c.PartnerKey(ctx, bPM1, w.pack.id()); !errors.Is(err, ErrBindingRevoked) {
		t.Fatalf("partner key after revocation: %v", err)
	}
	if _, err := w.c.IssuePairing(ctx, IssuePairingRequest{BindingID: bPM1, Context: "diagnostics", Entities: [2]string{w.pack.id(), w.mods[0].id()}}); !errors.Is(err, ErrBindingRevoked) {
		t.Fatalf("issue on a revoked binding: %v", err)
	}
	// Other pairings are untouched.
	if p, _ := w.c.Pairing(ctx, r2.PairingID); p.Status != PairingCompleted {
		t.Fatalf("app↔pack pairing is %s", p.Status)
	}
	// Re-binding with new keys, then re-pairing.
	bNew := w.bind(w.pack, w.mods[0])
	if bNew == bPM1 {
		t.Fatal("re-binding reused the binding ID")
	}
	r4 := w.issue("", "battery_management", w.pack, w.mods[0])
	pS4, mS4 := w.pairUp(bNew, certOf(t, r4), w.pack, w.mods[0])
	if pS4.keys.Key == pS.keys.Key {
		t.Fatal("re-pairing derived the old key")
	}
	if _, err := w.c.Complete(ctx, r4.PairingID, w.completion(pS4, mS4, w.clk.Now())); err != nil {
		t.Fatal(err)
	}

	// The pack loses its key: every binding and every pairing of the pack goes.
	rev, err = w.c.RevokeBinding(ctx, bAP, RevokeBindingRequest{Reason: "key_loss", Entity: w.pack.id()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rev.RevokedBindings) != 3 || len(rev.InvalidatedPairings) != 3 {
		t.Fatalf("pack key loss voided %v / %v", rev.RevokedBindings, rev.InvalidatedPairings)
	}
	for _, p := range []string{r2.PairingID, r3.PairingID, r4.PairingID} {
		if info, _ := w.c.Pairing(ctx, p); info.Status != PairingRevoked {
			t.Fatalf("pairing %s is %s", p, info.Status)
		}
	}
	if n, _, err := VerifyLedgerOf(w); err != nil || n == 0 {
		t.Fatalf("ledger: %d %v", n, err)
	}
}

// VerifyLedgerOf verifies the running authority's ledger.
func VerifyLedgerOf(w *world) (uint64, []byte, error) { return w.a.Ledger() }

// TestCompletionChecks: every refusal of a completion, by code.
func TestCompletionChecks(t *testing.T) {
	w := newWorld(t, 1)
	defer w.close()
	b := w.bind(w.pack, w.mods[0])
	r := w.issue(b, "battery_management", w.pack, w.mods[0])
	pS, mS := w.pairUp(b, certOf(t, r), w.pack, w.mods[0])
	good := w.completion(pS, mS, w.clk.Now())

	edit := func(f func(c *message.Completion)) []byte {
		c, err := message.DecodeCompletion(good)
		if err != nil {
			t.Fatal(err)
		}
		f(c)
		enc, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	otherPS, otherMS := *pS, *mS
	otherPS.nonce = bytes.Repeat([]byte{7}, 16)
	badNonce := w.completion(&otherPS, &otherMS, w.clk.Now())
	skewed := w.completion(pS, mS, w.clk.Now().Add(-6*time.Minute))
	macOnly := edit(func(c *message.Completion) { c.Proofs = c.Proofs[1:] })
	flipSig := edit(func(c *message.Completion) { c.Proofs[0].Tag[5] ^= 1 })
	stranger, _ := suite.GenerateKey(newReader("stranger"))
	foreign := edit(func(c *message.Completion) {
		c.Proofs = nil
		if err := c.SignProof(0, stranger, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.MACProof(1, bytes.Repeat([]byte{1}, 32), 1); err != nil {
			t.Fatal(err)
		}
	})
	otherID := "00000000-0000-4000-8000-000000000000"
	for _, tc := range []struct {
		name string
		path string
		body []byte
		want *Error
	}{
		{"unknown pairing", otherID, edit(func(c *message.Completion) { c.PairingID = mustID(otherID) }), ErrUnknownPairing},
		{"path and body differ", otherID, good, ErrPairingMismatch},
		{"wrong nonce", r.PairingID, badNonce, ErrBadNonce},
		{"clock skew", r.PairingID, skewed, ErrClockSkew},
		{"module MAC without the pack's signature", r.PairingID, macOnly, ErrProofMissing},
		{"tampered signature", r.PairingID, flipSig, ErrBadProof},
		{"signed by a stranger", r.PairingID, foreign, ErrBadProof},
		{"not CBOR", r.PairingID, []byte{0xff, 0x00}, ErrBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := w.c.Complete(w.ctx, tc.path, tc.body); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %s", err, tc.want.Code)
			}
		})
	}
	// After all the refusals the good completion is still accepted, once.
	if _, err := w.c.Complete(w.ctx, r.PairingID, good); err != nil {
		t.Fatal(err)
	}
	if _, err := w.c.Complete(w.ctx, r.PairingID, good); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay: %v", err)
	}
}

func mustID(s string) []byte {
	b, err := message.ParseUUID(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestPartialPairingTimeout: a completion after 30 s is refused, the pairing is ledgered as
// timed out and stays refused; Sweep times out the others.
func TestPartialPairingTimeout(t *testing.T) {
	w := newWorld(t, 2)
	defer w.close()
	b := w.bind(w.pack, w.mods[0])
	b2 := w.bind(w.pack, w.mods[1])
	r := w.issue(b, "battery_management", w.pack, w.mods[0])
	r2 := w.issue(b2, "battery_management", w.pack, w.mods[1])
	pS, mS := w.pairUp(b, certOf(t, r), w.pack, w.mods[0])
	w.clk.Advance(DefaultHandshakeTimeout + time.Millisecond)
	comp := w.completion(pS, mS, w.clk.Now())
	if _, err := w.c.Complete(w.ctx, r.PairingID, comp); !errors.Is(err, ErrPairingTimedOut) {
		t.Fatalf("late completion: %v", err)
	}
	if _, err := w.c.Complete(w.ctx, r.PairingID, comp); !errors.Is(err, ErrPairingTimedOut) {
		t.Fatalf("second late completion: %v", err)
	}
	if n, err := w.a.Sweep(); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	for _, id := range []string{r.PairingID, r2.PairingID} {
		if p, _ := w.c.Pairing(w.ctx, id); p.Status != PairingTimedOut {
			t.Fatalf("%s is %s", id, p.Status)
		}
	}
	n, _, err := w.a.Ledger()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for i := range n {
		e, _ := w.a.LedgerEntry(i)
		kinds[e.Kind]++
	}
	if kinds[KindPairingTimedOut] != 2 {
		t.Fatalf("ledger kinds %v", kinds)
	}
}

// TestConcurrentClients: bindings and pairings from many clients at once all land, each with
// its ledger entries, and the chain verifies.
func TestConcurrentClients(t *testing.T) {
	const n = 8
	w := newWorld(t, n)
	defer w.close()
	errs := make(chan error, n)
	for i := range n {
		go func() {
			m := w.mods[i]
			id, err := w.c.Bind(w.ctx, w.pack.access, "pack", m.access, "module")
			if err == nil {
				_, err = w.c.IssuePairing(w.ctx, IssuePairingRequest{BindingID: id, Context: "diagnostics", Entities: [2]string{w.pack.id(), m.id()}})
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	count, _, err := w.a.Ledger()
	if err != nil {
		t.Fatal(err)
	}
	if count != 4*n {
		t.Fatalf("%d ledger entries, want %d", count, 4*n)
	}
}
