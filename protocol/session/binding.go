package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// peerFromAccess finds the link a partner's access data names: by entity ID, else by the CAN
// address in its endpoint ("0x40"), else (the app, reached over HTTP) by its role's address.
func (e *Engine) peerFromAccess(a message.AccessData, role message.Role) (Peer, error) {
	for _, l := range e.links {
		if l.peer.EntityID == a.DeviceID {
			return l.peer, nil
		}
	}
	p := Peer{EntityID: a.DeviceID, Role: role}
	if a.Type == "can" {
		v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(a.Endpoint), "0x"), 16, 8)
		if err != nil {
			return Peer{}, fmt.Errorf("%w: endpoint %q of %s", ErrUnknownPeer, a.Endpoint, a.DeviceID)
		}
		p.Addr = uint8(v)
		return p, nil
	}
	if role == message.RoleApp || a.Type == "http" {
		p.Addr, p.Role = canid.AddrApp, message.RoleApp
		return p, nil
	}
	return Peer{}, fmt.Errorf("%w: %s", ErrUnknownPeer, a.DeviceID)
}

// generateKey makes a new binding key pair for a partner, replacing whatever the link held: a
// new binding invalidates the old one and every pairing of it. Loop only.
func (e *Engine) generateKey(partner message.AccessData) (*link, error) {
	p, err := e.peerFromAccess(partner, 0)
	if err != nil {
		return nil, err
	}
	l, err := e.ensureLink(p)
	if err != nil {
		return nil, err
	}
	e.charge(suite.OpKeyGen, 1)
	k, err := suite.GenerateKey(e.cfg.Rand)
	if err != nil {
		return nil, fmt.Errorf("session: key generation: %w", err)
	}
	e.dropBinding(l)
	l.key, l.lostKID = k, nil
	pa := partner
	l.partner = &pa
	scalar := k.Bytes()
	err = e.cfg.Store.Put(recName("key", l.peer.Addr), scalar)
	suite.Erase(scalar)
	if err != nil {
		return nil, fmt.Errorf("session: store key: %w", err)
	}
	if err := e.saveBinding(l); err != nil {
		return nil, err
	}
	e.emit(EventKeyGenerated{peerOf{l.peer.Addr}, k.Public().KID()})
	return l, nil
}

// GenerateKey makes the node's binding key pair for a partner (the app's own generate-keys
// endpoint) and returns the public half.
func (e *Engine) GenerateKey(ctx context.Context, partner message.AccessData) (*suite.PublicKey, error) {
	var pub *suite.PublicKey
	err := e.do(ctx, func() error {
		l, err := e.generateKey(partner)
		if err == nil {
			pub = l.key.Public()
		}
		return err
	})
	return pub, err
}

// InstallBinding verifies a partner's binding record (a binding certificate whose audience is
// this node) and computes and stores the binding secret. The app calls it with the record the
// authority gave it; devices get theirs over the bus.
func (e *Engine) InstallBinding(ctx context.Context, cert []byte) error {
	return e.do(ctx, func() error { return e.installBinding(cert) })
}

func (e *Engine) installBinding(cert []byte) error {
	if e.cfg.Authority == nil {
		return e.reject(0, CauseBinding, errors.New("no authority key configured"))
	}
	kid, payload, err := suite.PeekSign1(cert)
	if err != nil {
		return e.reject(0, CauseMalformed, err)
	}
	_ = kid
	claims, err := message.DecodeBindingClaims(payload)
	if err != nil {
		return e.reject(0, CauseMalformed, err)
	}
	p, err := e.peerFromAccess(claims.Access, claims.Role)
	if err != nil {
		return e.reject(0, CauseBinding, err)
	}
	l := e.links[p.Addr]
	if l == nil || l.key == nil {
		return e.reject(p.Addr, CauseBinding, fmt.Errorf("%w: no key made for %s", ErrNotBound, claims.Subject))
	}
	e.charge(suite.OpVerify, 1)
	_, pub, err := message.VerifyBindingCertificate(cert, e.cfg.Authority, message.BindingExpect{
		Issuer: "", Subject: claims.Subject, Audience: e.cfg.Identity.EntityID}, e.clk.Now())
	if err != nil {
		return e.reject(p.Addr, CauseBinding, err)
	}
	if l.partner != nil && l.partner.DeviceID != claims.Subject {
		return e.reject(p.Addr, CauseBinding, fmt.Errorf("record for %s, key made for %s", claims.Subject, l.partner.DeviceID))
	}
	if l.bound && bytes.Equal(l.bindingID, claims.BindingID) && l.partnerKey.Equal(pub) {
		e.emit(EventBound{peerOf{l.peer.Addr}, l.peer.EntityID, l.bindingID, l.key.Public().KID(), pub.KID()})
		return nil // delivered twice
	}
	e.charge(suite.OpECDH, 1)
	e.charge(suite.OpHKDF, 2)
	secret, err := suite.BindingSecret(l.key, pub)
	if err != nil {
		return e.reject(p.Addr, CauseBinding, err)
	}
	defer suite.Erase(secret)
	e.dropPairings(l)
	l.peer.EntityID, l.peer.Role = claims.Subject, claims.Role
	if err := e.setBinding(l, claims.BindingID, pub, secret); err != nil {
		return err
	}
	l.partner = nil
	if err := e.saveBinding(l); err != nil {
		return err
	}
	e.emit(EventBound{peerOf{l.peer.Addr}, l.peer.EntityID, l.bindingID, l.key.Public().KID(), pub.KID()})
	return nil
}

// dropBinding forgets a link's binding and pairings (re-binding, revocation).
func (e *Engine) dropBinding(l *link) {
	e.dropPairings(l)
	if l.bound {
		_ = e.cfg.Store.Delete(ctrName("bind", l.peer.Addr, l.bindingID))
		_ = e.cfg.Store.Delete(rxName(l.peer.Addr, l.bindingID))
	}
	suite.Erase(l.secretCopy)
	l.bound, l.bindingID, l.partnerKey, l.bindCh, l.bindCtr, l.bindWin, l.secretCopy = false, nil, nil, nil, nil, nil, nil
}

// dropPairings forgets the link's pairings; their IDs are refused from now on.
func (e *Engine) dropPairings(l *link) {
	for _, p := range []*pairing{l.pair, l.old} {
		if p == nil {
			continue
		}
		l.addRevoked(p.id)
		for _, k := range []string{"pair", "tel", "short"} {
			_ = e.cfg.Store.Delete(ctrName(k, l.peer.Addr, p.id))
		}
		p.erase()
	}
	if l.pend != nil {
		l.addRevoked(l.pend.opened.Metadata.PairingID)
		l.pend.opened.EraseExchange()
	}
	l.pair, l.old, l.pend, l.comp = nil, nil, nil, nil
	_ = e.cfg.Store.Delete(recName("pairing", l.peer.Addr))
}

// RevokeBinding drops the binding with this ID and every pairing of it (an L7 revocation the
// layer above verified, or routed here from the other bus).
func (e *Engine) RevokeBinding(ctx context.Context, bindingID []byte) error {
	return e.do(ctx, func() error { return e.revokeBinding(bindingID) })
}

func (e *Engine) revokeBinding(bindingID []byte) error {
	for _, l := range e.links {
		if l.bound && bytes.Equal(l.bindingID, bindingID) {
			e.dropBinding(l)
			if err := e.saveBinding(l); err != nil {
				return err
			}
			e.emit(EventBindingRevoked{peerOf{l.peer.Addr}, bindingID})
			return nil
		}
	}
	return fmt.Errorf("%w: binding %s", ErrUnknownPeer, message.FormatUUID(bindingID))
}

// holdsBinding reports whether one of the engine's links is bound under bindingID.
func (e *Engine) holdsBinding(bindingID []byte) bool {
	for _, l := range e.links {
		if l.bound && bytes.Equal(l.bindingID, bindingID) {
			return true
		}
	}
	return false
}

// ApplyBindingValidation verifies an L7 statement signed by the authority (COSE_Sign1) about
// one of this engine's bindings and, for a revocation, drops the binding. It reports whether
// it applied; a statement about a binding the engine does not hold is neither verified nor
// applied.
func (e *Engine) ApplyBindingValidation(ctx context.Context, signed []byte) (bool, error) {
	applied := false
	err := e.do(ctx, func() error {
		var err error
		applied, err = e.applyL7(signed)
		return err
	})
	return applied, err
}

func (e *Engine) applyL7(signed []byte) (bool, error) {
	if e.cfg.Authority == nil {
		return false, errors.New("session: no authority key configured")
	}
	_, payload, err := suite.PeekSign1(signed)
	if err != nil {
		return false, err
	}
	bv, err := message.DecodeBindingValidation(payload)
	if err != nil {
		return false, err
	}
	if !e.holdsBinding(bv.BindingID) {
		// Not this engine's binding: it does not concern this node, and verifying it here too
		// would charge a signature check on the MCU for nothing (a pack hands such a record to
		// its other bus's engine, which holds the binding and verifies it once).
		return false, nil
	}
	e.charge(suite.OpVerify, 1)
	bv, err = message.VerifyBindingValidation(e.cfg.Authority, signed, bv.BindingID, e.clk.Now())
	if err != nil {
		return false, err
	}
	if bv.Kind != message.BindingRevoked {
		return false, nil
	}
	if err := e.revokeBinding(bv.BindingID); err != nil {
		return false, nil
	}
	return true, nil
}

// LoseKeys simulates the loss of the node's binding keys (a wiped or damaged key store): every
// link forgets its key, binding and pairings and remembers the lost KID, which Announce
// reports in a key-loss announce.
func (e *Engine) LoseKeys(ctx context.Context) error {
	return e.do(ctx, func() error {
		for _, l := range e.links {
			if l.key == nil {
				continue
			}
			kid := l.key.Public().KID()
			e.dropBinding(l)
			l.key, l.lostKID, l.partner = nil, &kid, nil
			_ = e.cfg.Store.Delete(recName("key", l.peer.Addr))
			if err := e.saveBinding(l); err != nil {
				return err
			}
		}
		return nil
	})
}

// ApplyPairingValidation verifies an L6 statement signed by the authority and applies it to the
// pairing it names, if this engine holds it: a revocation drops the pairing (its ID is refused
// from then on), a modification takes the new expiry and policy. It reports whether it applied.
func (e *Engine) ApplyPairingValidation(ctx context.Context, signed []byte) (bool, error) {
	applied := false
	err := e.do(ctx, func() error {
		var err error
		applied, err = e.applyL6(signed)
		return err
	})
	return applied, err
}

func (e *Engine) applyL6(signed []byte) (bool, error) {
	if e.cfg.Authority == nil {
		return false, errors.New("session: no authority key configured")
	}
	_, payload, err := suite.PeekSign1(signed)
	if err != nil {
		return false, err
	}
	pv, err := message.DecodePairingValidation(payload)
	if err != nil {
		return false, err
	}
	var l *link
	for _, c := range e.links {
		if c.pair != nil && bytes.Equal(c.pair.id, pv.PairingID) {
			l = c
		}
	}
	if l == nil {
		return false, nil
	}
	e.charge(suite.OpVerify, 1)
	if pv, err = message.VerifyPairingValidation(e.cfg.Authority, signed, pv.PairingID, e.clk.Now()); err != nil {
		return false, err
	}
	switch pv.Kind {
	case message.PairingRevoked:
		e.dropPairings(l)
		if err := e.saveBinding(l); err != nil {
			return false, err
		}
		e.emit(EventPairingRevoked{peerOf{l.peer.Addr}, pv.PairingID})
		return true, nil
	case message.PairingModified:
		if pv.ExpiresAt != 0 {
			l.pair.expires = pv.ExpiresAt
		}
		if pv.Policy != nil {
			l.pair.policy = pv.Policy
		}
		return true, e.savePairing(l, l.pair)
	}
	return false, nil
}
