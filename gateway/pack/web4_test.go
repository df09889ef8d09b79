package pack

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/nvm"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
	"github.com/modbatt/hilrun/protocol/suite"
)

// detReader is a deterministic random stream: SHA-256(seed ‖ counter).
type detReader struct {
	mu   sync.Mutex
	seed string
	n    uint64
	buf  []byte
}

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

// web4World is a pack with its gateway on, the app's link engine on CAN1 and an authority key.
type web4World struct {
	t     *testing.T
	ctx   context.Context
	auth  *suite.PrivateKey
	rnd   io.Reader
	dev   *Device
	app   *session.Engine
	appEv chan session.Event
	can1  *emu.Bus
	can2  *emu.Bus
	store Store
	stopP context.CancelFunc
	doneP chan error
}

// startPack powers the pack on (again) over the world's buses and store.
func (w *web4World) startPack() {
	w.t.Helper()
	var err error
	w.dev, err = New(Config{CAN1: w.can1.Join("pack-can1"), CAN2: w.can2.Join("pack-can2"), Clock: clock.Real{}, Authority: w.auth.Public(),
		Rand: &detReader{seed: "pack" + time.Now().String()}, Profile: mcu.Zero(), Store: w.store,
		Image: image.FromBytes("gateway", "1.2.3-test", "abc123", []byte("gateway image"))})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	w.stopP, w.doneP = stop, make(chan error, 1)
	go func() { w.doneP <- w.dev.Run(ctx) }()
}

// stopPack powers the pack off.
func (w *web4World) stopPack() {
	w.stopP()
	<-w.doneP
}

func newWeb4World(t *testing.T) *web4World {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	b1, _ := emu.New(emu.Config{Pacing: emu.AsFastAsPossible})
	b2, _ := emu.New(emu.Config{Pacing: emu.AsFastAsPossible})
	t.Cleanup(func() { b1.Close(); b2.Close() })
	auth, err := suite.GenerateKey(&detReader{seed: "authority"})
	if err != nil {
		t.Fatal(err)
	}
	w := &web4World{t: t, ctx: ctx, auth: auth, rnd: &detReader{seed: "world"}, appEv: make(chan session.Event, 256), can1: b1, can2: b2,
		store: nvm.OpenMem()}
	w.startPack()
	t.Cleanup(w.stopPack)
	w.app, err = session.New(session.Config{Identity: session.Identity{EntityID: "app", Role: message.RoleApp, Addr: canid.AddrApp,
		Access: message.AccessData{Type: "http", ChainID: "web4-local", DeviceID: "app", Endpoint: "http://localhost:8080/api"}},
		Endpoint: b1.Join("app"), Clock: clock.Real{}, Rand: &detReader{seed: "app"}, Store: session.NewMemStore(), Authority: auth.Public()})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = w.app.Run(rctx) }()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-rctx.Done():
				return
			case ev := <-w.app.Events():
				select {
				case w.appEv <- ev:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() { stop(); wg.Wait() })
	return w
}

// bindAndPair binds the app and the pack and pairs them in battery_management.
func (w *web4World) bindAndPair() {
	t := w.t
	t.Helper()
	packAccess := w.dev.web.can1.Identity().Access
	appAccess := w.app.Identity().Access
	pa, err := w.app.GenerateKey(w.ctx, packAccess)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := w.app.RequestKeys(w.ctx, session.Hop{Dst: canid.AddrPack}, appAccess)
	if err != nil {
		t.Fatalf("generate-keys through CAN1: %v", err)
	}
	pb, err := suite.ParsePublicKey(ans.SemiPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	bid := make([]byte, 16)
	io.ReadFull(w.rnd, bid)
	now := time.Now()
	cert := func(subj, aud session.Identity, key *suite.PublicKey) []byte {
		c := &message.BindingClaims{V: 1, Issuer: "test-authority", Subject: subj.EntityID, Audience: aud.EntityID,
			Expires: now.Add(24 * time.Hour).Unix(), NotBefore: now.Add(-time.Minute).Unix(), IssuedAt: now.Unix(), BindingID: bid,
			Cnf: message.Confirmation{Key: message.KeyToCOSE(key)}, Role: subj.Role, Access: subj.Access}
		b, err := message.IssueBindingCertificate(w.auth, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	packID, appID := w.dev.web.can1.Identity(), w.app.Identity()
	if err := w.app.InstallBinding(w.ctx, cert(packID, appID, pb)); err != nil {
		t.Fatal(err)
	}
	if err := w.app.Deliver(w.ctx, session.Hop{Dst: canid.AddrPack}, canid.TypeBindingXfer, cert(appID, packID, pa)); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, w.appEv, func(e session.EventAnnounce) bool {
		return e.Peer == canid.AddrPack && e.Announce.State == message.StateBound
	})

	policy := message.Policy{message.ClassCommand: message.ProtPairing, message.ClassControl: message.ProtPairing,
		message.ClassEmergency: message.ProtPairing, message.ClassStatus: message.ProtClear,
		message.ClassTelemetry: message.ProtExchange, message.ClassValidation: message.ProtBinding}
	pid, nonce := make([]byte, 16), make([]byte, 16)
	io.ReadFull(w.rnd, pid)
	io.ReadFull(w.rnd, nonce)
	ent := func(id session.Identity, kid uint16) message.Entity {
		return message.Entity{ID: id.EntityID, Role: id.Role, Addr: id.Addr, KID: kid, Access: id.Access}
	}
	md := &message.PairingMetadata{V: 1, PairingID: pid, Context: message.ContextBatteryManagement,
		Entities: []message.Entity{ent(appID, pa.KID()), ent(packID, pb.KID())},
		Timing:   message.Timing{CreatedAt: now.Unix(), ValidFrom: now.Unix(), ExpiresAt: now.Add(24 * time.Hour).Unix()},
		Policy:   policy, PolicyDigest: policy.Digest(), Nonce: nonce, AEAD: message.AlgA256GCM}
	is, err := message.IssuePairingCertificate(w.auth, md, pa, pb, w.rnd)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.app.InstallPairing(w.ctx, is.Certificate); err != nil {
		t.Fatal(err)
	}
	if err := w.app.Deliver(w.ctx, session.Hop{Dst: canid.AddrPack}, canid.TypePairingCert, is.Certificate); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, w.appEv, func(e session.EventPaired) bool { return e.Peer == canid.AddrPack })
}

func waitEvent[T session.Event](t *testing.T, ch chan session.Event, ok func(T) bool) T {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-ch:
			if e, is := ev.(T); is && ok(e) {
				return e
			}
		case <-deadline:
			var zero T
			t.Fatalf("timed out waiting for %T", zero)
			return zero
		}
	}
}

// TestWeb4CommandToPack binds and pairs the app with the pack over CAN1, sends L5 commands (to
// the pack: executed and acknowledged with its state; to a module the pack has no link to:
// refused with a failed ACK), and checks that tampered Web4 input is counted while the legacy
// firmware keeps serving.
func TestWeb4CommandToPack(t *testing.T) {
	w := newWeb4World(t)
	w.bindAndPair()
	on, off := true, false
	cl, dl := uint16(500), uint16(1000)
	cmd := &message.Command{Code: message.CmdChargeDischarge, Target: canid.AddrPack, ChargeEnable: &on, DischargeEnable: &off,
		ChargeLimit: &cl, DischargeLimit: &dl}
	ack, err := w.app.Command(w.ctx, canid.AddrPack, cmd)
	if err != nil {
		t.Fatalf("L5 command to the pack: %v", err)
	}
	if ack.Status != message.StatusOK || ack.State == nil || *ack.State != uint8(legacy.StateOff) {
		t.Errorf("ACK %+v, want OK with state Off (no app legacy traffic)", ack)
	}
	// Emergency isolate at the pack: 0x51F to every module, state Off.
	can2 := w.can2.Join("modules")
	reason := message.Reason(1)
	iso := &message.Command{Code: message.CmdEmergencyIsolate, Target: canid.AddrPack, IsolateReason: &reason}
	ack, err = w.app.Command(w.ctx, canid.AddrPack, iso)
	if err != nil || ack.Status != message.StatusOK || ack.State == nil || *ack.State != 0 {
		t.Fatalf("emergency isolate: %+v %v", ack, err)
	}
	for {
		r, err := can2.Receive(w.ctx)
		if err != nil {
			t.Fatal("no 0x51F on CAN2")
		}
		if d, err := legacy.Decode(r.Frame); err == nil && d.Msg.MsgID() == legacy.IDAllIsolate {
			if d.ModuleID != legacy.ModuleBroadcast || d.Msg.(*legacy.AllIsolate).Reason != 1 {
				t.Errorf("isolate frame %+v", d)
			}
			break
		}
	}
	cmd2 := *cmd
	cmd2.Target = 0x05
	ack, err = w.app.Command(w.ctx, canid.AddrPack, &cmd2)
	if err != nil {
		t.Fatalf("L5 command for module 5: %v", err)
	}
	if ack.Status != message.StatusFailed {
		t.Errorf("ACK for an unlinked module %+v, want failed", ack)
	}
	// A tampered command: flip a payload bit of a sealed single frame from the app.
	bad := bus.Frame{ID: canid.New(canid.TypeCommand, true, canid.LevelPairing, canid.AddrPack, canid.AddrApp).Encode(), Extended: true, Len: 8,
		Data: [64]byte{0x07, 1, 2, 3, 4, 5, 6, 7}}
	if err := w.can1.Join("intruder").Send(w.ctx, bad); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := w.dev.Stats()
		rej := uint64(0)
		for _, v := range s.Web4App.Rejected {
			rej += v
		}
		if rej > 0 && s.Web4App.Commands >= 3 && s.Heartbeats > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s := w.dev.Stats(); s.Forwarded != 1 || s.Rejected[CauseForwardFail] != 1 {
		t.Errorf("forwarded %d, rejected %v", s.Forwarded, s.Rejected)
	}
	if errors.Is(w.ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("test ran out of time")
	}
}

// TestWeb4SurvivesRestart: the pack's binding and pairing with the app live in its NVM store;
// after a power cycle the links come back, the replay window is re-synchronised (L4) and L5
// commands work again without re-pairing.
func TestWeb4SurvivesRestart(t *testing.T) {
	w := newWeb4World(t)
	w.bindAndPair()
	cmd := &message.Command{Code: message.CmdDiagnosticMode, Target: canid.AddrPack, DiagEnable: new(bool), DiagDuration: new(uint16)}
	if ack, err := w.app.Command(w.ctx, canid.AddrPack, cmd); err != nil || ack.Status != message.StatusOK {
		t.Fatalf("before the restart: %+v %v", ack, err)
	}
	names := 0
	for _, n := range w.store.(*nvm.Store).Names() {
		if len(n) > 5 && (n[:5] == "can1/" || n[:5] == "can2/") {
			names++
		}
	}
	if names == 0 {
		t.Fatalf("no Web4 records in the pack's NVM: %v", w.store.(*nvm.Store).Names())
	}
	w.stopPack()
	w.startPack()
	// The boot report: an L1 image announce with the running version and hash.
	want := image.FromBytes("gateway", "1.2.3-test", "abc123", []byte("gateway image"))
	a := waitEvent(t, w.appEv, func(e session.EventAnnounce) bool {
		return e.Peer == canid.AddrPack && e.Announce.Kind == message.AnnounceImage
	})
	if err := image.Match(a.Announce, want); err != nil {
		t.Errorf("boot report: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ack, err := w.app.Command(w.ctx, canid.AddrPack, cmd)
		if err == nil && ack.Status == message.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: %+v %v (pack stats %+v)", ack, err, w.dev.Stats().Web4App)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWeb4WitnessesModuleStateChange: a module's 0x502 reports another contactor state; the
// pack signs an L2 witness statement with its binding key and the app verifies it.
func TestWeb4WitnessesModuleStateChange(t *testing.T) {
	w := newWeb4World(t)
	w.bindAndPair()
	mod := w.can2.Join("module")
	send := func(m legacy.Message, id uint8) {
		f, err := legacy.EncodeModule(m, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := mod.Send(w.ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	send(&legacy.Announcement{Manufacturer: 2, Part: 3, UniqueID: 0x77}, legacy.ModuleUnregistered)
	deadline := time.Now().Add(5 * time.Second)
	for len(w.dev.Modules()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("module not registered")
		}
		time.Sleep(5 * time.Millisecond)
	}
	send(&legacy.Status1{State: legacy.StateOff, CellCount: 8, Voltage: 30}, 1)
	send(&legacy.Status1{State: legacy.StateStandby, CellCount: 8, Voltage: 30}, 1)
	e := waitEvent(t, w.appEv, func(e session.EventWitness) bool { return e.Peer == canid.AddrPack })
	wit := e.Witness
	if wit.Witness != "pack-0" || wit.Subject != "module-01" || wit.Event != message.EventStateChange ||
		wit.State == nil || *wit.State != uint8(legacy.StateStandby) || len(wit.ObservedHash) != 32 {
		t.Errorf("witness %+v", wit)
	}
	deadline = time.Now().Add(5 * time.Second)
	for w.dev.Stats().Witnessed != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", w.dev.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWeb4BusOffAsksForResync: a bus-off of the pack's CAN1 controller makes the pack ask the
// app for an L4 re-handshake (an escalation with reason bus errors).
func TestWeb4BusOffAsksForResync(t *testing.T) {
	w := newWeb4World(t)
	w.bindAndPair()
	if n := w.can1.ForceBusOff("pack-can1", 0); n != 1 {
		t.Fatalf("bus-off hit %d endpoints", n)
	}
	// The pack reports it once its controller hears the bus again: the app's legacy traffic.
	ka, _ := legacy.EncodeApp(&legacy.KeepAlive{}, 0)
	app := w.can1.Join("legacy-app")
	go func() {
		for w.ctx.Err() == nil {
			_ = app.Send(w.ctx, ka)
			time.Sleep(50 * time.Millisecond)
		}
	}()
	e := waitEvent(t, w.appEv, func(e session.EventEscalation) bool {
		return e.Peer == canid.AddrPack && e.Escalation.Reason == message.ReasonBusErrors
	})
	if e.Escalation.Target != message.L4PairedHandshake {
		t.Errorf("escalation %+v", e.Escalation)
	}
	if w.dev.Stats().BusOffs == 0 {
		t.Error("bus-off not counted")
	}
}
