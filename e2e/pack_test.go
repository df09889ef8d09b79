package e2e

import (
	"context"
	"io"
	"sync"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
	"github.com/modbatt/hilrun/protocol/suite"
)

// enginePack is the pack controller's Web4 gateway reduced to its two link engines and the
// routing between them (no legacy behaviour): CAN1 towards the app, CAN2 towards the modules.
// It re-protects everything it forwards under the keys of the other bus.
type enginePack struct {
	can1, can2 *session.Engine
	mu         sync.Mutex
	refused    []session.EventPairingRefused
	errs       []error
}

func newEnginePack(id string, ep1, ep2 bus.Endpoint, clk clock.Clock, rnd io.Reader, auth *suite.PublicKey, modules []uint8) (*enginePack, error) {
	ident := session.Identity{EntityID: id, Role: message.RolePack, Addr: canid.AddrPack,
		Access: message.AccessData{Type: "can", ChainID: "web4-local", DeviceID: id, Endpoint: "0x40"}}
	e1, err := session.New(session.Config{Identity: ident, Endpoint: ep1, Clock: clk, Rand: rnd, Store: session.NewMemStore(),
		Authority: auth, Proxy: modules, Route: true, Upstream: canid.AddrApp,
		AcceptPartner: func(a message.AccessData) bool { return a.Type == "http" }})
	if err != nil {
		return nil, err
	}
	e2, err := session.New(session.Config{Identity: ident, Endpoint: ep2, Clock: clk, Rand: rnd, Store: session.NewMemStore(),
		Authority: auth})
	if err != nil {
		return nil, err
	}
	return &enginePack{can1: e1, can2: e2}, nil
}

func (p *enginePack) fail(err error) {
	if err != nil {
		p.mu.Lock()
		p.errs = append(p.errs, err)
		p.mu.Unlock()
	}
}

// Run runs both engines and the routing until ctx ends.
func (p *enginePack) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); p.can1.Run(ctx) }()
	go func() { defer wg.Done(); p.can2.Run(ctx) }()
	go func() { defer wg.Done(); p.route1(ctx) }()
	go func() { defer wg.Done(); p.route2(ctx) }()
	wg.Wait()
}

// route1 handles what arrives from the app side.
func (p *enginePack) route1(ctx context.Context) {
	for {
		var ev session.Event
		select {
		case <-ctx.Done():
			return
		case ev = <-p.can1.Events():
		}
		switch e := ev.(type) {
		case session.EventForward: // for a module: re-protect for CAN2
			p.fail(p.can2.Deliver(ctx, session.Hop{Dst: e.Msg.ID.Dst}, e.Msg.ID.Type, e.Payload))
		case session.EventMessage: // material for the CAN2 engine's links
			go p.place(ctx, e)
		case session.EventCommand:
			go p.command(ctx, e)
		}
	}
}

func (p *enginePack) place(ctx context.Context, e session.EventMessage) {
	switch e.Msg.ID.Type {
	case canid.TypeBindingXfer:
		if len(e.Payload) > 0 && e.Payload[0] == 0xD2 {
			p.fail(p.can2.InstallBinding(ctx, e.Payload))
			return
		}
		req, err := message.DecodeGenerateKeysRequest(e.Payload)
		if err != nil {
			p.fail(err)
			return
		}
		pub, err := p.can2.GenerateKey(ctx, req.PartnerAccessData)
		if err != nil {
			p.fail(err)
			return
		}
		ans, err := session.EncodeKeysAnswer(pub)
		if err == nil {
			err = p.can1.Deliver(ctx, session.Hop{Dst: canid.AddrApp}, canid.TypeBindingXfer, ans)
		}
		p.fail(err)
	case canid.TypePairingCert:
		_ = p.can2.InstallPairing(ctx, e.Payload) // refusals come out as events
	case canid.TypeBindingValid:
		_, err := p.can2.ApplyBindingValidation(ctx, e.Payload)
		p.fail(err)
	}
}

// command executes a command for the pack or forwards it to its module.
func (p *enginePack) command(ctx context.Context, e session.EventCommand) {
	c := e.Command
	if c.Target == canid.AddrPack || c.Target == canid.AddrBroadcast {
		st := uint8(3)
		p.fail(e.Reply(message.StatusOK, &st))
		return
	}
	fwd := *c
	fwd.Seq, fwd.IssuedAt = 0, 0
	ack, err := p.can2.Command(ctx, c.Target, &fwd)
	if err != nil {
		p.fail(e.Reply(message.StatusFailed, nil))
		return
	}
	p.fail(e.Reply(ack.Status, ack.State))
}

// route2 handles what arrives from the modules.
func (p *enginePack) route2(ctx context.Context) {
	for {
		var ev session.Event
		select {
		case <-ctx.Done():
			return
		case ev = <-p.can2.Events():
		}
		m := ev.PeerAddr()
		up := session.Hop{Dst: canid.AddrApp, Via: canid.AddrApp, Src: m}
		switch e := ev.(type) {
		case session.EventAnnounce:
			p.fail(p.can1.Deliver(ctx, up, canid.TypeAnnounce, e.Raw))
		case session.EventKeysAnswer:
			p.fail(p.can1.Deliver(ctx, up, canid.TypeBindingXfer, e.Raw))
		case session.EventCompletion:
			p.fail(p.can1.Deliver(ctx, session.Hop{Dst: canid.AddrApp}, canid.TypeCompletion, e.Completion))
		case session.EventTelemetry:
			go func() { p.fail(p.can1.SendTelemetry(ctx, canid.AddrApp, e.Telemetry)) }()
		case session.EventEscalation:
			if e.Local {
				x := e.Escalation
				err := p.can1.Escalate(ctx, canid.AddrApp, x.Target, x.Reason, x.Urgency, x.Source)
				if err != session.ErrRateLimited {
					p.fail(err)
				}
			}
		case session.EventPairingRefused:
			p.mu.Lock()
			p.refused = append(p.refused, e)
			p.mu.Unlock()
		}
	}
}
