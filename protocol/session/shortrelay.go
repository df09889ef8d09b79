package session

import (
	"context"
	"fmt"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/freshness"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// Single-frame telemetry of a module reaches the app through the pack (docs/protocol.md 6.5):
// the pack verifies the module's frame under their pairing and sends the samples on CAN1 as a
// new single frame under its pairing with the app, with the module's address as source. Each
// relayed source has its own counter at the pack and its own verifier (counter, failure counter,
// lock-out) at the app, so the sources never share a freshness value or a lock-out.

// relayShortKind names the counter record of single frames relayed for src.
func relayShortKind(src uint8) string { return fmt.Sprintf("short-%02x", src) }

// telemetryMACKey derives K_TM (K10) from the pairing key. The caller erases it.
func telemetryMACKey(p *pairing) []byte {
	return suite.HKDF(p.keys.Key[:], nil, LabelTelemetryMAC, nil, 32)
}

// relayLink is the link a relayed single frame is verified under: only the app takes them,
// under its pairing with the pack.
func (e *Engine) relayLink() *link {
	if e.cfg.Identity.Role != message.RoleApp {
		return nil
	}
	for _, l := range e.links {
		if l.peer.Role == message.RolePack && l.pair != nil {
			return l
		}
	}
	return nil
}

// relayVerifier returns the verifier of frames relayed for src under p.
func (e *Engine) relayVerifier(p *pairing, src uint8) (*freshness.Verifier, error) {
	if v := p.relayRx[src]; v != nil {
		return v, nil
	}
	mk := telemetryMACKey(p)
	defer suite.Erase(mk)
	v, err := freshness.NewVerifier(mk, e.short, 0, freshness.DefaultPolicy())
	if err != nil {
		return nil, err
	}
	if p.relayRx == nil {
		p.relayRx = map[uint8]*freshness.Verifier{}
	}
	p.relayRx[src] = v
	return v, nil
}

// relaySigner returns the signer of frames this node relays for src under its pairing with l.
func (e *Engine) relaySigner(l *link, src uint8) (*freshness.Signer, error) {
	p := l.pair
	if s := p.relayTx[src]; s != nil {
		return s, nil
	}
	ctr, err := freshness.NewCounter(CounterStore(e.cfg.Store, ctrName(relayShortKind(src), l.peer.Addr, p.id)), e.cfg.CounterBlock)
	if err != nil {
		return nil, err
	}
	mk := telemetryMACKey(p)
	defer suite.Erase(mk)
	s, err := freshness.NewSigner(mk, ctr, e.short)
	if err != nil {
		return nil, err
	}
	if p.relayTx == nil {
		p.relayTx = map[uint8]*freshness.Signer{}
	}
	p.relayTx[src] = s
	return s, nil
}

// RelayShortTelemetry sends samples a node behind this one (src, a module) sent as single-frame
// telemetry on to peer (the app) as a single frame with a truncated MAC under this node's
// pairing with peer, with src as the frame's source.
func (e *Engine) RelayShortTelemetry(ctx context.Context, peer, src uint8, samples message.ShortTelemetry) error {
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
		s, err := e.relaySigner(l, src)
		if err != nil {
			return err
		}
		e.charge(suite.OpAEADBlock, 2)
		f, _, err := s.Seal(canid.New(canid.TypeTelemetryShort, true, canid.LevelExchange, peer, src), payload)
		if err != nil {
			return err
		}
		return e.sendFrame(f)
	})
}
