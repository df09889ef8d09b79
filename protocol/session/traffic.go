package session

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/freshness"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// sendProtected sends payload of type t from src to dst under the protection the type requires,
// using the keys this node shares with l (the hop's partner).
func (e *Engine) sendProtected(l *link, dst, src uint8, t canid.Type, payload []byte, res chan error) error {
	id := idOf(t, dst, src)
	var (
		ch  *suite.Channel
		ctr *freshness.Counter
	)
	switch typeProtection(t) {
	case protClear:
		e.send(msgOf(id, payload), res)
		return nil
	case protBinding:
		if !l.bound {
			return ErrNotBound
		}
		ch, ctr = l.bindCh, l.bindCtr
	case protPairing:
		if l.pair == nil {
			return ErrNotPaired
		}
		ch, ctr = l.pair.send, l.pair.sendCtr
	default:
		return fmt.Errorf("%w: %s cannot be sent this way", ErrWrongLevel, t)
	}
	c, err := ctr.Next()
	if err != nil {
		return fmt.Errorf("session: counter: %w", err)
	}
	e.charge(suite.OpAEADBlock, suite.AEADBlocks(len(payload), 4+3+suite.CounterLen(c)))
	env, err := message.SealEnvelope(ch, id, c, payload)
	if err != nil {
		return err
	}
	e.send(msgOf(id, env), res)
	return nil
}

// allowed checks a class against a pairing's policy for a message sent at protection prot.
func (e *Engine) allowed(p *pairing, cl message.Class, prot message.Protection) error {
	req, ok := p.policy[cl]
	if !ok {
		return fmt.Errorf("%w: class %d", ErrNotAllowed, cl)
	}
	if prot < req {
		return fmt.Errorf("%w: class %d at %d, policy requires %d", ErrBelowPolicy, cl, prot, req)
	}
	return nil
}

// Hop says how a message travels: from Src (0: this node; else a node it proxies for) to Dst,
// protected for the hop with the keys this node shares with Via (0: Dst).
type Hop struct{ Dst, Via, Src uint8 }

func (e *Engine) hop(h Hop) (Hop, *link, error) {
	if h.Via == 0 {
		h.Via = h.Dst
	}
	if h.Src == 0 {
		h.Src = e.cfg.Identity.Addr
	}
	l := e.links[h.Via]
	if l == nil {
		return h, nil, fmt.Errorf("%w: %#02x", ErrUnknownPeer, h.Via)
	}
	return h, l, nil
}

// Deliver sends a clear or binding-level message (binding transfers, certificates, announces,
// completions, escalations, L6/L7 statements) and waits until it is on the bus.
func (e *Engine) Deliver(ctx context.Context, h Hop, t canid.Type, payload []byte) error {
	res := make(chan error, 1)
	err := e.do(ctx, func() error {
		h, l, err := e.hop(h)
		if err != nil {
			if typeProtection(t) != protClear {
				return err
			}
			e.send(msgOf(idOf(t, h.Dst, h.Src), payload), res)
			return nil
		}
		return e.sendProtected(l, h.Dst, h.Src, t, payload, res)
	})
	if err != nil {
		return err
	}
	return e.waitRes(ctx, res)
}

func (e *Engine) waitRes(ctx context.Context, res chan error) error {
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-e.done:
		return ErrClosed
	}
}

// RequestKeys asks the device Dst (through the hop) to make a binding key pair for partner
// and returns its answer.
func (e *Engine) RequestKeys(ctx context.Context, h Hop, partner message.AccessData) (*message.GenerateKeysResponse, error) {
	req := message.GenerateKeysRequest{V: message.Version1, PartnerAccessData: partner}
	b, err := req.Encode()
	if err != nil {
		return nil, err
	}
	ch := make(chan *message.GenerateKeysResponse, 1)
	var dst uint8
	err = e.do(ctx, func() error {
		h2, _, _ := e.hop(h)
		dst = h2.Dst
		e.keyWait[dst] = append(e.keyWait[dst], ch)
		e.send(msgOf(idOf(canid.TypeBindingXfer, h2.Dst, h2.Src), b), nil)
		return nil
	})
	if err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		// Nobody waits any more: a late answer must not be handed to this caller's channel.
		_ = e.do(context.Background(), func() error {
			ws := e.keyWait[dst]
			for i, w := range ws {
				if w == ch {
					e.keyWait[dst] = append(ws[:i:i], ws[i+1:]...)
					break
				}
			}
			if len(e.keyWait[dst]) == 0 {
				delete(e.keyWait, dst)
			}
			return nil
		})
		return nil, ctx.Err()
	case <-e.done:
		return nil, ErrClosed
	}
}

// Command sends an L5 command to a paired peer and waits for its ACK (Config.AckTimeout on the
// engine's clock, or ctx). The engine fills in the version, the sequence (the low 32 bits of
// the envelope counter, so it never repeats under a key) and, when zero, the issue time.
func (e *Engine) Command(ctx context.Context, peer uint8, cmd *message.Command) (*message.Ack, error) {
	ch := make(chan ackResult, 1)
	var key ackKey
	err := e.do(ctx, func() error {
		l := e.links[peer]
		if l == nil {
			return fmt.Errorf("%w: %#02x", ErrUnknownPeer, peer)
		}
		p := l.pair
		if p == nil {
			return ErrNotPaired
		}
		if err := e.allowed(p, cmd.Code.Class(), message.ProtPairing); err != nil {
			return err
		}
		ctr, err := p.sendCtr.Next()
		if err != nil {
			return fmt.Errorf("session: counter: %w", err)
		}
		c := *cmd
		c.V, c.Seq = message.Version1, uint32(ctr)
		if c.IssuedAt == 0 {
			c.IssuedAt = e.clk.Now().Unix()
		}
		if err := c.Validate(); err != nil {
			return err
		}
		pt, err := c.Encode()
		if err != nil {
			return err
		}
		t := canid.TypeCommand
		if c.Code == message.CmdEmergencyIsolate {
			t = canid.TypeEmergency
		}
		id := idOf(t, peer, e.cfg.Identity.Addr)
		e.charge(suite.OpAEADBlock, suite.AEADBlocks(len(pt), 4+3+suite.CounterLen(ctr)))
		env, err := message.SealEnvelope(p.send, id, ctr, pt)
		if err != nil {
			return err
		}
		key = ackKey{peer, c.Seq}
		e.acks[key] = ch
		e.ackCmd[key] = pt
		e.send(msgOf(id, env), nil)
		return nil
	})
	if err != nil {
		return nil, err
	}
	t := e.clk.NewTimer(e.cfg.AckTimeout)
	defer t.Stop()
	var r ackResult
	select {
	case r = <-ch:
	case <-ctx.Done():
		r.err = ctx.Err()
	case <-t.C():
		r.err = fmt.Errorf("%w: command %d to %#02x", ErrAckTimeout, key.seq, peer)
	case <-e.done:
		r.err = ErrClosed
	}
	if r.ack == nil {
		_ = e.do(context.Background(), func() error { delete(e.acks, key); delete(e.ackCmd, key); return nil })
	}
	return r.ack, r.err
}

// onCommand checks a verified command against the policy, its freshness and the sequences
// already executed, then hands it to the layer above (or answers it at once).
func (e *Engine) onCommand(l *link, p *pairing, id canid.ID, pt []byte) {
	src := l.peer.Addr
	cmd, err := message.DecodeCommand(pt)
	if err == nil {
		err = cmd.Validate()
	}
	if err == nil && (cmd.Code == message.CmdEmergencyIsolate) != (id.Type == canid.TypeEmergency) {
		err = fmt.Errorf("%w: %s carried as %s", message.ErrInvalid, cmd.Code, id.Type)
	}
	if err != nil {
		e.reject(src, CauseMalformed, err)
		return
	}
	e.count(func(s *Stats) { s.Commands++ })
	answer := func(st message.Status) { _ = e.sendAck(l, id, cmd, pt, st, nil) }
	if err := e.allowed(p, cmd.Code.Class(), message.ProtPairing); err != nil {
		if _, ok := p.policy[cmd.Code.Class()]; ok { // below policy: dropped, escalated
			e.reject(src, CauseBelowPolicy, err)
			e.raise(src, message.L6PairingValidation, message.ReasonPolicy, message.UrgencyNormal, 1)
			return
		}
		answer(message.StatusPolicy)
		return
	}
	if err := cmd.CheckFresh(e.clk.Now()); err != nil {
		e.reject(src, CauseClockSkew, err)
		e.raise(src, message.L6PairingValidation, message.ReasonClockSkew, message.UrgencyNormal, 1)
		answer(message.StatusStale)
		return
	}
	for _, s := range p.seen {
		if s == cmd.Seq {
			answer(message.StatusReplay)
			return
		}
	}
	p.seen = append(p.seen, cmd.Seq)
	if len(p.seen) > 64 {
		p.seen = p.seen[1:]
	}
	done := false
	reply := func(st message.Status, state *uint8) error {
		return e.do(context.Background(), func() error {
			if done {
				return fmt.Errorf("session: command %d already answered", cmd.Seq)
			}
			done = true
			if l.pair != p && l.old != p {
				return ErrNotPaired
			}
			return e.sendAck(l, id, cmd, pt, st, state)
		})
	}
	e.emit(EventCommand{peerOf{src}, cmd, reply})
}

func (e *Engine) sendAck(l *link, cmdID canid.ID, cmd *message.Command, pt []byte, st message.Status, state *uint8) error {
	a := message.NewAck(cmd, pt, st, e.clk.Now())
	a.State = state
	b, err := a.Encode()
	if err != nil {
		return err
	}
	t := canid.TypeCommandAck
	if cmdID.Type == canid.TypeEmergency {
		t = canid.TypeEmergencyAck
	}
	return e.sendProtected(l, l.peer.Addr, e.cfg.Identity.Addr, t, b, nil)
}

func (e *Engine) onAck(l *link, pt []byte) {
	src := l.peer.Addr
	a, err := message.DecodeAck(pt)
	if err == nil {
		err = a.Validate()
	}
	if err != nil {
		e.reject(src, CauseMalformed, err)
		return
	}
	key := ackKey{src, a.Seq}
	ch, ok := e.acks[key]
	if !ok {
		e.reject(src, CauseUnexpected, fmt.Errorf("ACK %d: no command waits for it", a.Seq))
		return
	}
	if err := a.Matches(e.ackCmd[key], a.Seq); err != nil {
		e.reject(src, CauseUnexpected, err)
		return
	}
	delete(e.acks, key)
	delete(e.ackCmd, key)
	e.count(func(s *Stats) { s.Acks++ })
	ch <- ackResult{ack: a}
	e.emit(EventAck{peerOf{src}, a})
}

// SendTelemetry sends a telemetry record to a paired peer, protected as the pairing's policy
// says: under the telemetry key, or clear where the policy allows clear telemetry.
func (e *Engine) SendTelemetry(ctx context.Context, peer uint8, t *message.Telemetry) error {
	res := make(chan error, 1)
	err := e.do(ctx, func() error {
		l := e.links[peer]
		if l == nil || l.pair == nil {
			return ErrNotPaired
		}
		p := l.pair
		req, ok := p.policy[message.ClassTelemetry]
		if !ok {
			return fmt.Errorf("%w: telemetry", ErrNotAllowed)
		}
		m := *t
		m.V = message.Version1
		if m.At == 0 {
			m.At = e.clk.Now().Unix()
		}
		if err := m.Validate(); err != nil {
			return err
		}
		pt, err := m.Encode()
		if err != nil {
			return err
		}
		if req == message.ProtClear {
			e.send(msgOf(canid.New(canid.TypeTelemetry, false, 0, peer, e.cfg.Identity.Addr), pt), res)
			return nil
		}
		if req > message.ProtExchange {
			return fmt.Errorf("%w: telemetry travels at exchange level, the policy asks %d", ErrNotAllowed, req)
		}
		c, err := p.telCtr.Next()
		if err != nil {
			return err
		}
		id := canid.New(canid.TypeTelemetry, true, canid.LevelExchange, peer, e.cfg.Identity.Addr)
		e.charge(suite.OpAEADBlock, suite.AEADBlocks(len(pt), 4+3+suite.CounterLen(c)))
		env, err := message.SealEnvelope(p.tel, id, c, pt)
		if err != nil {
			return err
		}
		e.send(msgOf(id, env), res)
		return nil
	})
	if err != nil {
		return err
	}
	return e.waitRes(ctx, res)
}

func (e *Engine) onTelemetry(l *link, id canid.ID, data []byte) {
	src := l.peer.Addr
	p := l.pair
	if p == nil {
		e.reject(src, CauseNotPaired, ErrNotPaired)
		return
	}
	pt := data
	prot := message.ProtClear
	if id.Encrypted {
		tp := p
		if o := oldFor(l, data, func(p *pairing) uint16 { return p.keys.TelemetryKID }); o != nil {
			tp = o
		}
		var err error
		if pt, err = e.open(l, tp.tel, tp.telWin, id, data); err != nil {
			return
		}
		prot = message.ProtExchange
	}
	if err := e.allowed(p, message.ClassTelemetry, prot); err != nil {
		e.reject(src, CauseBelowPolicy, err)
		e.raise(src, message.L6PairingValidation, message.ReasonPolicy, message.UrgencyNormal, 1)
		return
	}
	t, err := message.DecodeTelemetry(pt)
	if err == nil {
		err = t.Validate()
	}
	if err != nil {
		e.reject(src, CauseMalformed, err)
		return
	}
	e.count(func(s *Stats) { s.Telemetry++ })
	e.emit(EventTelemetry{peerOf{src}, t, id.Encrypted})
	e.stepTriggers(l, t)
}

// Step triggers of docs/protocol.md 8.1: consecutive readings of one source within StepWindow.
const (
	TempStepLimit    = 100 // 0.1 °C: 10 °C
	VoltageStepLimit = 300 // mV
	StepWindow       = time.Second
)

// stepTriggers compares a telemetry record with the source's previous one and asks for a
// diagnostic escalation (L5) on a temperature or cell-voltage step beyond the limits.
func (e *Engine) stepTriggers(l *link, t *message.Telemetry) {
	now := e.clk.Now()
	prev, at := l.lastTel, l.lastTelAt
	l.lastTel, l.lastTelAt = t, now
	if prev == nil || now.Sub(at) > StepWindow {
		return
	}
	absDiff := func(a, b int) int {
		if a > b {
			return a - b
		}
		return b - a
	}
	if absDiff(int(t.TempMaxDC), int(prev.TempMaxDC)) > TempStepLimit || absDiff(int(t.TempMinDC), int(prev.TempMinDC)) > TempStepLimit {
		e.raise(l.peer.Addr, message.L5PairedCommand, message.ReasonTempStep, message.UrgencyHigh, 1)
	}
	if absDiff(int(t.CellMaxMV), int(prev.CellMaxMV)) > VoltageStepLimit || absDiff(int(t.CellMinMV), int(prev.CellMinMV)) > VoltageStepLimit {
		e.raise(l.peer.Addr, message.L5PairedCommand, message.ReasonVoltageStep, message.UrgencyHigh, 1)
	}
}

// SendShortTelemetry sends single-frame telemetry with a truncated MAC (docs/protocol.md 6.5).
func (e *Engine) SendShortTelemetry(ctx context.Context, peer uint8, samples message.ShortTelemetry) error {
	return e.do(ctx, func() error {
		l := e.links[peer]
		if l == nil || l.pair == nil {
			return ErrNotPaired
		}
		if err := e.allowed(l.pair, message.ClassTelemetry, message.ProtExchange); err != nil {
			return err
		}
		payload, err := samples.Encode(e.short.PayloadLen())
		if err != nil {
			return err
		}
		e.charge(suite.OpAEADBlock, 2)
		f, _, err := l.pair.signer.Seal(canid.New(canid.TypeTelemetryShort, true, canid.LevelExchange, peer, e.cfg.Identity.Addr), payload)
		if err != nil {
			return err
		}
		return e.sendFrame(f)
	})
}

// Announce sends an L1 announce to dst: presence (with this node's trust state towards dst)
// or, after a key loss, the key-loss announce with the lost KID and its escalation to L7.
func (e *Engine) Announce(ctx context.Context, dst uint8, kind message.AnnounceKind) error {
	res := make(chan error, 1)
	err := e.do(ctx, func() error {
		b, err := e.announcement(dst, kind)
		if err != nil {
			return err
		}
		e.send(msgOf(idOf(canid.TypeAnnounce, dst, e.cfg.Identity.Addr), b), res)
		return nil
	})
	if err != nil {
		return err
	}
	return e.waitRes(ctx, res)
}

func (e *Engine) announcement(dst uint8, kind message.AnnounceKind) ([]byte, error) {
	id := e.cfg.Identity
	a := message.Announce{V: message.Version1, Kind: kind, EntityID: id.EntityID, Role: id.Role, Addr: id.Addr,
		ImageVersion: id.ImageVersion, ImageHash: id.ImageHash, At: e.clk.Now().Unix()}
	if a.ImageVersion == "" {
		a.ImageVersion = "unknown"
	}
	if len(a.ImageHash) != message.HashSize {
		a.ImageHash = make([]byte, message.HashSize)
	}
	l := e.links[dst]
	switch kind {
	case message.AnnounceKeyLoss:
		var lost *uint16
		if l != nil && l.lostKID != nil {
			lost = l.lostKID
		}
		for _, o := range e.links {
			if lost == nil && o.lostKID != nil {
				lost = o.lostKID
			}
		}
		if lost == nil {
			return nil, fmt.Errorf("%w: no lost key to announce", ErrKeyLost)
		}
		k := *lost
		a.KID, a.State = &k, message.StateFactory
		a.Escalation = &message.Escalation{V: message.Version1, Target: message.L7BindingValidation,
			Reason: message.ReasonKeyLoss, Urgency: message.UrgencyHigh, Source: id.Addr, At: a.At}
	default:
		if l != nil && l.key != nil {
			k := l.key.Public().KID()
			a.KID = &k
			switch {
			case l.pair != nil:
				a.State = message.StatePaired
			case l.bound:
				a.State = message.StateBound
			}
		}
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a.Encode()
}

// announceBound tells the hop that delivered a binding record that this node is bound.
func (e *Engine) announceBound(dst uint8) {
	if b, err := e.announcement(dst, message.AnnouncePresence); err == nil {
		e.send(msgOf(idOf(canid.TypeAnnounce, dst, e.cfg.Identity.Addr), b), nil)
	}
}

// Escalate sends an escalation request to peer at binding level, subject to the rate limits
// of R8 (ErrRateLimited when cut). source is the node the request is about (0: this node).
func (e *Engine) Escalate(ctx context.Context, peer uint8, target message.Level, reason message.Reason, urgency message.Urgency, source uint8) error {
	return e.do(ctx, func() error {
		if source == 0 {
			source = e.cfg.Identity.Addr
		}
		return e.escalateTo(peer, target, reason, urgency, source, 1)
	})
}

func (e *Engine) escalateTo(peer uint8, target message.Level, reason message.Reason, urgency message.Urgency, source uint8, count uint32) error {
	now := e.clk.Now()
	esc := &message.Escalation{V: message.Version1, Target: target, Reason: reason, Urgency: urgency,
		Source: source, Count: count, At: now.Unix()}
	lim := e.lim[source]
	if lim == nil {
		lim = &limiter{}
		e.lim[source] = lim
	}
	if !lim.allow(&e.cfg.Escalation, reason, now) {
		e.count(func(s *Stats) { s.EscalationsCut++ })
		e.emit(EventEscalation{peerOf{source}, esc, true, false})
		return ErrRateLimited
	}
	l := e.links[peer]
	sent := false
	var err error
	if l != nil && l.bound {
		b, _ := esc.Encode()
		if err = e.sendProtected(l, peer, e.cfg.Identity.Addr, canid.TypeEscalation, b, nil); err == nil {
			sent = true
			e.count(func(s *Stats) { s.Escalations++ })
		}
	}
	e.emit(EventEscalation{peerOf{source}, esc, true, sent})
	return err
}

// raise is a local trigger about subject: sent upstream when there is one, else an event.
func (e *Engine) raise(subject uint8, target message.Level, reason message.Reason, urgency message.Urgency, count uint32) {
	_ = e.escalateTo(e.cfg.Upstream, target, reason, urgency, subject, count)
}

func (e *Engine) authFailure(peer uint8) {
	t := e.authFail[peer]
	if t == nil {
		t = &trigger{}
		e.authFail[peer] = t
	}
	if n := t.hit(e.clk.Now(), e.cfg.Escalation.TriggerWindow); n >= e.cfg.Escalation.AuthFailures {
		t.times = nil
		e.raise(peer, message.L6PairingValidation, message.ReasonMACFailures, message.UrgencyHigh, uint32(n))
	}
}

func (e *Engine) replaySeen(peer uint8) {
	t := e.replays[peer]
	if t == nil {
		t = &trigger{}
		e.replays[peer] = t
	}
	if n := t.hit(e.clk.Now(), e.cfg.Escalation.TriggerWindow); n >= e.cfg.Escalation.ReplayCount {
		t.times = nil
		e.raise(peer, message.L6PairingValidation, message.ReasonReplay, message.UrgencyHigh, uint32(n))
	}
}

// startL4 sends an L4 hello to re-synchronise a pairing's replay window, at most once a second.
func (e *Engine) startL4(l *link) {
	p := l.pair
	now := e.clk.Now()
	if p == nil || (l.hs != nil && now.Sub(l.hs.at) < time.Second) {
		return
	}
	nonce := make([]byte, message.NonceSize)
	if _, err := io.ReadFull(e.cfg.Rand, nonce); err != nil {
		return
	}
	l.hs = &l4state{nonce: nonce, at: now}
	h, _ := p.recvWin.Highest()
	m := message.PairedHandshake{V: message.Version1, Step: message.StepHello, PairingID: p.id, Nonce: nonce, LastCounter: h, At: now.Unix()}
	if b, err := m.Encode(); err == nil {
		_ = e.sendProtected(l, l.peer.Addr, e.cfg.Identity.Addr, canid.TypePairedHandshake, b, nil)
	}
}

// Resync starts an L4 paired handshake with peer.
func (e *Engine) Resync(ctx context.Context, peer uint8) error {
	return e.do(ctx, func() error {
		l := e.links[peer]
		if l == nil || l.pair == nil {
			return ErrNotPaired
		}
		l.hs = nil
		e.startL4(l)
		return nil
	})
}

func (e *Engine) onL4(l *link, id canid.ID, data []byte) {
	src, p := l.peer.Addr, l.pair
	if p == nil {
		e.reject(src, CauseNotPaired, ErrNotPaired)
		return
	}
	e.charge(suite.OpAEADBlock, suite.AEADBlocks(len(data), 8))
	ctr, m, err := message.OpenPairedHandshake(p.recv, id, data)
	if err != nil {
		e.authFailure(src)
		e.reject(src, CauseAuth, err)
		return
	}
	if err := m.Validate(); err != nil {
		e.reject(src, CauseMalformed, err)
		return
	}
	if !bytes.Equal(m.PairingID, p.id) {
		e.reject(src, CausePairing, fmt.Errorf("%w: L4 for another pairing", message.ErrPairingID))
		return
	}
	if err := message.CheckFreshness(e.clk.Now(), m.At); err != nil {
		e.reject(src, CauseClockSkew, err)
		return
	}
	switch m.Step {
	case message.StepHello:
		if p.synced {
			if err := p.recvWin.Accept(ctr); err != nil {
				e.replaySeen(src)
				e.reject(src, CauseReplay, err)
				return
			}
		}
		nonce := make([]byte, message.NonceSize)
		if _, err := io.ReadFull(e.cfg.Rand, nonce); err != nil {
			return
		}
		h, _ := p.recvWin.Highest()
		r := message.PairedHandshake{V: message.Version1, Step: message.StepReply, PairingID: p.id, Nonce: nonce,
			PeerNonce: m.Nonce, LastCounter: h, At: e.clk.Now().Unix()}
		if b, err := r.Encode(); err == nil {
			_ = e.sendProtected(l, src, e.cfg.Identity.Addr, canid.TypePairedHandshake, b, nil)
		}
		if !p.synced {
			e.startL4(l)
		}
	case message.StepReply:
		if l.hs == nil || !bytes.Equal(m.PeerNonce, l.hs.nonce) {
			e.replaySeen(src)
			e.reject(src, CauseReplay, fmt.Errorf("%w: L4 reply to no hello of ours", message.ErrNonce))
			return
		}
		l.hs = nil
		if !p.synced {
			p.recvWin, _ = freshness.NewWindow(e.cfg.Window)
		}
		if err := p.recvWin.Accept(ctr); err != nil {
			e.reject(src, CauseReplay, err)
			return
		}
		p.synced = true
		e.emit(EventResynced{peerOf{src}, p.id})
	}
}

// boot runs when Run starts: links restored with a pairing ask their peers for an L4
// handshake, and links whose key was lost announce it.
func (e *Engine) boot() {
	for _, l := range e.links {
		if l.pair != nil && !l.pair.synced {
			e.startL4(l)
		}
		// R1: a key found missing at boot is announced to the partner nearer the authority.
		if l.lostKID != nil && l.peer.Role != 0 && l.peer.Role < e.cfg.Identity.Role {
			if b, err := e.announcement(l.peer.Addr, message.AnnounceKeyLoss); err == nil {
				e.send(msgOf(idOf(canid.TypeAnnounce, l.peer.Addr, e.cfg.Identity.Addr), b), nil)
			}
		}
	}
}
