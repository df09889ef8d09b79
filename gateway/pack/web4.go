package pack

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/isotp"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
	"github.com/modbatt/hilrun/protocol/suite"
	"time"
)

// MinISOTPSessions is the floor of concurrent ISO-TP receptions per engine (spec 5): the pack
// takes part in transfers with up to 31 modules and the app at once.
const MinISOTPSessions = 32

// gateway is the Web4 side of the pack: one link engine per bus and the routing between them.
// CAN1's engine holds the pack's binding and pairing with the app and receives, as a proxy,
// everything addressed to the modules behind the pack; CAN2's engine holds a binding and a
// pairing per module. Nothing crosses from one bus to the other without being opened under
// the keys of the hop it arrived on and sealed again under the keys of the next hop.
type gateway struct {
	d          *Device
	can1, can2 *session.Engine
	meter      atomic.Pointer[mcu.Meter] // set by SetMeter; nil records nothing
	runCtx     context.Context
	ready      chan struct{}
	events     chan Event // legacy events to witness
	xfers      chan transferMsg

	mu                                       sync.Mutex
	forwarded, relayed, witnessed, escalated uint64
	transferred                              uint64
	rejected                                 map[Cause]uint64
}

func newGateway(d *Device) (*gateway, error) {
	cfg := &d.cfg
	g := &gateway{d: d, ready: make(chan struct{}), events: make(chan Event, 64), xfers: make(chan transferMsg, transferQueue),
		rejected: map[Cause]uint64{}}
	addr := cfg.Addr()
	ident := session.Identity{EntityID: cfg.EntityID, Role: message.RolePack, Addr: addr,
		Access:       message.AccessData{Type: "can", ChainID: "web4-local", DeviceID: cfg.EntityID, Endpoint: fmt.Sprintf("0x%02x", addr)},
		ImageVersion: cfg.Image.Version, ImageHash: append([]byte(nil), cfg.Image.Hash[:]...)}
	if cfg.Image.Version == "" {
		ident.ImageVersion, ident.ImageHash = "", nil
	}
	tp := isotp.ProfileV1()
	if tp.MaxSessions < MinISOTPSessions {
		tp.MaxSessions = MinISOTPSessions
	}
	base := func(ep bus.Endpoint, prefix string) session.Config {
		var st session.Store = session.NewMemStore()
		if cfg.Store != nil {
			st = prefixed{cfg.Store, prefix}
		}
		return session.Config{Identity: ident, Endpoint: ep, External: true, Clock: cfg.Clock, Rand: cfg.Rand,
			Store: st, Authority: cfg.Authority, Cost: g.charge, Logger: cfg.Logger, ISOTP: &tp}
	}
	c1 := base(cfg.CAN1, "can1/")
	if cfg.CAN1FD {
		fd := isotp.ProfileV1FD()
		fd.MaxSessions = tp.MaxSessions
		c1.ISOTP = &fd
	}
	c1.Proxy, c1.Route, c1.Upstream = cfg.Modules, true, canid.AddrApp
	c1.AcceptPartner = func(a message.AccessData) bool { return a.Type == "http" }
	c2 := base(cfg.CAN2, "can2/")
	if cfg.Session != nil {
		cfg.Session(&c1)
		cfg.Session(&c2)
	}
	var err error
	if g.can1, err = session.New(c1); err != nil {
		return nil, fmt.Errorf("pack: CAN1 engine: %w", err)
	}
	if g.can2, err = session.New(c2); err != nil {
		return nil, fmt.Errorf("pack: CAN2 engine: %w", err)
	}
	return g, nil
}

// charge charges a crypto operation on the pack's MCU profile.
func (g *gateway) charge(op suite.Op, n int) {
	ctx := g.runCtx
	if ctx == nil {
		ctx = context.Background()
	}
	if err := mcu.Charge(ctx, g.d.clk, g.d.cfg.Profile, op, n); err != nil && ctx.Err() == nil {
		g.d.cfg.Logger.Debug("pack: charge", "op", op, "err", err)
		return
	}
	if m := g.meter.Load(); m != nil {
		m.Add(op, n, g.d.cfg.Profile.Cost(op, n))
	}
}

func (g *gateway) reject(c Cause) {
	g.mu.Lock()
	g.rejected[c]++
	g.mu.Unlock()
}

func (g *gateway) count(p *uint64) {
	g.mu.Lock()
	*p++
	g.mu.Unlock()
}

// feed hands a Web4 frame to the engine of its bus.
func (g *gateway) feed(can1 bool, r bus.Received) {
	if can1 {
		g.can1.Feed(r)
	} else {
		g.can2.Feed(r)
	}
}

// event takes a legacy event from the loop (never blocks it).
func (g *gateway) event(ev Event) {
	if _, ok := ev.(EventModuleState); !ok {
		return
	}
	select {
	case g.events <- ev:
	default:
		g.reject(CauseEventsFull)
	}
}

func (g *gateway) run(ctx context.Context) {
	g.runCtx = ctx
	var wg sync.WaitGroup
	wg.Add(6)
	go func() { defer wg.Done(); _ = g.can1.Run(ctx) }()
	go func() { defer wg.Done(); _ = g.can2.Run(ctx) }()
	go func() { defer wg.Done(); g.fromApp(ctx) }()
	go func() { defer wg.Done(); g.fromModules(ctx) }()
	go func() { defer wg.Done(); g.witness(ctx) }()
	go func() { defer wg.Done(); g.transfers(ctx) }()
	g.boot(ctx)
	wg.Wait()
}

// boot sends the boot report (L1 announce of kind image) to the app. It is a multi-frame
// message, so it goes to one node (a broadcast would get no flow control).
func (g *gateway) boot(ctx context.Context) {
	if g.d.cfg.Image.Version == "" {
		return
	}
	// Nobody asks for it again: a report lost to an ISO-TP timeout is sent again.
	if err := clock.Retry(ctx, g.d.clk, bootReportAttempts, time.Second, func(ctx context.Context) error {
		return g.can1.Announce(ctx, canid.AddrApp, message.AnnounceImage)
	}); err != nil && ctx.Err() == nil {
		g.d.cfg.Logger.Warn("pack: boot report", "err", err)
	}
}

func (g *gateway) fail(what string, err error) {
	if err == nil || g.runCtx.Err() != nil {
		return
	}
	g.reject(CauseWeb4)
	g.d.cfg.Logger.Warn("pack: gateway", "what", what, "err", err)
}

// fromApp handles what the CAN1 engine reports.
func (g *gateway) fromApp(ctx context.Context) {
	for {
		var ev session.Event
		select {
		case <-ctx.Done():
			return
		case ev = <-g.can1.Events():
		}
		switch e := ev.(type) {
		case session.EventForward: // for a module: opened on CAN1, sealed again for CAN2
			g.fail("forward", g.can2.Deliver(ctx, session.Hop{Dst: e.Msg.ID.Dst}, e.Msg.ID.Type, e.Payload))
		case session.EventMessage:
			go g.place(ctx, e)
		case session.EventCommand:
			go g.command(ctx, e)
		case session.EventTransfer:
			g.transfer(true, e)
		case session.EventEscalation:
			if e.Local {
				g.d.cfg.Logger.Info("pack: escalation towards the app", "reason", e.Escalation.Reason, "sent", e.Sent)
			}
		}
	}
}

// place routes binding and pairing material the CAN1 engine could not place: it belongs to a
// module link on CAN2.
func (g *gateway) place(ctx context.Context, e session.EventMessage) {
	switch e.Msg.ID.Type {
	case canid.TypeBindingXfer:
		if len(e.Payload) > 0 && e.Payload[0] == 0xD2 { // COSE_Sign1 tag: a binding record
			g.fail("binding", g.can2.InstallBinding(ctx, e.Payload))
			return
		}
		req, err := message.DecodeGenerateKeysRequest(e.Payload)
		if err != nil {
			g.fail("generate-keys", err)
			return
		}
		pub, err := g.can2.GenerateKey(ctx, req.PartnerAccessData)
		if err != nil {
			g.fail("generate-keys", err)
			return
		}
		ans, err := session.EncodeKeysAnswer(pub)
		if err == nil {
			err = g.can1.Deliver(ctx, session.Hop{Dst: canid.AddrApp}, canid.TypeBindingXfer, ans)
		}
		g.fail("keys answer", err)
	case canid.TypePairingCert:
		_ = g.can2.InstallPairing(ctx, e.Payload) // refusals come out as events
	case canid.TypeBindingValid:
		_, err := g.can2.ApplyBindingValidation(ctx, e.Payload)
		g.fail("L7", err)
	case canid.TypePairingValid:
		_, err := g.can2.ApplyPairingValidation(ctx, e.Payload)
		g.fail("L6", err)
	default:
		g.reject(CauseWeb4)
	}
}

// command executes an L5 command verified under the app pairing: the pack's own, or one for
// its modules, re-protected under each module's pairing; the module's ACK goes back to the
// app under the app pairing.
func (g *gateway) command(ctx context.Context, e session.EventCommand) {
	c := e.Command
	if c.Target == g.d.Addr() {
		var st uint8
		err := g.d.call(ctx, func(pc *core, out *output) {
			if c.Code == message.CmdEmergencyIsolate {
				reason := uint8(0)
				if c.IsolateReason != nil {
					reason = uint8(*c.IsolateReason)
				}
				pc.isolate(reason, out)
			}
			st = uint8(pc.target)
		})
		if err != nil {
			g.fail("ack", e.Reply(message.StatusFailed, nil))
			return
		}
		g.fail("ack", e.Reply(message.StatusOK, &st))
		return
	}
	var targets []uint8
	if c.Target == canid.AddrBroadcast {
		links, err := g.can2.Links(ctx)
		if err != nil {
			g.fail("links", e.Reply(message.StatusFailed, nil))
			return
		}
		for _, l := range links {
			if l.Paired {
				targets = append(targets, l.Peer.Addr)
			}
		}
	} else {
		targets = []uint8{c.Target}
	}
	if len(targets) == 0 {
		g.reject(CauseForwardFail)
		g.fail("ack", e.Reply(message.StatusFailed, nil))
		return
	}
	status, state := message.StatusOK, (*uint8)(nil)
	for _, t := range targets {
		fwd := *c
		fwd.Target, fwd.Seq, fwd.IssuedAt = t, 0, 0
		ack, err := g.can2.Command(ctx, t, &fwd)
		g.count(&g.forwarded)
		if err != nil {
			g.reject(CauseForwardFail)
			g.d.cfg.Logger.Warn("pack: forwarding a command", "module", t, "err", err)
			status = message.StatusFailed
			continue
		}
		if ack.Status != message.StatusOK && status == message.StatusOK {
			status = ack.Status
		}
		if len(targets) == 1 {
			state = ack.State
		}
	}
	g.fail("ack", e.Reply(status, state))
	g.count(&g.relayed)
}

// fromModules handles what the CAN2 engine reports.
func (g *gateway) fromModules(ctx context.Context) {
	for {
		var ev session.Event
		select {
		case <-ctx.Done():
			return
		case ev = <-g.can2.Events():
		}
		m := ev.PeerAddr()
		up := session.Hop{Dst: canid.AddrApp, Via: canid.AddrApp, Src: m}
		switch e := ev.(type) {
		case session.EventAnnounce: // boot reports and key loss: sent again if lost, off the event loop
			go func() {
				g.relay("announce", clock.Retry(ctx, g.d.clk, bootReportAttempts, time.Second, func(ctx context.Context) error {
					return g.can1.Deliver(ctx, up, canid.TypeAnnounce, e.Raw)
				}))
			}()
		case session.EventKeysAnswer:
			g.relay("keys answer", g.can1.Deliver(ctx, up, canid.TypeBindingXfer, e.Raw))
		case session.EventCompletion:
			g.relay("completion", g.can1.Deliver(ctx, session.Hop{Dst: canid.AddrApp}, canid.TypeCompletion, e.Completion))
		case session.EventTelemetry:
			go func() { g.relay("telemetry", g.can1.SendTelemetry(ctx, canid.AddrApp, e.Telemetry)) }()
		case session.EventShortTelemetry: // a single frame, verified: the same samples as a single frame on CAN1
			go func() { g.relay("short telemetry", g.can1.RelayShortTelemetry(ctx, canid.AddrApp, m, e.Samples)) }()
		case session.EventEscalation:
			x := e.Escalation
			src := x.Source
			if !e.Local && src == 0 {
				src = m
			}
			err := g.can1.Escalate(ctx, canid.AddrApp, x.Target, x.Reason, x.Urgency, src)
			switch {
			case errors.Is(err, session.ErrRateLimited):
			case err == nil:
				g.count(&g.escalated)
			default:
				g.fail("escalation", err)
			}
		case session.EventPairingRefused:
			g.d.cfg.Logger.Warn("pack: module pairing refused", "module", m, "err", e.Err)
		case session.EventTransfer:
			g.transfer(false, e)
		}
	}
}

func (g *gateway) relay(what string, err error) {
	if err == nil {
		g.count(&g.relayed)
		return
	}
	g.fail(what, err)
}

// witness sends an L2 witness statement to the app for each state change a module reports.
func (g *gateway) witness(ctx context.Context) {
	for {
		var ev Event
		select {
		case <-ctx.Done():
			return
		case ev = <-g.events:
		}
		e, isState := ev.(EventModuleState)
		if !isState {
			continue
		}
		subject := fmt.Sprintf("module-%02x", e.ModuleID)
		if l, found, err := g.can2.Link(ctx, e.ModuleID); err == nil && found && l.Peer.EntityID != "" {
			subject = l.Peer.EntityID
		}
		st := uint8(e.To)
		obs := sha256.Sum256([]byte{uint8(uint16(legacy.IDStatus1) >> 8), uint8(uint16(legacy.IDStatus1) & 0xFF), e.ModuleID, uint8(e.From), st})
		stmt := &message.Witness{V: message.Version1, Witness: g.d.cfg.EntityID, Subject: subject,
			Event: message.EventStateChange, ObservedHash: obs[:], ObservedAt: g.d.clk.Now().Unix(), State: &st}
		if err := g.can1.Witness(ctx, canid.AddrApp, stmt); errors.Is(err, session.ErrNotBound) {
			continue // no app binding yet: nobody to witness to
		} else if err != nil {
			g.fail("witness", err)
			continue
		}
		g.count(&g.witnessed)
	}
}

// prefixed keeps one engine's records under a name prefix of the pack's store.
type prefixed struct {
	s      Store
	prefix string
}

func (p prefixed) Get(name string) ([]byte, error) {
	v, ok := p.s.Get(p.prefix + name)
	if !ok {
		return nil, fmt.Errorf("%w: %s", session.ErrNotFound, name)
	}
	return v, nil
}

func (p prefixed) Put(name string, value []byte) error { return p.s.Put(p.prefix+name, value) }
func (p prefixed) Delete(name string) error            { return p.s.Delete(p.prefix + name) }

// busError tells the engine of a bus that its controller went bus-off (docs/protocol.md 8.1).
func (g *gateway) busError(can1 bool) {
	if can1 {
		g.can1.BusError()
	} else {
		g.can2.BusError()
	}
}

// bootReportAttempts is how often a boot report (or a relayed announce) is tried: after 1, 2
// and 4 s more, inside bring-up's 10 s wait.
const bootReportAttempts = 4
