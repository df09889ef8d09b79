package authority

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
	bolt "go.etcd.io/bbolt"
)

// Pairing statuses.
const (
	PairingIssued    = "issued"    // certificate out, handshake not yet completed
	PairingCompleted = "completed" // L6 completion accepted
	PairingRevoked   = "revoked"   // revoked, or invalidated with its binding
	PairingTimedOut  = "timed_out" // not completed within the partial-pairing timeout
	PairingExpired   = "expired"   // past expires_at (reported, not stored)
)

// pairingRecord is what the authority keeps of a pairing: the clear metadata, its hash and a hash
// of the validation nonce. No half, no exchange key, no nonce.
type pairingRecord struct {
	ID             []byte          `json:"id"`
	BindingID      []byte          `json:"binding_id"`
	Context        message.Context `json:"context"`
	Metadata       []byte          `json:"metadata"` // encoded PairingMetadata (public, signed)
	MetadataHash   []byte          `json:"metadata_hash"`
	NonceHash      []byte          `json:"nonce_hash"` // SHA-256 of the validation nonce
	Entities       [2]string       `json:"entities"`
	Roles          [2]message.Role `json:"roles"`
	Keys           [2][]byte       `json:"keys"` // the entities' semi-public keys (SEC1), copied from the binding
	CreatedMS      int64           `json:"created_ms"`
	DeadlineMS     int64           `json:"deadline_ms"` // partial-pairing deadline
	ExpiresAt      int64           `json:"expires_at"`
	Status         string          `json:"status"`
	CompletedMS    int64           `json:"completed_ms,omitempty"`
	CompletionHash []byte          `json:"completion_hash,omitempty"`
	Reason         string          `json:"reason,omitempty"`
	Policy         message.Policy  `json:"policy,omitempty"` // set by a modification
}

func loadPairing(tx *bolt.Tx, id []byte) (*pairingRecord, error) {
	var p pairingRecord
	ok, err := getJSON(tx.Bucket(bucketPairings), id, &p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errf(CodeUnknownPairing, "no pairing %s", message.FormatUUID(id))
	}
	return &p, nil
}

// invalidatePairings revokes every live pairing of a binding, each ledgered.
func (a *Authority) invalidatePairings(tx *bolt.Tx, bindingID []byte, now time.Time, cause string) ([]string, error) {
	var victims []*pairingRecord
	err := tx.Bucket(bucketPairings).ForEach(func(k, v []byte) error {
		var p pairingRecord
		if _, err := getJSON(tx.Bucket(bucketPairings), k, &p); err != nil {
			return err
		}
		if string(p.BindingID) == string(bindingID) && (p.Status == PairingIssued || p.Status == PairingCompleted) {
			victims = append(victims, &p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ids := []string{}
	for _, p := range victims {
		p.Status = PairingRevoked
		p.Reason = "binding " + cause + " revoked"
		if _, err := appendEntry(tx, now.UnixMilli(), KindPairingRevoked, p.ID, map[string]string{"cause": p.Reason}); err != nil {
			return nil, err
		}
		if err := putJSON(tx.Bucket(bucketPairings), p.ID, p); err != nil {
			return nil, err
		}
		ids = append(ids, message.FormatUUID(p.ID))
	}
	return ids, nil
}

// defaultAddr is an entity's CAN node address: the app's fixed address, or a CAN entity's
// endpoint read as a number ("0x40").
func defaultAddr(p partyRecord) (uint8, error) {
	if p.Role == message.RoleApp {
		return canid.AddrApp, nil
	}
	v, err := strconv.ParseUint(p.Access.Endpoint, 0, 8)
	if err != nil {
		return 0, errf(CodeBadRequest, "entity %s: endpoint %q is not a node address; give addrs", p.Access.DeviceID, p.Access.Endpoint)
	}
	return uint8(v), nil
}

// IssuePairing serves POST /api/pairing/issue. The authority makes the two key halves, the
// exchange key and the validation nonce (message.IssuePairingCertificate), seals each entity's
// section to its semi-public key, signs the clear metadata, and then erases the halves, the
// exchange key and the nonce: it keeps the metadata, its hash and SHA-256 of the nonce.
func (a *Authority) IssuePairing(req IssuePairingRequest) (*IssuePairingResponse, error) {
	ctx, err := ParseContext(req.Context)
	if err != nil {
		return nil, err
	}
	if req.Entities[0] == "" || req.Entities[1] == "" || req.Entities[0] == req.Entities[1] {
		return nil, errf(CodeBadRequest, "entities must name two different entities")
	}
	var bindingID []byte
	if req.BindingID != "" {
		if bindingID, err = parseID(req.BindingID); err != nil {
			return nil, err
		}
	}
	if req.Addrs != nil && len(req.Addrs) != 2 {
		return nil, errf(CodeBadRequest, "addrs must hold two node addresses")
	}
	validity := a.opt.PairingValidity
	if req.ValiditySeconds != 0 {
		validity = time.Duration(req.ValiditySeconds) * time.Second
		if req.ValiditySeconds < 0 || validity > a.opt.MaxPairingValidity {
			return nil, errf(CodeBadRequest, "validity_seconds %d outside 1..%d", req.ValiditySeconds, int64(a.opt.MaxPairingValidity/time.Second))
		}
	}
	policy := DefaultPolicy(ctx)
	if req.Policy != nil {
		if policy, err = ParsePolicy(req.Policy); err != nil {
			return nil, err
		}
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	var resp *IssuePairingResponse
	err = a.db.Update(func(tx *bolt.Tx) error {
		var b *bindingRecord
		if bindingID != nil {
			if b, err = loadBinding(tx, bindingID); err != nil {
				return err
			}
			if !b.joins(req.Entities[0], req.Entities[1]) {
				return errf(CodeNotAParty, "binding %s does not join %s and %s", req.BindingID, req.Entities[0], req.Entities[1])
			}
		} else {
			err := forEachBinding(tx, func(o *bindingRecord) error {
				if o.joins(req.Entities[0], req.Entities[1]) && (b == nil || o.Status == StatusActive) {
					b = o
				}
				return nil
			})
			if err != nil {
				return err
			}
			if b == nil {
				return errf(CodeUnknownEntity, "no binding joins %s and %s", req.Entities[0], req.Entities[1])
			}
		}
		switch b.Status {
		case StatusRevoked:
			return errf(CodeBindingRevoked, "binding %s is revoked", message.FormatUUID(b.ID))
		case StatusPending:
			return errf(CodeBindingIncomplete, "binding %s is pending", message.FormatUUID(b.ID))
		}
		if now.Unix() > b.Expires {
			return errf(CodeConflict, "binding %s expired at %s; re-bind", message.FormatUUID(b.ID), rfc3339(b.Expires))
		}
		ia := b.party(req.Entities[0])
		parties := [2]partyRecord{b.Parties[ia], b.Parties[1-ia]}
		var ents []message.Entity
		var keys [2]*suite.PublicKey
		for i, p := range parties {
			addr := uint8(0)
			if req.Addrs != nil {
				addr = req.Addrs[i]
			} else if addr, err = defaultAddr(p); err != nil {
				return err
			}
			if keys[i], err = suite.ParsePublicKey(p.Key); err != nil {
				return internal("stored key", err)
			}
			ents = append(ents, message.Entity{ID: p.Access.DeviceID, Role: p.Role, Addr: addr, KID: p.KID, Access: p.Access})
		}
		pid, err := a.newID()
		if err != nil {
			return err
		}
		nonce := make([]byte, message.NonceSize)
		if _, err := io.ReadFull(a.opt.Rand, nonce); err != nil {
			return internal("read random", err)
		}
		md := &message.PairingMetadata{V: message.Version1, PairingID: pid, Context: ctx, Entities: ents,
			Timing: message.Timing{CreatedAt: now.Unix(), ValidFrom: now.Unix(), ExpiresAt: now.Add(validity).Unix()},
			Policy: policy, PolicyDigest: policy.Digest(), Nonce: nonce, AEAD: message.AlgA256GCM}
		is, err := message.IssuePairingCertificate(a.key, md, keys[0], keys[1], a.opt.Rand)
		if err != nil {
			var fe *message.FieldError
			if errors.As(err, &fe) {
				return errf(CodeBadRequest, "%v", err)
			}
			return internal("issue pairing certificate", err)
		}
		nh := sha256.Sum256(is.ValidationNonce)
		// The authority's copy of the secrets ends here (brief section 3: zero knowledge).
		suite.Erase(is.HalfA)
		suite.Erase(is.HalfB)
		suite.Erase(is.ExchangeKey)
		suite.Erase(is.ValidationNonce)
		rec := &pairingRecord{ID: pid, BindingID: b.ID, Context: ctx, Metadata: is.Metadata, MetadataHash: is.MetadataHash,
			NonceHash: nh[:], Entities: [2]string{ents[0].ID, ents[1].ID}, Roles: [2]message.Role{ents[0].Role, ents[1].Role},
			Keys: [2][]byte{parties[0].Key, parties[1].Key}, CreatedMS: now.UnixMilli(),
			DeadlineMS: now.Add(a.opt.HandshakeTimeout).UnixMilli(), ExpiresAt: md.Timing.ExpiresAt, Status: PairingIssued}
		e, err := appendEntry(tx, now.UnixMilli(), KindPairingIssued, pid, map[string]string{
			"binding": message.FormatUUID(b.ID), "context": ctx.String(),
			"entity_a": ents[0].ID, "entity_b": ents[1].ID, "kid_a": kidHex(ents[0].KID), "kid_b": kidHex(ents[1].KID),
			"metadata_hash": hex.EncodeToString(is.MetadataHash), "expires_at": rfc3339(md.Timing.ExpiresAt),
		})
		if err != nil {
			return err
		}
		if err := putJSON(tx.Bucket(bucketPairings), pid, rec); err != nil {
			return err
		}
		resp = &IssuePairingResponse{PairingID: message.FormatUUID(pid), BindingID: message.FormatUUID(b.ID),
			Context: ctx.String(), Certificate: base64.StdEncoding.EncodeToString(is.Certificate),
			MetadataHash: hex.EncodeToString(is.MetadataHash), CreatedAt: rfc3339(md.Timing.CreatedAt),
			ExpiresAt: rfc3339(md.Timing.ExpiresAt), HandshakeDeadline: time.UnixMilli(rec.DeadlineMS).UTC().Format(time.RFC3339Nano),
			BlockchainProof: hex.EncodeToString(e.Hash)}
		return nil
	})
	if err != nil {
		return nil, asError(err)
	}
	a.log.Info("pairing issued", "pairing", resp.PairingID, "context", resp.Context, "a", req.Entities[0], "b", req.Entities[1])
	return resp, nil
}

// livePairing loads a pairing and refuses it unless it is still usable for op; an issued pairing
// past its handshake deadline is marked timed out (and ledgered) on the way. The returned error
// is nil only for live pairings; *timedOut reports whether the caller must commit the timeout.
func (a *Authority) livePairing(tx *bolt.Tx, id []byte, now time.Time) (*pairingRecord, error) {
	p, err := loadPairing(tx, id)
	if err != nil {
		return nil, err
	}
	name := message.FormatUUID(id)
	switch p.Status {
	case PairingRevoked:
		return p, errf(CodePairingRevoked, "pairing %s is revoked (%s)", name, p.Reason)
	case PairingTimedOut:
		return p, errf(CodePairingTimedOut, "pairing %s timed out before completion", name)
	}
	if now.Unix() > p.ExpiresAt+int64(message.MaxSkew/time.Second) {
		return p, errf(CodePairingExpired, "pairing %s expired at %s", name, rfc3339(p.ExpiresAt))
	}
	return p, nil
}

// timeOut marks an overdue issued pairing timed out.
func (a *Authority) timeOut(tx *bolt.Tx, p *pairingRecord, now time.Time) error {
	p.Status = PairingTimedOut
	if _, err := appendEntry(tx, now.UnixMilli(), KindPairingTimedOut, p.ID, map[string]string{
		"deadline": time.UnixMilli(p.DeadlineMS).UTC().Format(time.RFC3339Nano)}); err != nil {
		return err
	}
	return putJSON(tx.Bucket(bucketPairings), p.ID, p)
}

// Complete serves POST /api/pairing/{id}/complete: the L6 handshake completion. Checks, in
// order: the completion decodes; its pairing ID is the path's; the pairing is live (not
// revoked, timed out or expired) and not already completed (a replay); the partial-pairing
// deadline; the validation nonce against its stored hash; the metadata hash, the completion
// time (±5 min) and the proofs (message.VerifyCompletion). Every entity must prove: pack and
// app sign (ES256, checked against their binding keys); a module may MAC under its pairing key
// instead, which the authority cannot check, and is accepted only when its peer's signature
// (which covers the same bytes after the peer checked that MAC) verifies.
func (a *Authority) Complete(idText string, req CompleteRequest) (*L6, error) {
	id, err := parseID(idText)
	if err != nil {
		return nil, err
	}
	c, raw, err := decodeCompletion(req)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(c.PairingID, id) != 1 {
		return nil, errf(CodePairingMismatch, "completion names pairing %s, path %s", message.FormatUUID(c.PairingID), idText)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	var out *validation
	var refusal error
	err = a.db.Update(func(tx *bolt.Tx) error {
		p, err := a.livePairing(tx, id, now)
		if err != nil {
			return err
		}
		if p.Status == PairingCompleted {
			return errf(CodeReplayed, "pairing %s was completed at %s", idText, time.UnixMilli(p.CompletedMS).UTC().Format(time.RFC3339))
		}
		if now.UnixMilli() > p.DeadlineMS {
			refusal = errf(CodePairingTimedOut, "pairing %s: completion after the %s partial-pairing timeout", idText, a.opt.HandshakeTimeout)
			return a.timeOut(tx, p, now)
		}
		nh := sha256.Sum256(c.ValidationNonce)
		if subtle.ConstantTimeCompare(nh[:], p.NonceHash) != 1 {
			return errf(CodeBadNonce, "validation nonce does not match pairing %s", idText)
		}
		if err := a.checkProofs(c, p, now); err != nil {
			return err
		}
		ch := sha256.Sum256(raw)
		e, err := appendEntry(tx, now.UnixMilli(), KindPairingCompleted, p.ID, map[string]string{
			"completion_hash": hex.EncodeToString(ch[:]), "completed_at": rfc3339(c.CompletedAt)})
		if err != nil {
			return err
		}
		p.Status, p.CompletedMS, p.CompletionHash = PairingCompleted, now.UnixMilli(), ch[:]
		if err := putJSON(tx.Bucket(bucketPairings), p.ID, p); err != nil {
			return err
		}
		out, err = a.signL6(&message.PairingValidation{V: message.Version1, Kind: message.PairingCompleted,
			PairingID: p.ID, IssuedAt: now.Unix(), CompletionHash: ch[:]}, e)
		return err
	})
	if err == nil && refusal != nil {
		err = refusal
	}
	if err != nil {
		return nil, asError(err)
	}
	a.log.Info("pairing completed", "pairing", idText)
	return out.l6(), nil
}

func decodeCompletion(req CompleteRequest) (*message.Completion, []byte, error) {
	raw, err := base64.StdEncoding.DecodeString(req.Completion)
	if err != nil {
		return nil, nil, errf(CodeBadRequest, "completion: base64: %v", err)
	}
	if len(raw) > message.MaxMessageSize {
		return nil, nil, errf(CodeBadRequest, "completion of %d bytes", len(raw))
	}
	c, err := message.DecodeCompletion(raw)
	if err != nil {
		return nil, nil, errf(CodeBadRequest, "completion: %v", err)
	}
	return c, raw, nil
}

func (a *Authority) checkProofs(c *message.Completion, p *pairingRecord, now time.Time) error {
	want := message.CompletionExpect{PairingID: p.ID, ValidationNonce: c.ValidationNonce, MetadataHash: p.MetadataHash}
	var alg [2]int
	for _, pr := range c.Proofs {
		alg[pr.Index] = pr.Alg
	}
	for i := range 2 {
		switch {
		case alg[i] == 0:
			return errf(CodeProofMissing, "no proof from %s", p.Entities[i])
		case alg[i] == message.AlgHMAC256 && (p.Roles[i] != message.RoleModule || alg[1-i] != message.AlgES256):
			return errf(CodeBadProof, "%s proves with a MAC, accepted only from a module whose peer signs", p.Entities[i])
		case alg[i] == message.AlgES256:
			k, err := suite.ParsePublicKey(p.Keys[i])
			if err != nil {
				return internal("stored key", err)
			}
			want.Keys[i], want.Required[i] = k, true
		}
	}
	err := message.VerifyCompletion(c, want, now)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, message.ErrMetadataHash):
		return errf(CodeMetadataHash, "%v", err)
	case errors.Is(err, message.ErrRepairNeeded):
		return errf(CodeClockSkew, "%v", err)
	case errors.Is(err, message.ErrProofMissing):
		return errf(CodeProofMissing, "%v", err)
	case errors.Is(err, message.ErrNonce):
		return errf(CodeBadNonce, "%v", err)
	case errors.Is(err, message.ErrSignature), errors.Is(err, message.ErrWrongKey), errors.Is(err, message.ErrMalformed):
		return errf(CodeBadProof, "%v", err)
	}
	return errf(CodeBadRequest, "%v", err)
}

func (a *Authority) signL6(m *message.PairingValidation, e *Entry) (*validation, error) {
	signed, err := message.SignPairingValidation(a.key, m, nil)
	if err != nil {
		return nil, internal("sign L6", err)
	}
	return &validation{Signed: signed, Proof: e.Hash, Index: e.Index}, nil
}

// RevokePairing serves POST /api/pairing/{id}/revoke (L6 revocation).
func (a *Authority) RevokePairing(idText string, req RevokePairingRequest) (*L6, error) {
	id, err := parseID(idText)
	if err != nil {
		return nil, err
	}
	reason, err := ParseReason(req.Reason)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	var out *validation
	err = a.db.Update(func(tx *bolt.Tx) error {
		p, err := a.livePairing(tx, id, now)
		if err != nil && !errors.Is(err, ErrPairingExpired) {
			return err
		}
		e, err := appendEntry(tx, now.UnixMilli(), KindPairingRevoked, p.ID, map[string]string{"reason": req.Reason})
		if err != nil {
			return err
		}
		p.Status, p.Reason = PairingRevoked, req.Reason
		if err := putJSON(tx.Bucket(bucketPairings), p.ID, p); err != nil {
			return err
		}
		out, err = a.signL6(&message.PairingValidation{V: message.Version1, Kind: message.PairingRevoked,
			PairingID: p.ID, IssuedAt: now.Unix(), Reason: &reason}, e)
		return err
	})
	if err != nil {
		return nil, asError(err)
	}
	a.log.Warn("pairing revoked", "pairing", idText, "reason", req.Reason)
	return out.l6(), nil
}

// ModifyPairing serves POST /api/pairing/{id}/modify (L6 modification): a new expiry and/or
// policy for a completed pairing's keys.
func (a *Authority) ModifyPairing(idText string, req ModifyPairingRequest) (*L6, error) {
	id, err := parseID(idText)
	if err != nil {
		return nil, err
	}
	if req.ExpiresAt == "" && req.Policy == nil {
		return nil, errf(CodeBadRequest, "modification changes nothing")
	}
	var policy message.Policy
	if req.Policy != nil {
		if policy, err = ParsePolicy(req.Policy); err != nil {
			return nil, err
		}
	}
	var expires int64
	if req.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, req.ExpiresAt)
		if err != nil {
			return nil, errf(CodeBadRequest, "expires_at: %v", err)
		}
		expires = t.Unix()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if expires != 0 && (expires <= now.Unix() || time.Unix(expires, 0).Sub(now) > a.opt.MaxPairingValidity) {
		return nil, errf(CodeBadRequest, "expires_at %s outside (now, now + %s]", req.ExpiresAt, a.opt.MaxPairingValidity)
	}
	var out *validation
	err = a.db.Update(func(tx *bolt.Tx) error {
		p, err := a.livePairing(tx, id, now)
		if err != nil {
			return err
		}
		if p.Status != PairingCompleted {
			return errf(CodeConflict, "pairing %s is %s; only a completed pairing is modified", idText, p.Status)
		}
		m := &message.PairingValidation{V: message.Version1, Kind: message.PairingModified, PairingID: p.ID, IssuedAt: now.Unix(), ExpiresAt: expires}
		data := map[string]string{}
		if expires != 0 {
			p.ExpiresAt = expires
			data["expires_at"] = rfc3339(expires)
		}
		if policy != nil {
			m.Policy, m.PolicyDigest = policy, policy.Digest()
			p.Policy = policy
			data["policy_digest"] = hex.EncodeToString(m.PolicyDigest)
		}
		if err := m.Validate(); err != nil {
			return errf(CodeBadRequest, "%v", err)
		}
		e, err := appendEntry(tx, now.UnixMilli(), KindPairingModified, p.ID, data)
		if err != nil {
			return err
		}
		if err := putJSON(tx.Bucket(bucketPairings), p.ID, p); err != nil {
			return err
		}
		out, err = a.signL6(m, e)
		return err
	})
	if err != nil {
		return nil, asError(err)
	}
	return out.l6(), nil
}

// Pairing serves GET /api/pairing/{id}.
func (a *Authority) Pairing(idText string) (*PairingInfo, error) {
	id, err := parseID(idText)
	if err != nil {
		return nil, err
	}
	var p *pairingRecord
	if err := a.db.View(func(tx *bolt.Tx) error { p, err = loadPairing(tx, id); return err }); err != nil {
		return nil, asError(err)
	}
	now := a.now()
	status := p.Status
	switch {
	case status == PairingIssued && now.UnixMilli() > p.DeadlineMS:
		status = PairingTimedOut
	case (status == PairingIssued || status == PairingCompleted) && now.Unix() > p.ExpiresAt+int64(message.MaxSkew/time.Second):
		status = PairingExpired
	}
	info := &PairingInfo{PairingID: idText, BindingID: message.FormatUUID(p.BindingID), Context: p.Context.String(),
		Status: status, Entities: p.Entities, MetadataHash: hex.EncodeToString(p.MetadataHash),
		CreatedAt: time.UnixMilli(p.CreatedMS).UTC().Format(time.RFC3339), ExpiresAt: rfc3339(p.ExpiresAt), Reason: p.Reason}
	if p.CompletedMS != 0 {
		info.CompletedAt = time.UnixMilli(p.CompletedMS).UTC().Format(time.RFC3339)
	}
	return info, nil
}

// Sweep marks every issued pairing past its handshake deadline as timed out (each ledgered) and
// returns how many it marked. Serve runs it periodically; Complete also checks the deadline.
func (a *Authority) Sweep() (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	n := 0
	err := a.db.Update(func(tx *bolt.Tx) error {
		var due []*pairingRecord
		err := tx.Bucket(bucketPairings).ForEach(func(k, v []byte) error {
			var p pairingRecord
			if _, err := getJSON(tx.Bucket(bucketPairings), k, &p); err != nil {
				return err
			}
			if p.Status == PairingIssued && now.UnixMilli() > p.DeadlineMS {
				due = append(due, &p)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, p := range due {
			if err := a.timeOut(tx, p, now); err != nil {
				return err
			}
		}
		n = len(due)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("authority: sweep: %w", err)
	}
	return n, nil
}
