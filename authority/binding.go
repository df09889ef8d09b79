package authority

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
	bolt "go.etcd.io/bbolt"
)

// Binding statuses.
const (
	StatusPending = "pending" // one side's key recorded
	StatusActive  = "active"  // both keys recorded, records signed
	StatusRevoked = "revoked"
)

// partyRecord is one side of a stored binding: semi-public data only.
type partyRecord struct {
	Role   message.Role       `json:"role"` // 0 until the side's own generate-keys call
	Access message.AccessData `json:"access"`
	Key    []byte             `json:"key,omitempty"` // 65-byte SEC1 semi-public key
	KID    uint16             `json:"kid,omitempty"`
}

// validation is a stored L6/L7 statement with its ledger proof.
type validation struct {
	Signed []byte `json:"signed"`
	Proof  []byte `json:"proof"`
	Index  uint64 `json:"index"`
}

type bindingRecord struct {
	ID            []byte         `json:"id"`
	Status        string         `json:"status"`
	Parties       [2]partyRecord `json:"parties"`
	NotBefore     int64          `json:"not_before,omitempty"`
	Expires       int64          `json:"expires,omitempty"`
	Certificates  [2][]byte      `json:"certificates,omitempty"` // [i]: subject i, audience 1-i
	Establishment *validation    `json:"establishment,omitempty"`
	Revocation    *validation    `json:"revocation,omitempty"`
}

func (b *bindingRecord) party(entity string) int {
	for i, p := range b.Parties {
		if p.Access.DeviceID == entity {
			return i
		}
	}
	return -1
}

func (b *bindingRecord) joins(x, y string) bool {
	return (b.Parties[0].Access.DeviceID == x && b.Parties[1].Access.DeviceID == y) ||
		(b.Parties[0].Access.DeviceID == y && b.Parties[1].Access.DeviceID == x)
}

func loadBinding(tx *bolt.Tx, id []byte) (*bindingRecord, error) {
	var b bindingRecord
	ok, err := getJSON(tx.Bucket(bucketBindings), id, &b)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errf(CodeUnknownBinding, "no binding %s", message.FormatUUID(id))
	}
	return &b, nil
}

func forEachBinding(tx *bolt.Tx, f func(*bindingRecord) error) error {
	return tx.Bucket(bucketBindings).ForEach(func(k, v []byte) error {
		var b bindingRecord
		if _, err := getJSON(tx.Bucket(bucketBindings), k, &b); err != nil {
			return err
		}
		return f(&b)
	})
}

func parseID(s string) ([]byte, error) {
	id, err := message.ParseUUID(s)
	if err != nil {
		return nil, errf(CodeBadRequest, "%v", err)
	}
	return id, nil
}

// GenerateKeys serves POST /api/binding/generate-keys: it asks the device named by
// req.AccessData (through the KeyGenerator of req.Role) for a new key pair bound to the
// partner, records the semi-public key, and returns it with the binding ID. The first call of a
// binding has no binding ID and creates a pending binding; the second, from the partner's side
// with the roles of subject and partner swapped, completes it: the authority then signs the two
// binding records and ledgers the L7 establishment.
func (a *Authority) GenerateKeys(ctx context.Context, req GenerateKeysRequest) (*GenerateKeysResponse, error) {
	if err := req.AccessData.Validate(); err != nil {
		return nil, errf(CodeBadRequest, "access_data: %v", err)
	}
	if err := req.PartnerAccessData.Validate(); err != nil {
		return nil, errf(CodeBadRequest, "partner_access_data: %v", err)
	}
	if req.AccessData.DeviceID == req.PartnerAccessData.DeviceID {
		return nil, errf(CodeBadRequest, "an entity cannot bind to itself")
	}
	role, err := ParseRole(req.Role)
	if err != nil {
		return nil, err
	}
	gen := a.opt.KeyGenerators[role]
	if gen == nil {
		return nil, errf(CodeNoKeyGenerator, "no key generator for role %s", role)
	}
	var id []byte
	second := req.BindingID != ""
	if second {
		if id, err = parseID(req.BindingID); err != nil {
			return nil, err
		}
	} else if id, err = a.newID(); err != nil {
		return nil, err
	}
	// Check before asking the device (a module spends seconds on a key), and again after.
	check := func(tx *bolt.Tx) (*bindingRecord, error) {
		if !second {
			var clash *bindingRecord
			err := forEachBinding(tx, func(b *bindingRecord) error {
				if b.Status != StatusRevoked && b.joins(req.AccessData.DeviceID, req.PartnerAccessData.DeviceID) {
					clash = b
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			if clash != nil {
				return nil, errf(CodeBindingExists, "binding %s (%s) joins %s and %s; revoke it first",
					message.FormatUUID(clash.ID), clash.Status, req.AccessData.DeviceID, req.PartnerAccessData.DeviceID)
			}
			return nil, nil
		}
		b, err := loadBinding(tx, id)
		if err != nil {
			return nil, err
		}
		switch {
		case b.Status == StatusRevoked:
			return nil, errf(CodeBindingRevoked, "binding %s is revoked", req.BindingID)
		case b.Status != StatusPending:
			return nil, errf(CodeConflict, "binding %s is already %s", req.BindingID, b.Status)
		case b.Parties[1].Access != req.AccessData || b.Parties[0].Access != req.PartnerAccessData:
			return nil, errf(CodeBindingMismatch, "binding %s joins %s and %s with other access data",
				req.BindingID, b.Parties[0].Access.DeviceID, b.Parties[1].Access.DeviceID)
		}
		return b, nil
	}
	if err := a.db.View(func(tx *bolt.Tx) error { _, err := check(tx); return err }); err != nil {
		return nil, asError(err)
	}

	dctx, cancel := context.WithTimeout(ctx, a.opt.DeviceTimeout)
	pub, err := gen.GenerateKeys(dctx, KeyRequest{Subject: req.AccessData, Partner: req.PartnerAccessData, BindingID: id})
	cancel()
	if err != nil {
		return nil, &Error{Code: CodeDeviceFailed, Message: "device " + req.AccessData.DeviceID + ": " + err.Error(), Err: err}
	}
	if pub == nil {
		return nil, errf(CodeDeviceFailed, "device %s returned no key", req.AccessData.DeviceID)
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	err = a.db.Update(func(tx *bolt.Tx) error {
		b, err := check(tx)
		if err != nil {
			return err
		}
		side := 0
		if b == nil {
			b = &bindingRecord{ID: id, Status: StatusPending}
			b.Parties[0] = partyRecord{Access: req.AccessData}
			b.Parties[1] = partyRecord{Access: req.PartnerAccessData}
		} else {
			side = 1
			if suite.KeyID(pub.Bytes()) == b.Parties[0].KID {
				return errf(CodeDeviceFailed, "device %s returned its partner's key", req.AccessData.DeviceID)
			}
		}
		b.Parties[side].Role = role
		b.Parties[side].Key = pub.Bytes()
		b.Parties[side].KID = pub.KID()
		if _, err := appendEntry(tx, now.UnixMilli(), KindBindingKey, id, map[string]string{
			"entity": req.AccessData.DeviceID, "role": role.String(), "partner": req.PartnerAccessData.DeviceID,
			"kid": kidHex(pub.KID()), "key_sha256": keyDigest(pub.Bytes()),
		}); err != nil {
			return err
		}
		if side == 1 {
			if err := a.establish(tx, b, now); err != nil {
				return err
			}
		}
		return putJSON(tx.Bucket(bucketBindings), id, b)
	})
	if err != nil {
		return nil, asError(err)
	}
	a.log.Info("binding key recorded", "binding", message.FormatUUID(id), "entity", req.AccessData.DeviceID, "role", role.String(), "kid", kidHex(pub.KID()))
	return &GenerateKeysResponse{SemiPublicKey: base64.StdEncoding.EncodeToString(pub.Bytes()), BindingID: message.FormatUUID(id)}, nil
}

// establish signs both binding records, ledgers the establishment and signs the L7 statement.
func (a *Authority) establish(tx *bolt.Tx, b *bindingRecord, now time.Time) error {
	b.Status = StatusActive
	b.NotBefore = now.Unix()
	b.Expires = now.Add(a.opt.BindingValidity).Unix()
	for i := range 2 {
		p, q := b.Parties[i], b.Parties[1-i]
		pub, err := suite.ParsePublicKey(p.Key)
		if err != nil {
			return internal("stored key", err)
		}
		claims := &message.BindingClaims{V: message.Version1, Issuer: a.opt.Issuer, Subject: p.Access.DeviceID,
			Audience: q.Access.DeviceID, Expires: b.Expires, NotBefore: b.NotBefore, IssuedAt: now.Unix(),
			BindingID: b.ID, Cnf: message.Confirmation{Key: message.KeyToCOSE(pub)}, Role: p.Role, Access: p.Access}
		cert, err := message.IssueBindingCertificate(a.key, claims, nil)
		if err != nil {
			return internal("sign binding record", err)
		}
		b.Certificates[i] = cert
	}
	e, err := appendEntry(tx, now.UnixMilli(), KindBindingEstablished, b.ID, map[string]string{
		"entity_a": b.Parties[0].Access.DeviceID, "entity_b": b.Parties[1].Access.DeviceID,
		"kid_a": kidHex(b.Parties[0].KID), "kid_b": kidHex(b.Parties[1].KID),
		"role_a": b.Parties[0].Role.String(), "role_b": b.Parties[1].Role.String(),
		"expires": time.Unix(b.Expires, 0).UTC().Format(time.RFC3339),
	})
	if err != nil {
		return err
	}
	v, err := a.signL7(b, message.BindingEstablished, e, now, nil)
	if err != nil {
		return err
	}
	b.Establishment = v
	return nil
}

func (a *Authority) signL7(b *bindingRecord, kind message.BindingValidationKind, e *Entry, now time.Time, reason *message.Reason) (*validation, error) {
	m := &message.BindingValidation{V: message.Version1, Kind: kind, BindingID: b.ID,
		Entities: []string{b.Parties[0].Access.DeviceID, b.Parties[1].Access.DeviceID},
		KIDs:     []uint16{b.Parties[0].KID, b.Parties[1].KID}, BlockchainProof: e.Hash, IssuedAt: now.Unix(), Reason: reason}
	signed, err := message.SignBindingValidation(a.key, m, nil)
	if err != nil {
		return nil, internal("sign L7", err)
	}
	return &validation{Signed: signed, Proof: e.Hash, Index: e.Index}, nil
}

func (v *validation) l7() *L7 {
	if v == nil {
		return nil
	}
	return &L7{BindingValidation: base64.StdEncoding.EncodeToString(v.Signed), BlockchainProof: hex.EncodeToString(v.Proof), LedgerIndex: v.Index}
}

func (v *validation) l6() *L6 {
	return &L6{PairingValidation: base64.StdEncoding.EncodeToString(v.Signed), BlockchainProof: hex.EncodeToString(v.Proof), LedgerIndex: v.Index}
}

// Binding serves GET /api/binding/{id}: status and parties, no keys.
func (a *Authority) Binding(idText string) (*BindingInfo, error) {
	id, err := parseID(idText)
	if err != nil {
		return nil, err
	}
	var b *bindingRecord
	if err := a.db.View(func(tx *bolt.Tx) error { b, err = loadBinding(tx, id); return err }); err != nil {
		return nil, asError(err)
	}
	info := &BindingInfo{BindingID: message.FormatUUID(b.ID), Status: b.Status,
		Establishment: b.Establishment.l7(), Revocation: b.Revocation.l7()}
	for i, p := range b.Parties {
		info.Parties[i] = BindingParty{EntityID: p.Access.DeviceID, AccessData: p.Access}
		if p.Role != 0 {
			info.Parties[i].Role = p.Role.String()
		}
		if p.Key != nil {
			info.Parties[i].KID = kidHex(p.KID)
		}
	}
	if b.NotBefore != 0 {
		info.NotBefore = rfc3339(b.NotBefore)
		info.Expires = rfc3339(b.Expires)
	}
	return info, nil
}

// keyDigest is what the ledger keeps of a semi-public key: the ledger is readable by anyone who
// can reach the API, and the key itself goes to bound partners only.
func keyDigest(sec1 []byte) string {
	h := sha256.Sum256(sec1)
	return hex.EncodeToString(h[:])
}

func rfc3339(unix int64) string { return time.Unix(unix, 0).UTC().Format(time.RFC3339) }

// PartnerKey serves GET /api/binding/{id}/partner-key?entity=E: the partner's semi-public key
// and binding record, only to a party of an active binding. proof is the Web4-Proof header
// (empty when absent; see Options.RequireProof).
func (a *Authority) PartnerKey(idText, entity, proof string) (*PartnerKeyResponse, error) {
	id, err := parseID(idText)
	if err != nil {
		return nil, err
	}
	if entity == "" {
		return nil, errf(CodeBadRequest, "no entity")
	}
	var b *bindingRecord
	if err := a.db.View(func(tx *bolt.Tx) error { b, err = loadBinding(tx, id); return err }); err != nil {
		return nil, asError(err)
	}
	i := b.party(entity)
	switch {
	case i < 0:
		return nil, errf(CodeNotAParty, "%q is not a party of binding %s", entity, idText)
	case b.Status == StatusRevoked:
		return nil, errf(CodeBindingRevoked, "binding %s is revoked", idText)
	case b.Status != StatusActive:
		return nil, errf(CodeBindingIncomplete, "binding %s is %s", idText, b.Status)
	}
	if err := a.proofFor(b, i, OpPartnerKey, proof); err != nil {
		return nil, err
	}
	p := b.Parties[1-i]
	return &PartnerKeyResponse{BindingID: message.FormatUUID(b.ID), Partner: p.Access.DeviceID, PartnerRole: p.Role.String(),
		PartnerAccessData: p.Access, SemiPublicKey: base64.StdEncoding.EncodeToString(p.Key), KID: kidHex(p.KID),
		BindingCertificate: base64.StdEncoding.EncodeToString(b.Certificates[1-i])}, nil
}

// VerifyBinding serves POST /api/binding/{id}/verify: the L7 verification. It walks the whole
// ledger, checks the establishment entry is the one the binding names, and ledgers the
// verification.
func (a *Authority) VerifyBinding(idText string) (*L7, error) {
	id, err := parseID(idText)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	var out *validation
	err = a.db.Update(func(tx *bolt.Tx) error {
		b, err := loadBinding(tx, id)
		if err != nil {
			return err
		}
		switch b.Status {
		case StatusRevoked:
			return errf(CodeBindingRevoked, "binding %s is revoked", idText)
		case StatusPending:
			return errf(CodeBindingIncomplete, "binding %s is pending", idText)
		}
		if _, _, err := verifyTx(tx); err != nil {
			return internal("ledger does not verify", err)
		}
		est, err := readEntry(tx, b.Establishment.Index)
		if err != nil || est == nil || est.Kind != KindBindingEstablished || string(est.Hash) != string(b.Establishment.Proof) {
			return internal("establishment entry missing from the ledger", err)
		}
		if now.Unix() > b.Expires {
			return errf(CodeConflict, "binding %s expired at %s", idText, rfc3339(b.Expires))
		}
		e, err := appendEntry(tx, now.UnixMilli(), KindBindingVerified, b.ID, map[string]string{
			"establishment": hex.EncodeToString(est.Hash)})
		if err != nil {
			return err
		}
		out, err = a.signL7(b, message.BindingVerified, e, now, nil)
		return err
	})
	if err != nil {
		return nil, asError(err)
	}
	return out.l7(), nil
}

// RevokeBinding serves POST /api/binding/{id}/revoke (L7 revocation). Every pairing of the
// revoked bindings is invalidated: refused by pairing ID from then on. With reason key_loss the
// entity that lost its key must be named, and every binding of that entity is revoked.
func (a *Authority) RevokeBinding(idText string, req RevokeBindingRequest) (*RevokeBindingResponse, error) {
	id, err := parseID(idText)
	if err != nil {
		return nil, err
	}
	reason, err := ParseReason(req.Reason)
	if err != nil {
		return nil, err
	}
	if reason == message.ReasonKeyLoss && req.Entity == "" {
		return nil, errf(CodeBadRequest, "key_loss names the entity that lost its key")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	resp := &RevokeBindingResponse{RevokedBindings: []string{}, InvalidatedPairings: []string{}}
	err = a.db.Update(func(tx *bolt.Tx) error {
		b, err := loadBinding(tx, id)
		if err != nil {
			return err
		}
		if req.Entity != "" && b.party(req.Entity) < 0 {
			return errf(CodeNotAParty, "%q is not a party of binding %s", req.Entity, idText)
		}
		if b.Status == StatusRevoked {
			return errf(CodeBindingRevoked, "binding %s is already revoked", idText)
		}
		targets := []*bindingRecord{b}
		if reason == message.ReasonKeyLoss {
			err := forEachBinding(tx, func(o *bindingRecord) error {
				if o.Status != StatusRevoked && string(o.ID) != string(id) && o.party(req.Entity) >= 0 {
					targets = append(targets, o)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		for _, t := range targets {
			e, err := appendEntry(tx, now.UnixMilli(), KindBindingRevoked, t.ID, map[string]string{
				"reason": req.Reason, "entity": req.Entity, "requested": message.FormatUUID(id)})
			if err != nil {
				return err
			}
			t.Status = StatusRevoked
			if t.Parties[0].Key != nil && t.Parties[1].Key != nil {
				if t.Revocation, err = a.signL7(t, message.BindingRevoked, e, now, &reason); err != nil {
					return err
				}
			} else {
				// A pending binding has no pair of KIDs for an L7 statement; the ledger entry stands.
				t.Revocation = &validation{Proof: e.Hash, Index: e.Index}
			}
			if err := putJSON(tx.Bucket(bucketBindings), t.ID, t); err != nil {
				return err
			}
			resp.RevokedBindings = append(resp.RevokedBindings, message.FormatUUID(t.ID))
			ids, err := a.invalidatePairings(tx, t.ID, now, message.FormatUUID(t.ID))
			if err != nil {
				return err
			}
			resp.InvalidatedPairings = append(resp.InvalidatedPairings, ids...)
		}
		if b.Revocation != nil && b.Revocation.Signed != nil {
			resp.L7 = *b.Revocation.l7()
		} else {
			resp.L7 = L7{BlockchainProof: hex.EncodeToString(b.Revocation.Proof), LedgerIndex: b.Revocation.Index}
		}
		return nil
	})
	if err != nil {
		return nil, asError(err)
	}
	a.log.Warn("binding revoked", "binding", idText, "reason", req.Reason, "bindings", len(resp.RevokedBindings), "pairings", len(resp.InvalidatedPairings))
	return resp, nil
}
