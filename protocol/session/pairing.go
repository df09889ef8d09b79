package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// InstallPairing opens a pairing certificate addressed to this node (the app's own, from the
// authority) and starts the key-half exchange with the peer it names.
func (e *Engine) InstallPairing(ctx context.Context, cert []byte) error {
	return e.do(ctx, func() error { return e.startPairing(0, cert) })
}

// certLink finds the link whose own key is an entity of the certificate.
func (e *Engine) certLink(cert []byte) (*link, *message.PairingMetadata, error) {
	c, err := message.DecodePairingCertificate(cert)
	if err != nil {
		return nil, nil, err
	}
	_, payload, err := suite.PeekSign1(c.Metadata)
	if err != nil {
		return nil, nil, err
	}
	md, err := message.DecodePairingMetadata(payload)
	if err != nil {
		return nil, nil, err
	}
	if len(md.Entities) != 2 {
		return nil, nil, fmt.Errorf("%w: %d entities", message.ErrInvalid, len(md.Entities))
	}
	for _, l := range e.links {
		if l.key == nil {
			continue
		}
		kid := l.key.Public().KID()
		for i, ent := range md.Entities {
			if ent.KID == kid && md.Entities[1-i].ID == l.peer.EntityID {
				return l, md, nil
			}
		}
	}
	return nil, md, fmt.Errorf("%w: no binding key of this node is an entity of pairing %s", message.ErrEntity, message.FormatUUID(md.PairingID))
}

// startPairing opens a certificate (received from hop, 0 for a local install) and sends the
// node's key half.
func (e *Engine) startPairing(hop uint8, cert []byte) error {
	refuse := func(peer uint8, id []byte, c Cause, err error) error {
		err = fmt.Errorf("%w: %w", ErrPairingRefuse, err)
		e.emit(EventPairingRefused{peerOf{peer}, id, err})
		return e.reject(peer, c, err)
	}
	l, md, err := e.certLink(cert)
	if err != nil {
		var id []byte
		if md != nil {
			id = md.PairingID
		}
		return refuse(hop, id, CausePairing, err)
	}
	peer := l.peer.Addr
	switch {
	case l.revoked(md.PairingID):
		return refuse(peer, md.PairingID, CausePairing, fmt.Errorf("%w: pairing %s", ErrRevoked, message.FormatUUID(md.PairingID)))
	case !l.bound:
		return refuse(peer, md.PairingID, CausePairing, ErrNotBound)
	case l.pair != nil && bytes.Equal(l.pair.id, md.PairingID):
		// Delivered again: whoever drives the pairing lost one of our handshake messages.
		return e.resendHandshake(l, l.pair)
	case l.pend != nil && bytes.Equal(l.pend.opened.Metadata.PairingID, md.PairingID):
		e.count(func(s *Stats) { s.Retransmits++ })
		e.send(l.pend.half, nil)
		return nil
	}
	e.charge(suite.OpVerify, 1)
	e.charge(suite.OpOpenCOSE, 1)
	o, err := message.OpenPairingCertificate(cert, message.PairingExpect{Authority: e.cfg.Authority, Self: l.key}, e.clk.Now())
	if err != nil {
		return refuse(peer, md.PairingID, CausePairing, err)
	}
	if pe := o.Peer(); pe.KID != l.partnerKey.KID() || pe.Addr != peer {
		o.EraseExchange()
		return refuse(peer, md.PairingID, CausePairing, fmt.Errorf("%w: peer entity kid %04x addr %#02x, bound partner kid %04x addr %#02x",
			message.ErrEntity, pe.KID, pe.Addr, l.partnerKey.KID(), peer))
	}
	if l.pend != nil {
		l.addRevoked(l.pend.opened.Metadata.PairingID)
		l.pend.opened.EraseExchange()
	}
	l.pend = &pending{opened: o, deadline: e.clk.Now().Add(e.cfg.PairingTimeout)}
	e.emit(EventPairingStarted{peerOf{peer}, md.PairingID, md.Context})
	id := canid.New(canid.TypeKeyHalf, true, canid.LevelExchange, peer, e.cfg.Identity.Addr)
	e.charge(suite.OpHKDF, 1)
	e.charge(suite.OpAEADBlock, suite.AEADBlocks(60, 4+3+32))
	env, err := o.SealKeyHalf(id, 0)
	if err != nil {
		return err
	}
	l.pend.half = msgOf(id, env)
	e.send(l.pend.half, nil)
	if b := l.buffered; b != nil {
		// A half that came first; one of another pairing is refused (and counted) there, which
		// does not make this pairing fail.
		l.buffered = nil
		_ = e.onKeyHalf(l, b.id, b.env)
	}
	return nil
}

// resendHandshake answers a certificate delivered again for a pairing this node has
// established: it sends its key half again and, if it made one, its completion (a collector
// reports the completion it collected again, for whoever relays it to the authority).
// Nothing is signed or derived again; the pairing keys do not change.
func (e *Engine) resendHandshake(l *link, p *pairing) error {
	e.count(func(s *Stats) { s.Retransmits++ })
	if p.half.Data != nil {
		e.send(p.half, nil)
	}
	if p.comp == nil {
		return nil
	}
	if e.collector(l) {
		e.emit(EventCompletion{peerOf{l.peer.Addr}, p.id, p.comp, false})
		return nil
	}
	return e.sendProtected(l, l.peer.Addr, e.cfg.Identity.Addr, canid.TypeCompletion, p.comp, nil)
}

// duplicateHalf reports whether env is the peer's key half of the established pairing, sent
// again because the peer lost a message of ours.
func duplicateHalf(p *pairing, env []byte) bool {
	if p == nil || p.half.Data == nil {
		return false
	}
	h, err := suite.ParseEnvelope(env)
	return err == nil && h.KID == p.xKID
}

// onKeyHalf handles the peer's key half: with both halves in, the handshake section opens, the
// pairing keys are derived and the exchange key erased.
func (e *Engine) onKeyHalf(l *link, id canid.ID, env []byte) error {
	peer := l.peer.Addr
	if duplicateHalf(l.pair, env) {
		e.count(func(s *Stats) { s.Duplicates++ })
		return nil
	}
	if l.pend == nil {
		if l.buffered == nil {
			l.buffered = &bufferedHalf{id: id, env: append([]byte(nil), env...)}
		}
		return nil
	}
	o := l.pend.opened
	pid := o.Metadata.PairingID
	e.charge(suite.OpHKDF, 1)
	e.charge(suite.OpAEADBlock, suite.AEADBlocks(60, 4+3+32))
	half, err := o.OpenKeyHalf(id, env)
	if err != nil {
		c := CausePairing
		if errors.Is(err, message.ErrDecrypt) || errors.Is(err, message.ErrWrongKey) {
			c = CauseAuth
			if o2 := l.buffered; o2 == nil {
				// A key half of another (newer or older) pairing: keep it in case its certificate follows.
				l.buffered = &bufferedHalf{id: id, env: append([]byte(nil), env...)}
			}
		}
		e.emit(EventPairingRefused{peerOf{peer}, pid, err})
		return e.reject(peer, c, err)
	}
	e.charge(suite.OpHKDF, 1)
	e.charge(suite.OpAEADBlock, suite.AEADBlocks(74, 40))
	nonce, err := o.OpenHandshake(half)
	if err != nil {
		e.emit(EventPairingRefused{peerOf{peer}, pid, err})
		return e.reject(peer, CausePairing, err)
	}
	e.charge(suite.OpHKDF, 3)
	keys := o.PairingKeys(l.secretCopy, half)
	suite.Erase(half)
	pr := &pairingRecord{PairingID: pid, Context: o.Metadata.Context, Index: o.Index(), Key: keys.Key[:],
		Policy: o.Metadata.Policy, Expires: o.Metadata.Timing.ExpiresAt, PeerKID: o.Peer().KID}
	p, err := e.newPairing(l, pr, false)
	keys.Erase()
	if err != nil {
		return err
	}
	p.nonce, p.mdHash = nonce, o.MetadataHash
	p.half = l.pend.half
	if h, err := suite.ParseEnvelope(p.half.Data); err == nil {
		p.xKID = h.KID // both directions share the exchange channel, and so its KID
	}
	o.EraseExchange()
	l.pend = nil
	if l.pair != nil {
		// Renewal (R2): the old keys stay acceptable until a message under the new KID verifies.
		e.retire(l, l.old)
		l.old = l.pair
	}
	l.pair = p
	if err := e.savePairing(l, p); err != nil {
		return err
	}
	e.count(func(s *Stats) { s.Pairings++ })
	e.emit(EventPaired{peerOf{peer}, pid, p.context, p.keys.KID})
	return e.afterHandshake(l, p)
}

// afterHandshake makes this node's completion proof: a module MACs and sends to its partner;
// the collector (the entity nearer the authority: app, then pack) waits for the peer's proof
// and adds its signature; any other entity signs and sends to its partner.
func (e *Engine) afterHandshake(l *link, p *pairing) error {
	now := e.clk.Now()
	comp := &message.Completion{V: message.Version1, PairingID: p.id, ValidationNonce: p.nonce,
		MetadataHash: p.mdHash, CompletedAt: now.Unix()}
	own := uint8(p.index)
	if e.collector(l) {
		if c := l.comp; c != nil && bytes.Equal(c.PairingID, p.id) {
			l.comp = nil
			return e.onCompletion(l, c, false)
		}
		return nil
	}
	if e.cfg.Identity.Role == message.RoleModule {
		e.charge(suite.OpHKDF, 1)
		tbs, _ := comp.ToBeSigned()
		e.charge(suite.OpHashBlock, suite.HashBlocks(len(tbs)))
		if err := comp.MACProof(own, message.CompletionMACKey(&p.keys, p.id), p.keys.KID); err != nil {
			return err
		}
	} else {
		e.charge(suite.OpSign, 1)
		if err := comp.SignProof(own, l.key, e.cfg.Rand); err != nil {
			return err
		}
	}
	b, err := comp.Encode()
	if err != nil {
		return err
	}
	p.completed = true
	p.comp = b
	_ = e.savePairing(l, p)
	return e.sendProtected(l, l.peer.Addr, e.cfg.Identity.Addr, canid.TypeCompletion, b, nil)
}

// collector reports whether this node gathers the pairing's proofs for the authority.
func (e *Engine) collector(l *link) bool {
	return e.cfg.Identity.Role != 0 && l.peer.Role != 0 && e.cfg.Identity.Role < l.peer.Role
}

// onCompletion handles a completion received from the peer at binding level.
func (e *Engine) onCompletion(l *link, c *message.Completion, _ bool) error {
	peer := l.peer.Addr
	p := l.pair
	if p == nil || !bytes.Equal(p.id, c.PairingID) {
		if l.pend != nil && bytes.Equal(l.pend.opened.Metadata.PairingID, c.PairingID) {
			l.comp = c // our side is not done yet
			return nil
		}
		// Not a pairing of this link: the peer relays it (the pack, for a module).
		b, err := c.Encode()
		if err != nil {
			return e.reject(peer, CauseMalformed, err)
		}
		e.emit(EventCompletion{peerOf{peer}, c.PairingID, b, true})
		return nil
	}
	if e.collector(l) && p.nonce == nil && p.comp != nil {
		e.count(func(s *Stats) { s.Duplicates++ }) // sent again: the first one was collected
		return nil
	}
	if !e.collector(l) || p.nonce == nil {
		return e.reject(peer, CauseUnexpected, fmt.Errorf("%w: completion for %s", ErrPairingState, message.FormatUUID(c.PairingID)))
	}
	want := message.CompletionExpect{PairingID: p.id, ValidationNonce: p.nonce, MetadataHash: p.mdHash}
	pi := 1 - p.index
	want.Required[pi] = true
	if l.peer.Role == message.RoleModule {
		e.charge(suite.OpHKDF, 1)
		want.MACKey = message.CompletionMACKey(&p.keys, p.id)
	} else {
		e.charge(suite.OpVerify, 1)
		want.Keys[pi] = l.partnerKey
	}
	if err := message.VerifyCompletion(c, want, e.clk.Now()); err != nil {
		e.emit(EventPairingRefused{peerOf{peer}, p.id, err})
		c := CausePairing
		if errors.Is(err, message.ErrMAC) || errors.Is(err, message.ErrSignature) {
			c = CauseAuth
		}
		return e.reject(peer, c, err)
	}
	e.charge(suite.OpSign, 1)
	if err := c.SignProof(uint8(p.index), l.key, e.cfg.Rand); err != nil {
		return err
	}
	b, err := c.Encode()
	if err != nil {
		return err
	}
	p.completed = true
	p.comp = b
	suite.Erase(p.nonce)
	p.nonce = nil
	_ = e.savePairing(l, p)
	e.emit(EventCompletion{peerOf{peer}, p.id, b, false})
	return nil
}

// pairingTimedOut discards a half-finished pairing (R5).
func (e *Engine) pairingTimedOut(l *link) {
	pid := l.pend.opened.Metadata.PairingID
	l.pend.opened.EraseExchange()
	suite.Erase(l.pend.opened.Section.KeyHalf)
	l.addRevoked(pid)
	l.pend = nil
	l.buffered = nil
	_ = e.saveBinding(l)
	e.count(func(s *Stats) { s.Timeouts++ })
	e.emit(EventPairingTimeout{peerOf{l.peer.Addr}, pid})
}

// retire erases a pairing that a renewal replaced; its ID is refused from now on.
func (e *Engine) retire(l *link, p *pairing) {
	if p == nil {
		return
	}
	l.addRevoked(p.id)
	for _, k := range []string{"pair", "tel", "short"} {
		_ = e.cfg.Store.Delete(ctrName(k, l.peer.Addr, p.id))
	}
	for src := range p.relayTx {
		_ = e.cfg.Store.Delete(ctrName(relayShortKind(src), l.peer.Addr, p.id))
	}
	p.erase()
	if l.old == p {
		l.old = nil
		_ = e.saveBinding(l)
		e.emit(EventRenewed{peerOf{l.peer.Addr}, p.id, l.pair.id})
	}
}

// oldFor returns the renewed-away pairing when an envelope names its key rather than the
// current one.
func oldFor(l *link, data []byte, kid func(*pairing) uint16) *pairing {
	if l.old == nil {
		return nil
	}
	env, err := suite.ParseEnvelope(data)
	if err != nil || env.KID != kid(l.old) || env.KID == kid(l.pair) {
		return nil
	}
	return l.old
}
