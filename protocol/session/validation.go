package session

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// Witness signs an L2 witness statement with this node's binding key towards peer and sends
// it to peer at binding level (the pack witnesses its modules to the app). The engine fills in
// the version, the witness ID and, when zero, the observation time.
func (e *Engine) Witness(ctx context.Context, peer uint8, w *message.Witness) error {
	res := make(chan error, 1)
	err := e.do(ctx, func() error {
		l := e.links[peer]
		if l == nil || !l.bound {
			return ErrNotBound
		}
		m := *w
		m.V, m.Witness = message.Version1, e.cfg.Identity.EntityID
		if m.ObservedAt == 0 {
			m.ObservedAt = e.clk.Now().Unix()
		}
		e.charge(suite.OpSign, 1)
		signed, err := message.SignWitness(l.key, &m, e.cfg.Rand)
		if err != nil {
			return err
		}
		return e.sendProtected(l, peer, e.cfg.Identity.Addr, canid.TypeWitness, signed, res)
	})
	if err != nil {
		return err
	}
	return e.waitRes(ctx, res)
}

func (e *Engine) onWitness(l *link, signed []byte) {
	e.charge(suite.OpVerify, 1)
	w, err := message.VerifyWitness(l.partnerKey, signed, e.clk.Now())
	if err != nil {
		e.reject(l.peer.Addr, CauseAuth, err)
		return
	}
	if w.Witness != l.peer.EntityID {
		e.reject(l.peer.Addr, CauseAuth, fmt.Errorf("%w: witness %q signed by %q's key", message.ErrEntity, w.Witness, l.peer.EntityID))
		return
	}
	e.emit(EventWitness{peerOf{l.peer.Addr}, w})
}

// SignedHandshake runs an L3 signed handshake with a bound peer: a hello signed with this
// node's binding key, answered by a reply the peer signs over the echoed nonce. It returns
// when the reply verified.
func (e *Engine) SignedHandshake(ctx context.Context, peer uint8) error {
	ch := make(chan error, 1)
	err := e.do(ctx, func() error {
		l := e.links[peer]
		if l == nil || !l.bound {
			return ErrNotBound
		}
		nonce := make([]byte, message.NonceSize)
		if _, err := io.ReadFull(e.cfg.Rand, nonce); err != nil {
			return err
		}
		m := message.SignedHandshake{V: message.Version1, Step: message.StepHello, BindingID: l.bindingID,
			From: e.cfg.Identity.EntityID, To: l.peer.EntityID, Nonce: nonce, At: e.clk.Now().Unix()}
		e.charge(suite.OpSign, 1)
		signed, err := message.SignSignedHandshake(l.key, &m, e.cfg.Rand)
		if err != nil {
			return err
		}
		l.l3 = &l3state{nonce: nonce, done: ch}
		e.send(msgOf(idOf(canid.TypeSignedHandshake, peer, e.cfg.Identity.Addr), signed), nil)
		return nil
	})
	if err != nil {
		return err
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-e.done:
		return ErrClosed
	}
}

type l3state struct {
	nonce []byte
	done  chan error
}

func (e *Engine) onSignedHandshake(src uint8, signed []byte) {
	l := e.links[src]
	if l == nil || !l.bound {
		e.reject(src, CauseNotBound, ErrNotBound)
		return
	}
	want := message.HandshakeExpect{BindingID: l.bindingID, Self: e.cfg.Identity.EntityID, Peer: l.peer.EntityID}
	_, payload, err := suite.PeekSign1(signed)
	if err != nil {
		e.reject(src, CauseMalformed, err)
		return
	}
	peek, err := message.DecodeSignedHandshake(payload)
	if err != nil {
		e.reject(src, CauseMalformed, err)
		return
	}
	reply := peek.Step == message.StepReply
	if reply {
		if l.l3 == nil {
			e.reject(src, CauseUnexpected, fmt.Errorf("%w: L3 reply to no hello", message.ErrNonce))
			return
		}
		want.MyNonce = l.l3.nonce
	}
	e.charge(suite.OpVerify, 1)
	m, err := message.VerifySignedHandshake(l.partnerKey, signed, want, e.clk.Now())
	if err != nil {
		e.reject(src, CauseAuth, err)
		return
	}
	if reply {
		if !bytes.Equal(m.PeerNonce, l.l3.nonce) {
			e.reject(src, CauseReplay, message.ErrNonce)
			return
		}
		l.l3.done <- nil
		l.l3 = nil
		e.emit(EventHandshake{peerOf{src}, message.L3SignedHandshake})
		return
	}
	nonce := make([]byte, message.NonceSize)
	if _, err := io.ReadFull(e.cfg.Rand, nonce); err != nil {
		return
	}
	r := message.SignedHandshake{V: message.Version1, Step: message.StepReply, BindingID: l.bindingID,
		From: e.cfg.Identity.EntityID, To: l.peer.EntityID, Nonce: nonce, PeerNonce: m.Nonce, At: e.clk.Now().Unix()}
	e.charge(suite.OpSign, 1)
	out, err := message.SignSignedHandshake(l.key, &r, e.cfg.Rand)
	if err != nil {
		return
	}
	e.send(msgOf(idOf(canid.TypeSignedHandshake, src, e.cfg.Identity.Addr), out), nil)
	e.emit(EventHandshake{peerOf{src}, message.L3SignedHandshake})
}
