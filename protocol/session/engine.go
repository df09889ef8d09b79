package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/freshness"
	"github.com/modbatt/hilrun/protocol/isotp"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// CostFunc charges the modelled cost of n operations op (a device's MCU profile). It may
// block on the device's clock: the engine is busy for that long, as the MCU would be.
type CostFunc func(op suite.Op, n int)

// Identity is who the node is.
type Identity struct {
	EntityID     string
	Role         message.Role
	Addr         uint8
	Access       message.AccessData
	ImageVersion string // announced in L1
	ImageHash    []byte // 32 bytes, announced in L1
}

// Peer is a node this one keeps a link to. EntityID may be empty until the binding names it.
type Peer struct {
	Addr     uint8
	EntityID string
	Role     message.Role
}

// Defaults of Config.
const (
	DefaultPairingTimeout = 30 * time.Second
	DefaultAckTimeout     = 2 * time.Second
	DefaultEvents         = 256
	DefaultInput          = 256
)

// Config configures an Engine. Identity, Endpoint, Clock, Rand and Store are required.
type Config struct {
	Identity Identity
	// Endpoint carries the engine's frames. Run reads it too unless External is set; then the
	// device reads the bus and hands the engine its Web4 frames with Feed.
	Endpoint bus.Endpoint
	External bool
	// Unhandled receives frames Run read that are not Web4 (legacy, unknown). Nil drops them.
	Unhandled func(bus.Received)
	Clock     clock.Clock
	Rand      io.Reader
	Store     Store
	Authority *suite.PublicKey // the authority's key: binding records and pairing certificates
	Cost      CostFunc         // nil charges nothing
	Logger    *slog.Logger
	ISOTP     *isotp.Config // nil means isotp.ProfileV1()
	Peers     []Peer        // links known up front (more are added by generate-keys requests)
	// Proxy lists node addresses this node receives for on behalf of nodes behind it (the pack on
	// CAN1, for its modules); their messages come out as EventForward.
	Proxy []uint8
	// Route makes binding and pairing material this engine cannot place (a generate-keys
	// request for a partner it does not serve, a record or certificate for a key it did not
	// make) come out as EventMessage instead of being refused: the pack's CAN1 engine hands
	// its modules' bindings to its CAN2 engine this way.
	Route bool
	// AcceptPartner, with Route, says which partners' generate-keys requests this engine serves.
	AcceptPartner func(message.AccessData) bool
	// Upstream is the peer this node sends its own escalation requests to (a module: the pack;
	// the pack's CAN1 engine: the app); 0 raises them as events only.
	Upstream       uint8
	PairingTimeout time.Duration // partial pairing (R5); 0 means 30 s
	AckTimeout     time.Duration // Command's default wait; 0 means 2 s
	Window         int           // replay window; 0 means freshness.DefaultWindow
	CounterBlock   uint64        // counter reservation block; 0 means freshness.DefaultBlock
	ShortLayout    *freshness.Layout
	Escalation     EscalationPolicy
	Events         int // event queue; 0 means DefaultEvents
	// After a start the engine accepts nothing at pairing level from a peer until an L4 paired
	// handshake re-synchronised the replay window (docs/protocol.md 6.4). NoSyncOnBoot turns that off
	// (tests and fuzzing only: a replay recorded before the reset would then be accepted once).
	NoSyncOnBoot bool
}

// Engine is the link engine of one node on one bus.
type Engine struct {
	cfg     Config
	clk     clock.Clock
	log     *slog.Logger
	node    *isotp.Node
	proxies map[uint8]*isotp.Node
	short   freshness.Layout

	events chan Event
	reqs   chan func()
	input  chan bus.Received
	done   chan struct{}
	runMu  sync.Mutex
	ran    bool

	statMu sync.Mutex
	stats  Stats

	// Owned by the transport goroutine.
	txq  map[uint32][]*outMsg
	busy map[uint32]*outMsg
	// Handed from the protocol goroutine to the transport.
	txMu      sync.Mutex
	txPending []*outMsg
	txKick    chan struct{}
	inbox     chan inbound

	// Owned by the protocol goroutine (the loop).
	links    map[uint8]*link
	acks     map[ackKey]chan ackResult
	ackCmd   map[ackKey][]byte
	keyWait  map[uint8][]chan *message.GenerateKeysResponse
	lim      map[uint8]*limiter
	authFail map[uint8]*trigger
	replays  map[uint8]*trigger
	runCtx   context.Context
}

type ackKey struct {
	peer uint8
	seq  uint32
}

type ackResult struct {
	ack *message.Ack
	err error
}

type outMsg struct {
	msg  isotp.Message
	res  chan error // nil: nobody waits
	from *isotp.Node
}

// New makes an engine and loads its links from the store.
func New(cfg Config) (*Engine, error) {
	switch {
	case cfg.Endpoint == nil:
		return nil, errors.New("session: no endpoint")
	case cfg.Clock == nil:
		return nil, errors.New("session: no clock")
	case cfg.Rand == nil:
		return nil, errors.New("session: no random source")
	case cfg.Store == nil:
		return nil, errors.New("session: no store")
	case cfg.Identity.EntityID == "":
		return nil, errors.New("session: no entity ID")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PairingTimeout <= 0 {
		cfg.PairingTimeout = DefaultPairingTimeout
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.Window <= 0 {
		cfg.Window = freshness.DefaultWindow
	}
	if cfg.CounterBlock == 0 {
		cfg.CounterBlock = freshness.DefaultBlock
	}
	if cfg.Events <= 0 {
		cfg.Events = DefaultEvents
	}
	cfg.Escalation.fill()
	icfg := isotp.ProfileV1()
	if cfg.ISOTP != nil {
		icfg = *cfg.ISOTP
	}
	node, err := isotp.NewNode(cfg.Identity.Addr, icfg)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	e := &Engine{cfg: cfg, clk: cfg.Clock, log: cfg.Logger, node: node, proxies: map[uint8]*isotp.Node{},
		events: make(chan Event, cfg.Events), reqs: make(chan func()), input: make(chan bus.Received, DefaultInput),
		done: make(chan struct{}), txKick: make(chan struct{}, 1), inbox: make(chan inbound, DefaultInput), links: map[uint8]*link{}, txq: map[uint32][]*outMsg{}, busy: map[uint32]*outMsg{},
		acks: map[ackKey]chan ackResult{}, ackCmd: map[ackKey][]byte{}, keyWait: map[uint8][]chan *message.GenerateKeysResponse{},
		lim: map[uint8]*limiter{}, authFail: map[uint8]*trigger{}, replays: map[uint8]*trigger{},
		stats: Stats{Rejected: map[Cause]uint64{}}}
	e.short = freshness.Classic()
	if cfg.ShortLayout != nil {
		e.short = *cfg.ShortLayout
	}
	for _, a := range cfg.Proxy {
		n, err := isotp.NewNode(a, icfg)
		if err != nil {
			return nil, fmt.Errorf("session: proxy %#02x: %w", a, err)
		}
		e.proxies[a] = n
	}
	if err := e.loadLinks(); err != nil {
		return nil, err
	}
	return e, nil
}

// Events returns the engine's events. Read it: when the queue is full, events are dropped and
// counted (Stats.EventsDropped); the engine never blocks on it.
func (e *Engine) Events() <-chan Event { return e.events }

// Stats returns a snapshot of the counters.
func (e *Engine) Stats() Stats {
	e.statMu.Lock()
	defer e.statMu.Unlock()
	return e.stats.clone()
}

// Addr is the node's address.
func (e *Engine) Addr() uint8 { return e.cfg.Identity.Addr }

// Identity is the node's identity.
func (e *Engine) Identity() Identity { return e.cfg.Identity }

func (e *Engine) count(f func(s *Stats)) {
	e.statMu.Lock()
	f(&e.stats)
	e.statMu.Unlock()
}

func (e *Engine) emit(ev Event) {
	select {
	case e.events <- ev:
	default:
		e.count(func(s *Stats) { s.EventsDropped++; s.Rejected[CauseOverload]++ })
	}
}

// reject counts a rejected message and returns the error.
func (e *Engine) reject(peer uint8, c Cause, err error) error {
	e.count(func(s *Stats) { s.Rejected[c]++ })
	e.log.Debug("session: rejected", "peer", peer, "cause", c, "err", err)
	return &RejectError{Cause: c, Peer: peer, Err: err}
}

func (e *Engine) charge(op suite.Op, n int) {
	if e.cfg.Cost != nil && n > 0 {
		e.cfg.Cost(op, n)
	}
}

// BusError reports a bus-off (or a long error-passive spell) of this node's controller: it asks
// the upstream peer for an L4 re-handshake (docs/protocol.md 8.1), rate-limited. Devices that read the
// bus themselves (External) call it; Run calls it for the endpoint it reads.
func (e *Engine) BusError() {
	select {
	case e.reqs <- func() {
		e.raise(e.cfg.Identity.Addr, message.L4PairedHandshake, message.ReasonBusErrors, message.UrgencyNormal, 1)
	}:
	case <-e.done:
	default:
		go func() {
			select {
			case e.reqs <- func() {
				e.raise(e.cfg.Identity.Addr, message.L4PairedHandshake, message.ReasonBusErrors, message.UrgencyNormal, 1)
			}:
			case <-e.done:
			}
		}()
	}
}

// Feed hands the engine a received frame (External mode). It does not block: when the input
// queue is full the frame is dropped and counted.
func (e *Engine) Feed(r bus.Received) {
	select {
	case e.input <- r:
	default:
		e.count(func(s *Stats) { s.Rejected[CauseOverload]++ })
	}
}

// do runs f on the loop and waits for it.
func (e *Engine) do(ctx context.Context, f func() error) error {
	res := make(chan error, 1)
	select {
	case e.reqs <- func() { res <- f() }:
	case <-ctx.Done():
		return ctx.Err()
	case <-e.done:
		return ErrClosed
	}
	select {
	case err := <-res:
		return err
	case <-e.done:
		return ErrClosed
	}
}

// Run runs the engine until ctx ends. It returns ctx's error, or the endpoint's when reading
// it failed.
//
// Two goroutines share the work, as an MCU's CAN interrupt and main loop do: the transport
// runs ISO-TP (frames, flow control, timers) and never waits for cryptography, so a peer's
// transfer is served while the protocol goroutine is busy with a charged operation; the
// protocol goroutine owns the links and handles whole messages in order.
func (e *Engine) Run(ctx context.Context) error {
	e.runMu.Lock()
	if e.ran {
		e.runMu.Unlock()
		return errors.New("session: Run called twice")
	}
	e.ran = true
	e.runMu.Unlock()
	defer close(e.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.runCtx = ctx
	rerr := make(chan error, 1)
	var wg sync.WaitGroup
	if !e.cfg.External {
		wg.Add(1)
		go func() { defer wg.Done(); e.read(ctx, rerr) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); e.transport(ctx) }()
	defer wg.Wait()
	defer cancel()
	defer e.failAcks()
	e.boot()
	wake := clock.NewDeadline(e.clk)
	defer wake.Stop()
	for {
		dl, ok := e.pairingDeadline()
		tick := wake.C(dl, ok)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-rerr:
			return err
		case in := <-e.inbox:
			e.dispatch(in)
		case f := <-e.reqs:
			f()
		case <-tick:
			wake.Fired()
			e.expirePairings()
		}
	}
}

func (e *Engine) read(ctx context.Context, rerr chan<- error) {
	for {
		r, err := e.cfg.Endpoint.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, bus.ErrBusOff) {
				e.BusError()
				continue
			}
			rerr <- fmt.Errorf("session: receive: %w", err)
			return
		}
		if canid.Classify(r.Frame.ID, r.Frame.Extended) != canid.Web4 {
			if e.cfg.Unhandled != nil {
				e.cfg.Unhandled(r)
			}
			continue
		}
		select {
		case e.input <- r:
		case <-ctx.Done():
			return
		}
	}
}

func (e *Engine) failAcks() {
	for k, w := range e.acks {
		w <- ackResult{err: ErrClosed}
		delete(e.acks, k)
	}
}

// pairingDeadline is the earliest partial-pairing deadline.
func (e *Engine) pairingDeadline() (time.Time, bool) {
	var best time.Time
	ok := false
	for _, l := range e.links {
		if l.pend != nil && (!ok || l.pend.deadline.Before(best)) {
			best, ok = l.pend.deadline, true
		}
	}
	return best, ok
}

func (e *Engine) expirePairings() {
	now := e.clk.Now()
	for _, l := range e.links {
		if l.pend != nil && !now.Before(l.pend.deadline) {
			e.pairingTimedOut(l)
		}
	}
}

// inbound is what the transport hands the protocol goroutine: a reassembled message, or a
// raw single-frame telemetry frame.
type inbound struct {
	msg isotp.Message
	raw *bus.Frame
}

func (e *Engine) dispatch(in inbound) {
	if in.raw != nil {
		id, err := canid.Decode(in.raw.ID, in.raw.Extended)
		if err == nil {
			e.handleShort(id, *in.raw)
		}
		return
	}
	m := in.msg
	if m.ID.Dst != e.cfg.Identity.Addr && m.ID.Dst != canid.AddrBroadcast {
		e.handleProxied(m)
		return
	}
	e.handleMessage(m)
}

// send queues a message for the transport (protocol goroutine).
func (e *Engine) send(msg isotp.Message, res chan error) {
	e.txMu.Lock()
	e.txPending = append(e.txPending, &outMsg{msg: msg, res: res})
	e.txMu.Unlock()
	select {
	case e.txKick <- struct{}{}:
	default:
	}
}

// sendFrame sends one raw frame (single-frame telemetry).
func (e *Engine) sendFrame(f bus.Frame) error {
	ctx, cancel := context.WithTimeout(e.runCtx, e.node.Config().NAs)
	defer cancel()
	if err := e.cfg.Endpoint.Send(ctx, f); err != nil {
		return fmt.Errorf("session: send: %w", err)
	}
	e.count(func(s *Stats) { s.TxMessages++ })
	return nil
}
