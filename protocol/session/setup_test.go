package session

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// detReader is a deterministic random stream: SHA-256(seed ‖ counter).
type detReader struct {
	mu   sync.Mutex
	seed string
	n    uint64
	buf  []byte
}

func newReader(seed string) *detReader { return &detReader{seed: seed} }

func (r *detReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.buf) < len(p) {
		h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(r.seed), r.n))
		r.n++
		r.buf = append(r.buf, h[:]...)
	}
	copy(p, r.buf)
	r.buf = r.buf[len(p):]
	return len(p), nil
}

var _ io.Reader = (*detReader)(nil)

func access(id string, ep string) message.AccessData {
	typ := "can"
	if ep == "" {
		typ, ep = "http", "http://localhost:8080/api"
	}
	return message.AccessData{Type: typ, ChainID: "test-chain", DeviceID: id, Endpoint: ep}
}

// node is one engine under test with its event log.
type node struct {
	t     testing.TB
	eng   *Engine
	store *MemStore
	cfg   Config
	ev    chan Event
	stop  context.CancelFunc
	done  chan error
	// autoAck answers every command with this status (nil: the test answers).
	autoAck *message.Status
}

type world struct {
	t    testing.TB
	bus  *emu.Bus
	clk  clock.Clock
	auth *suite.PrivateKey
	rnd  *detReader
	ctx  context.Context
}

func newWorld(t testing.TB, clk clock.Clock) *world {
	t.Helper()
	if clk == nil {
		clk = clock.Real{}
	}
	b, err := emu.New(emu.Config{Pacing: emu.AsFastAsPossible, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	auth, err := suite.GenerateKey(newReader("authority"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return &world{t: t, bus: b, clk: clk, auth: auth, rnd: newReader("world"), ctx: ctx}
}

func (w *world) identity(id string, role message.Role, addr uint8) Identity {
	ep := fmt.Sprintf("0x%02x", addr)
	if role == message.RoleApp {
		ep = ""
	}
	return Identity{EntityID: id, Role: role, Addr: addr, Access: access(id, ep)}
}

func (w *world) start(id Identity, store *MemStore, mod func(*Config)) *node {
	w.t.Helper()
	if store == nil {
		store = NewMemStore()
	}
	cfg := Config{Identity: id, Endpoint: w.bus.Join(id.EntityID), Clock: w.clk, Rand: newReader("rand " + id.EntityID + fmt.Sprint(store.Puts())),
		Store: store, Authority: w.auth.Public()}
	if mod != nil {
		mod(&cfg)
	}
	eng, err := New(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{t: w.t, eng: eng, store: store, cfg: cfg, ev: make(chan Event, 1024), stop: cancel, done: make(chan error, 1)}
	ok := message.StatusOK
	n.autoAck = &ok
	go func() { n.done <- eng.Run(ctx) }()
	go n.pump(ctx)
	w.t.Cleanup(n.halt)
	return n
}

func (n *node) pump(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-n.eng.Events():
			if c, ok := ev.(EventCommand); ok && n.autoAck != nil {
				st := uint8(3)
				_ = c.Reply(*n.autoAck, &st)
			}
			select {
			case n.ev <- ev:
			default:
			}
		}
	}
}

// halt stops the engine (a reset, when a new engine is started over the same store).
func (n *node) halt() {
	n.stop()
	<-n.done
	n.done <- nil
	n.cfg.Endpoint.Close()
}

// waitFor returns the first event of type T that satisfies ok.
func waitFor[T Event](t testing.TB, n *node, ok func(T) bool) T {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-n.ev:
			if e, is := ev.(T); is && (ok == nil || ok(e)) {
				return e
			}
		case <-timeout:
			var zero T
			t.Fatalf("%s: no %T in time; stats %+v", n.cfg.Identity.EntityID, zero, n.eng.Stats())
			return zero
		}
	}
}

// bind binds a (the upper entity) and b: each makes its key, a installs b's record locally and
// delivers b's record over the bus.
func (w *world) bind(a, b *node) []byte {
	t := w.t
	t.Helper()
	pa, err := a.eng.GenerateKey(w.ctx, b.cfg.Identity.Access)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := a.eng.RequestKeys(w.ctx, Hop{Dst: b.cfg.Identity.Addr}, a.cfg.Identity.Access)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := suite.ParsePublicKey(ans.SemiPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	bid := make([]byte, 16)
	io.ReadFull(w.rnd, bid)
	certFor := func(subj, aud *node, key *suite.PublicKey) []byte {
		now := w.clk.Now()
		c := &message.BindingClaims{V: 1, Issuer: "test-authority", Subject: subj.cfg.Identity.EntityID,
			Audience: aud.cfg.Identity.EntityID, Expires: now.Add(365 * 24 * time.Hour).Unix(), NotBefore: now.Add(-time.Minute).Unix(),
			IssuedAt: now.Unix(), BindingID: bid, Cnf: message.Confirmation{Key: message.KeyToCOSE(key)},
			Role: subj.cfg.Identity.Role, Access: subj.cfg.Identity.Access}
		b, err := message.IssueBindingCertificate(w.auth, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if err := a.eng.InstallBinding(w.ctx, certFor(b, a, pb)); err != nil {
		t.Fatal(err)
	}
	if err := a.eng.Deliver(w.ctx, Hop{Dst: b.cfg.Identity.Addr}, canid.TypeBindingXfer, certFor(a, b, pa)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a, func(e EventAnnounce) bool {
		return e.Peer == b.cfg.Identity.Addr && e.Announce.State == message.StateBound
	})
	return bid
}

func (w *world) metadata(a, b *node, ctx message.Context, policy message.Policy) *message.PairingMetadata {
	if policy == nil {
		policy = message.Policy{message.ClassCommand: message.ProtPairing, message.ClassControl: message.ProtPairing,
			message.ClassEmergency: message.ProtPairing, message.ClassStatus: message.ProtClear,
			message.ClassTelemetry: message.ProtExchange, message.ClassValidation: message.ProtBinding}
	}
	la, _, _ := a.eng.Link(w.ctx, b.cfg.Identity.Addr)
	lb, _, _ := b.eng.Link(w.ctx, a.cfg.Identity.Addr)
	pid := make([]byte, 16)
	nonce := make([]byte, 16)
	io.ReadFull(w.rnd, pid)
	io.ReadFull(w.rnd, nonce)
	now := w.clk.Now()
	ent := func(n *node, kid uint16) message.Entity {
		id := n.cfg.Identity
		return message.Entity{ID: id.EntityID, Role: id.Role, Addr: id.Addr, KID: kid, Access: id.Access}
	}
	return &message.PairingMetadata{V: 1, PairingID: pid, Context: ctx,
		Entities: []message.Entity{ent(a, la.OwnKID), ent(b, lb.OwnKID)},
		Timing:   message.Timing{CreatedAt: now.Unix(), ValidFrom: now.Unix(), ExpiresAt: now.Add(30 * 24 * time.Hour).Unix()},
		Policy:   policy, PolicyDigest: policy.Digest(), Nonce: nonce, AEAD: message.AlgA256GCM}
}

func (w *world) issue(a, b *node, md *message.PairingMetadata) *message.Issued {
	w.t.Helper()
	ka := a.publicKey(b.cfg.Identity.Addr)
	kb := b.publicKey(a.cfg.Identity.Addr)
	is, err := message.IssuePairingCertificate(w.auth, md, ka, kb, w.rnd)
	if err != nil {
		w.t.Fatal(err)
	}
	return is
}

func (n *node) publicKey(peer uint8) *suite.PublicKey {
	var pub *suite.PublicKey
	n.eng.do(context.Background(), func() error { pub = n.eng.links[peer].key.Public(); return nil })
	return pub
}

// pair pairs a (entity A, the collector) and b in a context: a installs its certificate
// locally and delivers b's over the bus.
func (w *world) pair(a, b *node, policy message.Policy) []byte {
	t := w.t
	t.Helper()
	md := w.metadata(a, b, message.ContextBatteryManagement, policy)
	is := w.issue(a, b, md)
	if err := a.eng.InstallPairing(w.ctx, is.Certificate); err != nil {
		t.Fatal(err)
	}
	if err := a.eng.Deliver(w.ctx, Hop{Dst: b.cfg.Identity.Addr}, canid.TypePairingCert, is.Certificate); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a, func(e EventPaired) bool { return e.Peer == b.cfg.Identity.Addr })
	waitFor(t, b, func(e EventPaired) bool { return e.Peer == a.cfg.Identity.Addr })
	c := waitFor(t, a, func(e EventCompletion) bool { return e.Peer == b.cfg.Identity.Addr })
	comp, err := message.DecodeCompletion(c.Completion)
	if err != nil {
		t.Fatal(err)
	}
	if err := message.VerifyCompletion(comp, message.CompletionExpect{PairingID: md.PairingID, ValidationNonce: is.ValidationNonce,
		MetadataHash: is.MetadataHash, Keys: [2]*suite.PublicKey{a.publicKey(b.cfg.Identity.Addr), nil}, Required: [2]bool{true, false}}, w.clk.Now()); err != nil {
		t.Fatalf("authority's check of the completion: %v", err)
	}
	return md.PairingID
}

func chargeCmd() *message.Command {
	on, off := true, false
	cl, dl := uint16(500), uint16(1000)
	return &message.Command{Code: message.CmdChargeDischarge, Target: 0x01, ChargeEnable: &on, DischargeEnable: &off,
		ChargeLimit: &cl, DischargeLimit: &dl}
}
