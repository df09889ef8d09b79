package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/modbatt/hilrun/authority"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/isotp"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
	"github.com/modbatt/hilrun/protocol/suite"
)

// Device is a node the app reaches on CAN: the pack, or a module behind it.
type Device struct {
	EntityID string
	Addr     uint8
}

// Config configures the app. Endpoint, Clock, Rand, Store and Authority are required.
type Config struct {
	EntityID string // default "hilrun-app"
	ChainID  string // ledger the bindings are recorded on; default "web4-local"
	// API is the base URL of the app's own HTTP API ("http://127.0.0.1:8080/api"): the
	// authority calls <API>/binding/generate-keys for the app's key and as the CAN relay.
	API       string
	Endpoint  bus.Endpoint
	Clock     clock.Clock
	Rand      io.Reader
	Store     session.Store
	Authority *authority.Client
	Pack      Device   // default: EntityID "pack-0", Addr 0x40
	Modules   []Device // the modules behind the pack
	Logger    *slog.Logger
	Cost      session.CostFunc
	// Timeout bounds each wait of a flow on the bus (an announce, a completion); default 60 s
	// of the app's clock.
	Timeout time.Duration
	// HandshakeRetry is how long a pairing waits for its completion before the app delivers
	// the certificate again, which makes each entity send again the handshake messages it sent
	// (a lost certificate, key half or completion, e.g. to an ISO-TP timeout under load). The
	// wait doubles after each retry; retries stop when the next would fall outside the 30 s
	// partial-pairing window (docs/protocol.md 8, R5). 0 means DefaultHandshakeRetry; a
	// negative value turns retries off.
	HandshakeRetry time.Duration
	// PairingValidity is the validity the app asks the authority for in each pairing it
	// issues; 0: the authority's default.
	PairingValidity time.Duration
	// NoAutoRenew turns off the automatic renewal of pairings (R2): by default, while Run
	// runs, the app re-pairs each pairing it set up when less than 10 % of its validity
	// remains or 5 minutes before it expires, whichever comes first.
	NoAutoRenew bool
	// FD says the app's bus is a CAN FD bus: the app segments its messages into 64-byte FD
	// frames with bit-rate switching (ISO-TP profile v1 FD) and still reads classic ones.
	FD bool
}

// App is the host app.
type App struct {
	cfg  Config
	eng  *session.Engine
	auth *suite.PublicKey
	log  *slog.Logger

	mu       sync.Mutex
	waiters  map[int]func(session.Event) bool
	nextW    int
	subs     []chan session.Event
	bindings map[string]string // "a|b" entity pair → binding ID
	pairings map[string]string // entity ID of the pack's partner (or the pack for app×pack) → pairing ID
	certs    map[string][]byte // the same key → the last pairing certificate

	renewals  map[string]*renewal // the same key → the pairing to renew
	renewWake chan struct{}       // a renewal was added or replaced
	armedKey  string              // the renewal the renewal loop waits for
	armedAt   time.Time

	retries uint64 // certificates delivered again (HandshakeRetries)
}

// New makes the app. It asks the authority for its key.
func New(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Authority == nil {
		return nil, errors.New("app: no authority client")
	}
	if cfg.EntityID == "" {
		cfg.EntityID = "hilrun-app"
	}
	if cfg.ChainID == "" {
		cfg.ChainID = "web4-local"
	}
	if cfg.Pack.EntityID == "" {
		cfg.Pack = Device{EntityID: "pack-0", Addr: canid.AddrPack}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.HandshakeRetry == 0 {
		cfg.HandshakeRetry = DefaultHandshakeRetry
	}
	key, _, err := cfg.Authority.Authority(ctx)
	if err != nil {
		return nil, fmt.Errorf("app: authority key: %w", err)
	}
	a := &App{cfg: cfg, auth: key, log: cfg.Logger, waiters: map[int]func(session.Event) bool{},
		bindings: map[string]string{}, pairings: map[string]string{}, certs: map[string][]byte{},
		renewals: map[string]*renewal{}, renewWake: make(chan struct{}, 1)}
	a.eng, err = session.New(session.Config{
		Identity: session.Identity{EntityID: cfg.EntityID, Role: message.RoleApp, Addr: canid.AddrApp, Access: a.Access()},
		Endpoint: cfg.Endpoint, Clock: cfg.Clock, Rand: cfg.Rand, Store: cfg.Store, Authority: key,
		Cost: cfg.Cost, Logger: cfg.Logger, ISOTP: isotpProfile(cfg.FD),
		Peers: []session.Peer{{Addr: cfg.Pack.Addr, EntityID: cfg.Pack.EntityID, Role: message.RolePack}},
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Engine is the app's link engine (for suites that go below the flows).
func (a *App) Engine() *session.Engine { return a.eng }

// Access is the app's access data: reached over HTTP at its API.
func (a *App) Access() message.AccessData {
	ep := a.cfg.API
	if ep == "" {
		ep = "http://localhost:8080/api"
	}
	return message.AccessData{Type: "http", ChainID: a.cfg.ChainID, DeviceID: a.cfg.EntityID, Endpoint: ep}
}

// DeviceAccess is a CAN device's access data.
func (a *App) DeviceAccess(d Device) message.AccessData {
	return message.AccessData{Type: "can", ChainID: a.cfg.ChainID, DeviceID: d.EntityID, Endpoint: fmt.Sprintf("0x%02x", d.Addr)}
}

// Run runs the engine, the event dispatch and (unless Config.NoAutoRenew) the renewal of
// pairings until ctx ends.
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go a.dispatch(ctx)
	if !a.cfg.NoAutoRenew {
		go a.renewLoop(ctx)
	}
	return a.eng.Run(ctx)
}

// Subscribe returns a channel of every engine event (telemetry, escalations, validation
// traffic …). Events are dropped for a subscriber that does not keep up.
func (a *App) Subscribe(n int) <-chan session.Event {
	ch := make(chan session.Event, max(n, 1))
	a.mu.Lock()
	a.subs = append(a.subs, ch)
	a.mu.Unlock()
	return ch
}

func (a *App) dispatch(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-a.eng.Events():
			a.mu.Lock()
			for id, w := range a.waiters {
				if w(ev) {
					delete(a.waiters, id)
				}
			}
			subs := append([]chan session.Event(nil), a.subs...)
			a.mu.Unlock()
			for _, s := range subs {
				select {
				case s <- ev:
				default:
				}
			}
		}
	}
}

// expect registers a waiter before the action that causes the event, then waits for it.
type expectation struct {
	a  *App
	id int
	ch chan session.Event
}

func (a *App) expect(match func(session.Event) bool) *expectation {
	x := &expectation{a: a, ch: make(chan session.Event, 1)}
	a.mu.Lock()
	x.id = a.nextW
	a.nextW++
	a.waiters[x.id] = func(ev session.Event) bool {
		if match(ev) {
			x.ch <- ev
			return true
		}
		return false
	}
	a.mu.Unlock()
	return x
}

func (x *expectation) wait(ctx context.Context, what string) (session.Event, error) {
	t := x.a.cfg.Clock.NewTimer(x.a.cfg.Timeout)
	defer t.Stop()
	defer func() {
		x.a.mu.Lock()
		delete(x.a.waiters, x.id)
		x.a.mu.Unlock()
	}()
	select {
	case ev := <-x.ch:
		return ev, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("app: waiting for %s: %w", what, ctx.Err())
	case <-t.C():
		return nil, fmt.Errorf("app: waiting for %s: %w", what, ErrTimeout)
	}
}

// waitRetrying waits as wait does and, while it waits, calls again after the handshake
// retry delay, doubling it each time, as long as the retry falls inside the partial-pairing
// window (docs/protocol.md 8, R5): later, the entities have discarded the pairing.
func (x *expectation) waitRetrying(ctx context.Context, what string, again func()) (session.Event, error) {
	clk := x.a.cfg.Clock
	t := clk.NewTimer(x.a.cfg.Timeout)
	defer t.Stop()
	defer func() {
		x.a.mu.Lock()
		delete(x.a.waiters, x.id)
		x.a.mu.Unlock()
	}()
	var (
		retry   clock.Timer
		retryC  <-chan time.Time
		elapsed time.Duration
		d       = x.a.cfg.HandshakeRetry
	)
	arm := func() {
		retryC = nil
		if d <= 0 || elapsed+d >= session.DefaultPairingTimeout {
			return
		}
		if retry == nil {
			retry = clk.NewTimer(d)
		} else {
			retry.Reset(d)
		}
		retryC = retry.C()
		elapsed += d
		d *= 2
	}
	arm()
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	for {
		select {
		case ev := <-x.ch:
			return ev, nil
		case <-ctx.Done():
			return nil, fmt.Errorf("app: waiting for %s: %w", what, ctx.Err())
		case <-t.C():
			return nil, fmt.Errorf("app: waiting for %s: %w", what, ErrTimeout)
		case <-retryC:
			again()
			arm()
		}
	}
}

// DefaultHandshakeRetry is Config.HandshakeRetry's default: well above a pairing's time on
// the bus at zero cost, so retries are rare, and three of them (at 2, 6 and 14 s) fit in the
// 30 s window.
const DefaultHandshakeRetry = 2 * time.Second

// HandshakeRetries is how many times the app has delivered a pairing certificate again.
func (a *App) HandshakeRetries() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.retries
}

// ErrTimeout is a flow step that did not happen within Config.Timeout.
var ErrTimeout = errors.New("app: timed out")

// isotpProfile is the segmentation of the app's bus: profile v1, over FD frames on an FD bus.
func isotpProfile(fd bool) *isotp.Config {
	c := isotp.ProfileV1()
	if fd {
		c = isotp.ProfileV1FD()
	}
	return &c
}
