package session

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/freshness"
	"github.com/modbatt/hilrun/protocol/isotp"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// protection is what a message type must travel under (docs/protocol.md 3.4).
type protection uint8

const (
	protClear protection = iota
	protExchange
	protPairing
	protBinding
	protClearOrExchange
	protAny
)

func typeProtection(t canid.Type) protection {
	switch t {
	case canid.TypeEmergency, canid.TypeEmergencyAck, canid.TypeCommand, canid.TypeCommandAck,
		canid.TypePairedHandshake, canid.TypeFirmware:
		return protPairing
	case canid.TypeEscalation, canid.TypeWitness, canid.TypePairingValid, canid.TypeBindingValid,
		canid.TypeValidResult, canid.TypeCompletion, canid.TypePairingCert:
		return protBinding
	case canid.TypeKeyHalf, canid.TypeTelemetryShort:
		return protExchange
	case canid.TypeTelemetry:
		return protClearOrExchange
	case canid.TypeBulkAck:
		return protAny
	}
	return protClear
}

// checkLevel refuses an identifier whose protection bits are not what its type requires.
func checkLevel(id canid.ID) error {
	ok := false
	switch typeProtection(id.Type) {
	case protClear:
		ok = !id.Encrypted
	case protExchange:
		ok = id.Encrypted && id.Level == canid.LevelExchange
	case protPairing:
		ok = id.Encrypted && id.Level == canid.LevelPairing
	case protBinding:
		ok = id.Encrypted && id.Level == canid.LevelBinding
	case protClearOrExchange:
		ok = !id.Encrypted || id.Level == canid.LevelExchange
	case protAny:
		ok = true
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrWrongLevel, id)
	}
	return nil
}

func idOf(t canid.Type, dst, src uint8) canid.ID {
	switch typeProtection(t) {
	case protPairing:
		return canid.New(t, true, canid.LevelPairing, dst, src)
	case protBinding:
		return canid.New(t, true, canid.LevelBinding, dst, src)
	case protExchange:
		return canid.New(t, true, canid.LevelExchange, dst, src)
	}
	return canid.New(t, false, 0, dst, src)
}

func msgOf(id canid.ID, data []byte) isotp.Message { return isotp.Message{ID: id, Data: data} }

// open authenticates an envelope under ch and records its counter in win. Failures feed the
// escalation triggers.
func (e *Engine) open(l *link, ch *suite.Channel, win *freshness.Window, id canid.ID, data []byte) ([]byte, error) {
	peer := l.peer.Addr
	env, err := suite.ParseEnvelope(data)
	if err != nil {
		return nil, e.reject(peer, CauseMalformed, err)
	}
	e.charge(suite.OpAEADBlock, suite.AEADBlocks(len(env.Ciphertext), 4+len(env.Header)))
	ctr, pt, err := message.OpenEnvelope(ch, id, data)
	if err != nil {
		if errors.Is(err, message.ErrDecrypt) || errors.Is(err, message.ErrWrongKey) {
			e.authFailure(peer)
			return nil, e.reject(peer, CauseAuth, err)
		}
		return nil, e.reject(peer, CauseMalformed, err)
	}
	h, had := win.Highest()
	if err := win.Accept(ctr); err != nil {
		c := CauseReplay
		if errors.Is(err, freshness.ErrStale) {
			c = CauseStale
		}
		e.replaySeen(peer)
		return nil, e.reject(peer, c, err)
	}
	if had && ctr > h+uint64(win.Size()) {
		e.raise(peer, message.L4PairedHandshake, message.ReasonCounterGap, message.UrgencyNormal, 1)
	}
	return pt, nil
}

func (e *Engine) openBinding(l *link, id canid.ID, data []byte) ([]byte, error) {
	if !l.bound {
		return nil, e.reject(l.peer.Addr, CauseNotBound, ErrNotBound)
	}
	pt, err := e.open(l, l.bindCh, l.bindWin, id, data)
	if err == nil {
		if h, ok := l.bindWin.Highest(); ok {
			_ = e.cfg.Store.Put(rxName(l.peer.Addr, l.bindingID), binary.BigEndian.AppendUint64(nil, h))
		}
	}
	return pt, err
}

// openPairing opens a pairing-level envelope under the established pairing.
func (e *Engine) openPairing(l *link, id canid.ID, data []byte) (*pairing, []byte, error) {
	p := l.pair
	if p == nil {
		return nil, nil, e.reject(l.peer.Addr, CauseNotPaired, ErrNotPaired)
	}
	if !p.synced && id.Type != canid.TypePairedHandshake {
		e.startL4(l)
		return nil, nil, e.reject(l.peer.Addr, CauseUnsynced, ErrUnsynced)
	}
	if o := oldFor(l, data, func(p *pairing) uint16 { return p.keys.KID }); o != nil {
		pt, err := e.open(l, o.recv, o.recvWin, id, data)
		return o, pt, err
	}
	pt, err := e.open(l, p.recv, p.recvWin, id, data)
	if err == nil && l.old != nil {
		e.retire(l, l.old) // the first message under the new KID verified: the switch is done
	}
	return p, pt, err
}

// handleMessage acts on one reassembled message addressed to this node.
func (e *Engine) handleMessage(m isotp.Message) {
	id := m.ID
	src := id.Src
	if err := checkLevel(id); err != nil {
		e.reject(src, CauseWrongLevel, err)
		return
	}
	switch id.Type {
	case canid.TypeAnnounce:
		e.onAnnounce(src, m.Data)
		return
	case canid.TypeBindingXfer:
		e.onBindingXfer(m)
		return
	case canid.TypeSignedHandshake:
		e.onSignedHandshake(src, m.Data)
		return
	case canid.TypeDiscovery:
		e.emit(EventMessage{peerOf{src}, m, m.Data})
		return
	}
	if transferType(id.Type) {
		e.emit(EventTransfer{peerOf{src}, m})
		return
	}
	l := e.links[src]
	if l == nil {
		e.reject(src, CauseUnknownPeer, fmt.Errorf("%w: %s", ErrUnknownPeer, id))
		return
	}
	switch typeProtection(id.Type) {
	case protBinding:
		pt, err := e.openBinding(l, id, m.Data)
		if err != nil {
			return
		}
		e.onBindingLevel(l, m, pt)
	case protPairing:
		if id.Type == canid.TypePairedHandshake {
			e.onL4(l, id, m.Data)
			return
		}
		p, pt, err := e.openPairing(l, id, m.Data)
		if err != nil {
			return
		}
		switch id.Type {
		case canid.TypeCommand, canid.TypeEmergency:
			e.onCommand(l, p, id, pt)
		case canid.TypeCommandAck, canid.TypeEmergencyAck:
			e.onAck(l, pt)
		default:
			e.emit(EventMessage{peerOf{src}, m, pt})
		}
	case protExchange:
		e.onKeyHalf(l, id, m.Data)
	case protClearOrExchange:
		e.onTelemetry(l, id, m.Data)
	default:
		e.emit(EventMessage{peerOf{src}, m, m.Data})
	}
}

// onBindingLevel dispatches an opened binding-level message.
func (e *Engine) onBindingLevel(l *link, m isotp.Message, pt []byte) {
	src := l.peer.Addr
	switch m.ID.Type {
	case canid.TypePairingCert:
		if _, _, err := e.certLink(pt); err != nil && e.cfg.Route {
			e.emit(EventMessage{peerOf{src}, m, pt})
			return
		}
		e.startPairing(src, pt)
	case canid.TypeCompletion:
		c, err := message.DecodeCompletion(pt)
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			e.reject(src, CauseMalformed, err)
			return
		}
		e.onCompletion(l, c, false)
	case canid.TypeEscalation:
		esc, err := message.DecodeEscalation(pt)
		if err == nil {
			err = esc.Validate()
		}
		if err != nil {
			e.reject(src, CauseMalformed, err)
			return
		}
		e.emit(EventEscalation{peerOf{src}, esc, false, false})
	case canid.TypeWitness:
		e.onWitness(l, pt)
	case canid.TypeBindingValid:
		if ok, _ := e.applyL7(pt); ok {
			return
		}
		e.emit(EventMessage{peerOf{src}, m, pt})
	case canid.TypePairingValid:
		if ok, _ := e.applyL6(pt); ok {
			return
		}
		e.emit(EventMessage{peerOf{src}, m, pt})
	default:
		e.emit(EventMessage{peerOf{src}, m, pt})
	}
}

// handleProxied hands a message for a node behind this one to the layer above, with the hop's
// protection removed.
func (e *Engine) handleProxied(m isotp.Message) {
	id := m.ID
	if err := checkLevel(id); err != nil {
		e.reject(id.Src, CauseWrongLevel, err)
		return
	}
	if transferType(id.Type) {
		e.emit(EventTransfer{peerOf{id.Src}, m}) // the layer above opens it for the hop
		return
	}
	pt := m.Data
	if id.Encrypted {
		l := e.links[id.Src]
		if l == nil {
			e.reject(id.Src, CauseUnknownPeer, ErrUnknownPeer)
			return
		}
		if id.Level != canid.LevelBinding {
			e.reject(id.Src, CauseWrongLevel, fmt.Errorf("%w: only clear and binding-level messages cross a hop, not %s", ErrWrongLevel, id))
			return
		}
		var err error
		if pt, err = e.openBinding(l, id, m.Data); err != nil {
			return
		}
	}
	e.emit(EventForward{peerOf{id.Src}, m, pt})
}

// onAnnounce handles an L1 announce; a key loss raises an escalation to L7.
func (e *Engine) onAnnounce(src uint8, data []byte) {
	a, err := message.DecodeAnnounce(data)
	if err == nil {
		err = a.Validate()
	}
	if err != nil {
		e.reject(src, CauseMalformed, err)
		return
	}
	e.emit(EventAnnounce{peerOf{src}, a, append([]byte(nil), data...)})
	if a.Kind == message.AnnounceKeyLoss {
		e.emit(EventKeyLoss{peerOf{src}, a.EntityID, *a.KID})
		e.raise(src, message.L7BindingValidation, message.ReasonKeyLoss, message.UrgencyHigh, 1)
	}
}

// onBindingXfer handles binding transfers: a generate-keys request (answered with a new key), a
// generate-keys answer (for whoever waits for it) or the partner's binding record.
func (e *Engine) onBindingXfer(m isotp.Message) {
	src, data := m.ID.Src, m.Data
	if len(data) > 0 && data[0] == 0xD2 { // CBOR tag 18: COSE_Sign1, a binding record
		if e.cfg.Route && !e.placesBinding(data) {
			e.emit(EventMessage{peerOf{src}, m, data})
			return
		}
		if err := e.installBinding(data); err == nil {
			e.announceBound(src)
		}
		return
	}
	if req, err := message.DecodeGenerateKeysRequest(data); err == nil {
		if err := req.Validate(); err != nil {
			e.reject(src, CauseMalformed, err)
			return
		}
		if e.cfg.Route {
			if _, err := e.peerFromAccess(req.PartnerAccessData, 0); err != nil || !e.acceptsPartner(req.PartnerAccessData) {
				e.emit(EventMessage{peerOf{src}, m, data})
				return
			}
		}
		l, err := e.generateKey(req.PartnerAccessData)
		if err != nil {
			e.reject(src, CauseBinding, err)
			return
		}
		ans, err := EncodeKeysAnswer(l.key.Public())
		if err != nil {
			return
		}
		e.send(msgOf(idOf(canid.TypeBindingXfer, src, e.cfg.Identity.Addr), ans), nil)
		return
	}
	resp, err := message.DecodeGenerateKeysResponse(data)
	if err == nil {
		err = resp.Validate()
	}
	if err != nil {
		e.reject(src, CauseMalformed, err)
		return
	}
	if ws := e.keyWait[src]; len(ws) > 0 {
		ws[0] <- resp
		if len(ws) == 1 {
			delete(e.keyWait, src)
		} else {
			e.keyWait[src] = ws[1:]
		}
	}
	e.emit(EventKeysAnswer{peerOf{src}, resp, append([]byte(nil), data...)})
}

// EncodeKeysAnswer is the generate-keys answer a device sends over the bus: its new
// semi-public key. The binding ID is all zeros: the device does not know it (the request
// carries none); the relay that asked fills it in, and the device learns it from its binding
// record.
func EncodeKeysAnswer(pub *suite.PublicKey) ([]byte, error) {
	r := message.GenerateKeysResponse{V: message.Version1, SemiPublicKey: pub.Bytes(),
		BindingID: make([]byte, message.IDSize), KID: pub.KID(), Alg: message.AlgES256}
	return r.Encode()
}

// placesBinding reports whether a binding record names a partner this engine made a key for.
func (e *Engine) placesBinding(cert []byte) bool {
	_, payload, err := suite.PeekSign1(cert)
	if err != nil {
		return true // let installBinding reject it
	}
	c, err := message.DecodeBindingClaims(payload)
	if err != nil {
		return true
	}
	p, err := e.peerFromAccess(c.Access, c.Role)
	if err != nil {
		return false
	}
	l := e.links[p.Addr]
	return l != nil && l.key != nil
}

func (e *Engine) acceptsPartner(a message.AccessData) bool {
	if e.cfg.AcceptPartner == nil {
		return true
	}
	return e.cfg.AcceptPartner(a)
}

// handleShort verifies single-frame telemetry.
func (e *Engine) handleShort(id canid.ID, f bus.Frame) {
	l := e.links[id.Src]
	relayed := false
	if l == nil {
		// No link to the source: a module behind the pack, whose frames the pack relays under
		// its own pairing with this node (docs/protocol.md 6.5).
		l, relayed = e.relayLink(), true
	}
	if l == nil || l.pair == nil {
		e.reject(id.Src, CauseNotPaired, ErrNotPaired)
		return
	}
	if !id.Encrypted || id.Level != canid.LevelExchange {
		e.reject(id.Src, CauseWrongLevel, fmt.Errorf("%w: %s", ErrWrongLevel, id))
		return
	}
	if err := e.allowed(l.pair, message.ClassTelemetry, message.ProtExchange); err != nil {
		e.reject(id.Src, CauseBelowPolicy, err)
		return
	}
	e.charge(suite.OpAEADBlock, 2)
	ver := l.pair.verifier
	if relayed {
		var err error
		if ver, err = e.relayVerifier(l.pair, id.Src); err != nil {
			e.reject(id.Src, CauseMalformed, err)
			return
		}
	}
	t, v, err := ver.Open(&f, e.clk.Now())
	if v.Escalate {
		e.raise(id.Src, message.L6PairingValidation, message.ReasonMACFailures, message.UrgencyHigh, 3)
	}
	if err != nil {
		c := CauseAuth
		switch {
		case errors.Is(err, freshness.ErrLockedOut):
			c = CauseLockedOut
		case errors.Is(err, freshness.ErrShortFrame):
			c = CauseMalformed
		}
		e.reject(id.Src, c, err)
		return
	}
	samples, err := message.DecodeShortTelemetry(t.Payload)
	if err != nil {
		e.reject(id.Src, CauseMalformed, err)
		return
	}
	if t.Skipped > 255 {
		e.raise(id.Src, message.L4PairedHandshake, message.ReasonCounterGap, message.UrgencyNormal, 1)
	}
	e.count(func(s *Stats) { s.Telemetry++ })
	e.emit(EventShortTelemetry{peerOf{id.Src}, samples, t.Counter, relayed})
}
