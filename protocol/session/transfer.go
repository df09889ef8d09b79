package session

import (
	"context"
	"fmt"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/isotp"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// Transfers (firmware images, docs/protocol.md 4.14) run their own stop-and-wait protocol above
// the engine: the engine does not open their messages, it hands them up as they came
// (EventTransfer), and the layer above seals and opens each one with a PairingProtect, which
// uses the link's pairing keys, counter and replay window, so no nonce is ever shared with the
// engine's own pairing-level traffic.

// transferType reports whether messages of type t belong to a transfer the layer above runs.
func transferType(t canid.Type) bool {
	return t == canid.TypeFirmware || t == canid.TypeBulkAck
}

// EventTransfer: a firmware or bulk-ack message arrived, addressed to this node or (the pack
// on CAN1) to a node it proxies for. Msg is as received, still sealed: open it with the
// PairingProtect of the hop it came over.
type EventTransfer struct {
	peerOf
	Msg isotp.Message
}

// PairingProtect seals and opens the messages of a transfer at pairing level under the
// pairing this node holds with one peer (the hop's partner). It has the method set of
// fwxfer.Protect. It refuses unless that pairing is of Context and its policy allows Class
// at pairing level.
type PairingProtect struct {
	e       *Engine
	peer    uint8
	context message.Context
	class   message.Class
}

// PairingProtect returns the protection of transfers with peer (the hop's partner: the pack
// for a module and for the app) under a pairing of context pctx for messages of class cl
// (message.ClassFirmware for images).
func (e *Engine) PairingProtect(peer uint8, pctx message.Context, cl message.Class) *PairingProtect {
	return &PairingProtect{e: e, peer: peer, context: pctx, class: cl}
}

// check finds the pairing and checks its context and policy (on the loop).
func (p *PairingProtect) check() (*link, error) {
	e := p.e
	l := e.links[p.peer]
	if l == nil {
		return nil, fmt.Errorf("%w: %#02x", ErrUnknownPeer, p.peer)
	}
	if l.pair == nil {
		return nil, ErrNotPaired
	}
	if l.pair.context != p.context {
		return nil, fmt.Errorf("%w: pairing with %#02x is %s, the transfer needs %s", ErrNotAllowed, p.peer, l.pair.context, p.context)
	}
	if err := e.allowed(l.pair, p.class, message.ProtPairing); err != nil {
		return nil, err
	}
	return l, nil
}

// Seal protects plain for id: the encrypted bit and pairing level are set, and the envelope
// is sealed under this node's direction key with its next counter.
func (p *PairingProtect) Seal(id canid.ID, plain []byte) (canid.ID, []byte, error) {
	var (
		out canid.ID
		env []byte
	)
	err := p.e.do(context.Background(), func() error {
		l, err := p.check()
		if err != nil {
			return err
		}
		out = canid.New(id.Type, true, canid.LevelPairing, id.Dst, id.Src)
		c, err := l.pair.sendCtr.Next()
		if err != nil {
			return fmt.Errorf("session: counter: %w", err)
		}
		p.e.charge(suite.OpAEADBlock, suite.AEADBlocks(len(plain), 4+3+suite.CounterLen(c)))
		env, err = message.SealEnvelope(l.pair.send, out, c, plain)
		return err
	})
	return out, env, err
}

// Open authenticates a message received from the peer (or relayed by it from a node behind
// it) and returns its plaintext. Clear or wrongly levelled messages are refused as below
// policy; failures are counted and feed the escalation triggers as any pairing-level message.
func (p *PairingProtect) Open(id canid.ID, wire []byte) ([]byte, error) {
	var pt []byte
	err := p.e.do(context.Background(), func() error {
		e := p.e
		if !id.Encrypted || id.Level != canid.LevelPairing {
			e.raise(p.peer, message.L6PairingValidation, message.ReasonPolicy, message.UrgencyNormal, 1)
			return e.reject(p.peer, CauseBelowPolicy, fmt.Errorf("%w: %s", ErrBelowPolicy, id))
		}
		l, err := p.check()
		if err != nil {
			c := CauseNotPaired
			if l := e.links[p.peer]; l == nil {
				c = CauseUnknownPeer
			} else if l.pair != nil {
				c = CauseBelowPolicy
			}
			return e.reject(p.peer, c, err)
		}
		_, pt, err = e.openPairing(l, id, wire)
		return err
	})
	return pt, err
}

// SendSealed sends a message the layer above has already protected (a transfer's, sealed by
// a PairingProtect) and waits until it is on the bus. Its identifier must carry the
// protection its type requires.
func (e *Engine) SendSealed(ctx context.Context, m isotp.Message) error {
	if err := checkLevel(m.ID); err != nil {
		return err
	}
	res := make(chan error, 1)
	if err := e.do(ctx, func() error { e.send(m, res); return nil }); err != nil {
		return err
	}
	return e.waitRes(ctx, res)
}
