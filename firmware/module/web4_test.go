package module

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/nvm"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
	"github.com/modbatt/hilrun/protocol/suite"
)

// web4Rig is a module and a pack's link engine on one emulated bus in real time, with the
// authority's signing key in the test. The pack's legacy side is a scripted endpoint.
type web4Rig struct {
	t      *testing.T
	ctx    context.Context
	bus    *emu.Bus
	legacy *emu.Endpoint
	auth   *suite.PrivateKey
	pack   *session.Engine
	packEv chan session.Event
	store  *nvm.Store
	dev    *Device
	stop   func()
	packK  *suite.PublicKey
	modK   *suite.PublicKey
	// timeout overrides the module's partial-pairing timeout.
	timeout time.Duration
	path    string // the NVM file
}

func access(id string, addr uint8) message.AccessData {
	return message.AccessData{Type: "can", ChainID: DefaultChainID, DeviceID: id, Endpoint: fmt.Sprintf("0x%02x", addr)}
}

func newWeb4Rig(t *testing.T) *web4Rig {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	b, err := emu.New(emu.Config{Pacing: emu.AsFastAsPossible})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	auth, err := suite.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "module.nvm")
	st, err := nvm.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &web4Rig{t: t, ctx: ctx, bus: b, legacy: b.Join("pack-legacy"), auth: auth, packEv: make(chan session.Event, 1024), store: st, path: path}
	pack, err := session.New(session.Config{
		Identity: session.Identity{EntityID: "pack-1", Role: message.RolePack, Addr: canid.AddrPack, Access: access("pack-1", canid.AddrPack)},
		Endpoint: b.Join("pack-web4"), Clock: clock.Real{}, Rand: rand.Reader, Store: session.NewMemStore(), Authority: auth.Public(),
		Peers: []session.Peer{{Addr: 1, Role: message.RoleModule}}})
	if err != nil {
		t.Fatal(err)
	}
	w.pack = pack
	pctx, pcancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = pack.Run(pctx) }()
	go func() {
		for {
			select {
			case ev := <-pack.Events():
				w.packEv <- ev
			case <-pctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() { pcancel(); <-done })
	w.start()
	return w
}

// start boots the module over the rig's NVM and registers it as module 1.
func (w *web4Rig) start() {
	t := w.t
	dev, err := New(Config{Bus: w.bus.Join("module"), NVM: w.store, UniqueID: testUID, Seed: 1, Profile: mcu.Zero(),
		Authority: w.auth.Public(), TelemetryPeriod: 100 * time.Millisecond, PairingTimeout: w.timeout})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dev.Run(ctx) }()
	w.dev = dev
	w.stop = func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(func() {
		if w.stop != nil {
			w.stop()
			w.stop = nil
		}
	})
	f, _ := legacy.EncodeModule(&legacy.Registration{ModuleID: 1, ControllerID: 1, Manufacturer: DefaultManufacturer, Part: DefaultPart, UniqueID: testUID}, legacy.ModuleUnregistered, 0)
	if err := w.legacy.Send(w.ctx, f); err != nil {
		t.Fatal(err)
	}
	for _, m := range []legacy.Message{&legacy.MaxState{State: legacy.StateOn}} {
		f, _ := legacy.EncodeModule(m, legacy.ModuleBroadcast, 0)
		w.legacy.Send(w.ctx, f)
	}
	waitStats(t, dev, "link engine", func(s Stats) bool { return s.Web4Running })
}

// restart is a power cycle: the device stops, its NVM file is closed and opened again.
func (w *web4Rig) restart() {
	w.stop()
	w.stop = nil
	if err := w.store.Close(); err != nil {
		w.t.Fatal(err)
	}
	st, err := nvm.Open(w.path)
	if err != nil {
		w.t.Fatal(err)
	}
	w.store = st
	w.t.Cleanup(func() { st.Close() })
	w.start()
}

func waitStats(t *testing.T, d *Device, what string, ok func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := d.Stats()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; stats %+v", what, s)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func packEvent[T session.Event](w *web4Rig, ok func(T) bool) T {
	w.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-w.packEv:
			if e, is := ev.(T); is && (ok == nil || ok(e)) {
				return e
			}
		case <-timeout:
			var zero T
			w.t.Fatalf("pack: no %T in time; pack stats %+v; module stats %+v", zero, w.pack.Stats(), w.dev.Stats())
			return zero
		}
	}
}

func (w *web4Rig) bind() {
	t := w.t
	t.Helper()
	modAccess := access(w.dev.Config().EntityID, 1)
	pk, err := w.pack.GenerateKey(w.ctx, modAccess)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := w.pack.RequestKeys(w.ctx, session.Hop{Dst: 1}, access("pack-1", canid.AddrPack))
	if err != nil {
		t.Fatal(err)
	}
	mk, err := suite.ParsePublicKey(ans.SemiPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	w.packK, w.modK = pk, mk
	bid := make([]byte, 16)
	rand.Read(bid)
	cert := func(subj, aud string, role message.Role, acc message.AccessData, key *suite.PublicKey) []byte {
		now := time.Now()
		c := &message.BindingClaims{V: 1, Issuer: "test-authority", Subject: subj, Audience: aud, Expires: now.Add(24 * time.Hour).Unix(),
			NotBefore: now.Add(-time.Minute).Unix(), IssuedAt: now.Unix(), BindingID: bid, Cnf: message.Confirmation{Key: message.KeyToCOSE(key)},
			Role: role, Access: acc}
		b, err := message.IssueBindingCertificate(w.auth, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if err := w.pack.InstallBinding(w.ctx, cert(modAccess.DeviceID, "pack-1", message.RoleModule, modAccess, mk)); err != nil {
		t.Fatal(err)
	}
	if err := w.pack.Deliver(w.ctx, session.Hop{Dst: 1}, canid.TypeBindingXfer,
		cert("pack-1", modAccess.DeviceID, message.RolePack, access("pack-1", canid.AddrPack), pk)); err != nil {
		t.Fatal(err)
	}
	packEvent(w, func(e session.EventAnnounce) bool { return e.Peer == 1 && e.Announce.State == message.StateBound })
}

func (w *web4Rig) pair() []byte {
	t := w.t
	t.Helper()
	policy := message.Policy{message.ClassCommand: message.ProtPairing, message.ClassControl: message.ProtPairing,
		message.ClassEmergency: message.ProtPairing, message.ClassStatus: message.ProtClear,
		message.ClassTelemetry: message.ProtExchange, message.ClassValidation: message.ProtBinding}
	pid, nonce := make([]byte, 16), make([]byte, 16)
	rand.Read(pid)
	rand.Read(nonce)
	now := time.Now()
	md := &message.PairingMetadata{V: 1, PairingID: pid, Context: message.ContextBatteryManagement,
		Entities: []message.Entity{
			{ID: "pack-1", Role: message.RolePack, Addr: canid.AddrPack, KID: w.packK.KID(), Access: access("pack-1", canid.AddrPack)},
			{ID: w.dev.Config().EntityID, Role: message.RoleModule, Addr: 1, KID: w.modK.KID(), Access: access(w.dev.Config().EntityID, 1)}},
		Timing: message.Timing{CreatedAt: now.Unix(), ValidFrom: now.Unix(), ExpiresAt: now.Add(24 * time.Hour).Unix()},
		Policy: policy, PolicyDigest: policy.Digest(), Nonce: nonce, AEAD: message.AlgA256GCM}
	is, err := message.IssuePairingCertificate(w.auth, md, w.packK, w.modK, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.pack.InstallPairing(w.ctx, is.Certificate); err != nil {
		t.Fatal(err)
	}
	if err := w.pack.Deliver(w.ctx, session.Hop{Dst: 1}, canid.TypePairingCert, is.Certificate); err != nil {
		t.Fatal(err)
	}
	packEvent(w, func(e session.EventPaired) bool { return e.Peer == 1 })
	return pid
}

func chargeCmd(enable bool, limitDA uint16) *message.Command {
	off := false
	dl := uint16(500)
	return &message.Command{Code: message.CmdChargeDischarge, Target: 1, ChargeEnable: &enable, DischargeEnable: &off,
		ChargeLimit: &limitDA, DischargeLimit: &dl}
}

func TestWeb4BindPairCommandTelemetry(t *testing.T) {
	w := newWeb4Rig(t)
	// The boot report: an L1 image announce from the module's address.
	packEvent(w, func(e session.EventAnnounce) bool {
		return e.Peer == 1 && e.Announce.Kind == message.AnnounceImage && e.Announce.ImageVersion == "dev"
	})
	w.bind()
	w.pair()
	ack, err := w.pack.Command(w.ctx, 1, chargeCmd(true, 200))
	if err != nil {
		t.Fatal(err)
	}
	if ack.Status != message.StatusOK || ack.State == nil || *ack.State != uint8(legacy.StateOff) {
		t.Fatalf("ACK %+v", ack)
	}
	var lim limits
	_ = w.dev.call(w.ctx, func() error { lim = w.dev.lim; return nil })
	if !lim.chargeEnable || lim.dischargeEnable || lim.chargeA != 20 || lim.dischargeA != 50 {
		t.Fatalf("limits after the command: %+v", lim)
	}
	// A limit beyond the hardware's is refused with bad-args.
	if ack, err := w.pack.Command(w.ctx, 1, chargeCmd(true, 5000)); err != nil || ack.Status != message.StatusBadArgs {
		t.Fatalf("over-limit command: %+v %v", ack, err)
	}
	reason := message.ReasonOperator
	if ack, err := w.pack.Command(w.ctx, 1, &message.Command{Code: message.CmdEmergencyIsolate, Target: 1, IsolateReason: &reason}); err != nil || ack.Status != message.StatusOK {
		t.Fatalf("isolate: %+v %v", ack, err)
	}
	tel := packEvent(w, func(e session.EventTelemetry) bool { return e.Peer == 1 })
	if !tel.Protected || tel.Telemetry.Addr != 1 || tel.Telemetry.CellMinMV < 3500 {
		t.Fatalf("telemetry %+v protected=%v", tel.Telemetry, tel.Protected)
	}
	// A temperature step beyond 10 °C escalates to the pack (once: rate-limited).
	if err := w.dev.TempStep(w.ctx, 3, 15); err != nil {
		t.Fatal(err)
	}
	esc := packEvent(w, func(e session.EventEscalation) bool { return !e.Local })
	if esc.Escalation.Reason != message.ReasonTempStep || esc.Escalation.Source != 1 {
		t.Fatalf("escalation %+v", esc.Escalation)
	}
	s := w.dev.Stats()
	if s.Commands["ok"] != 2 || s.Commands["bad-args"] != 1 || s.Telemetry == 0 || s.StepTriggers == 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestWeb4ResetResumesWithoutNonceReuse(t *testing.T) {
	w := newWeb4Rig(t)
	w.bind()
	w.pair()
	for range 3 {
		if _, err := w.pack.Command(w.ctx, 1, chargeCmd(true, 100)); err != nil {
			t.Fatal(err)
		}
	}
	before := w.pack.Stats().Telemetry
	w.restart()
	// The restarted module's telemetry and ACKs verify at the pack: its counters resumed
	// above everything it sent before (a reused nonce would be refused as a replay).
	deadline := time.Now().Add(10 * time.Second)
	for {
		ack, err := w.pack.Command(w.ctx, 1, chargeCmd(true, 150))
		if err == nil && ack.Status == message.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no command after the reset: %v; pack %+v", err, w.pack.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitStats(t, w.dev, "telemetry after reset", func(s Stats) bool { return s.Telemetry > 0 })
	time.Sleep(300 * time.Millisecond)
	ps := w.pack.Stats()
	if ps.Telemetry <= before || ps.Rejected[session.CauseReplay] != 0 || ps.Rejected[session.CauseAuth] != 0 {
		t.Fatalf("pack after the module's reset: %+v", ps)
	}
}

func TestWeb4KeyLossAndFactoryReset(t *testing.T) {
	w := newWeb4Rig(t)
	w.bind()
	w.pair()
	if err := w.dev.LoseKeys(w.ctx); err != nil {
		t.Fatal(err)
	}
	kl := packEvent(w, func(e session.EventKeyLoss) bool { return e.Peer == 1 })
	if kl.LostKID != w.modK.KID() {
		t.Fatalf("key loss names KID %d, want %d", kl.LostKID, w.modK.KID())
	}
	if l, ok, _ := w.dev.Link(w.ctx); ok && (l.Bound || l.Paired) {
		t.Fatalf("link after key loss: %+v", l)
	}
	// Re-binding makes a new key; the old pairing is gone.
	w.bind()
	if w.modK.KID() == kl.LostKID {
		t.Fatal("re-binding kept the lost key")
	}
	w.pair()
	if ack, err := w.pack.Command(w.ctx, 1, chargeCmd(true, 100)); err != nil || ack.Status != message.StatusOK {
		t.Fatalf("command after re-pairing: %+v %v", ack, err)
	}
	if err := w.dev.FactoryReset(w.ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range w.store.Names() {
		if n != recUniqueID && n != recMfgPart {
			t.Errorf("record %q survived the factory reset", n)
		}
	}
	if s := w.dev.Stats(); s.ModuleID != legacy.ModuleUnregistered || s.Web4Running {
		t.Fatalf("after factory reset: %+v", s)
	}
}

// TestWeb4ReplayRefusedAndEscalated: a recorded L5 command replayed three times executes once,
// is refused as a replay, and the module escalates to the pack; the link keeps working.
func TestWeb4ReplayRefusedAndEscalated(t *testing.T) {
	w := newWeb4Rig(t)
	w.bind()
	w.pair()
	spy := w.bus.Join("spy")
	cmdID := canid.New(canid.TypeCommand, true, canid.LevelPairing, 1, canid.AddrPack).Encode()
	if ack, err := w.pack.Command(w.ctx, 1, chargeCmd(true, 100)); err != nil || ack.Status != message.StatusOK {
		t.Fatalf("%+v %v", ack, err)
	}
	var rec []bus.Frame
	// The command's frames went out before its ACK came back: they are queued at the spy.
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		ctx, cancel := context.WithTimeout(w.ctx, 20*time.Millisecond)
		r, err := spy.Receive(ctx)
		cancel()
		if err != nil {
			break
		}
		if r.Frame.ID == cmdID && r.Frame.Extended {
			rec = append(rec, r.Frame)
		}
	}
	if len(rec) == 0 {
		t.Fatal("recorded no command frames")
	}
	for i := 1; i <= 3; i++ {
		for _, f := range rec {
			if err := spy.Send(w.ctx, f); err != nil {
				t.Fatal(err)
			}
		}
		waitStats(t, w.dev, "replay refused", func(s Stats) bool { return s.Session.Rejected[session.CauseReplay] >= uint64(i) })
	}
	esc := packEvent(w, func(e session.EventEscalation) bool { return !e.Local && e.Escalation.Reason == message.ReasonReplay })
	if esc.Escalation.Source != canid.AddrPack {
		t.Fatalf("escalation about %#02x, want the pack", esc.Escalation.Source)
	}
	if n := w.dev.Stats().Commands["ok"]; n != 1 {
		t.Fatalf("%d commands executed, want 1", n)
	}
	if ack, err := w.pack.Command(w.ctx, 1, chargeCmd(false, 100)); err != nil || ack.Status != message.StatusOK {
		t.Fatalf("after the replays: %+v %v", ack, err)
	}
	// The module charged its binding and pairing crypto to its profile.
	ops := map[suite.Op]int{}
	for _, c := range w.dev.Stats().Compute {
		ops[c.Op] = c.Units
	}
	if ops[suite.OpKeyGen] != 1 || ops[suite.OpVerify] < 2 || ops[suite.OpECDH] < 1 || ops[suite.OpAEADBlock] == 0 {
		t.Fatalf("charged operations %v", ops)
	}
}

// TestWeb4PartialPairingTimeout: a pairing certificate whose partner never sends its half
// times out on the module after the partial-pairing timeout and leaves no pending material.
func TestWeb4PartialPairingTimeout(t *testing.T) {
	w := newWeb4Rig(t)
	w.stop()
	w.stop = nil
	w.timeout = 300 * time.Millisecond
	w.start()
	w.bind()
	policy := message.Policy{message.ClassCommand: message.ProtPairing, message.ClassTelemetry: message.ProtExchange}
	pid, nonce := make([]byte, 16), make([]byte, 16)
	rand.Read(pid)
	rand.Read(nonce)
	now := time.Now()
	md := &message.PairingMetadata{V: 1, PairingID: pid, Context: message.ContextBatteryManagement,
		Entities: []message.Entity{
			{ID: "pack-1", Role: message.RolePack, Addr: canid.AddrPack, KID: w.packK.KID(), Access: access("pack-1", canid.AddrPack)},
			{ID: w.dev.Config().EntityID, Role: message.RoleModule, Addr: 1, KID: w.modK.KID(), Access: access(w.dev.Config().EntityID, 1)}},
		Timing: message.Timing{CreatedAt: now.Unix(), ValidFrom: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix()},
		Policy: policy, PolicyDigest: policy.Digest(), Nonce: nonce, AEAD: message.AlgA256GCM}
	is, err := message.IssuePairingCertificate(w.auth, md, w.packK, w.modK, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// Only the module gets the certificate: the pack never answers with its half.
	if err := w.pack.Deliver(w.ctx, session.Hop{Dst: 1}, canid.TypePairingCert, is.Certificate); err != nil {
		t.Fatal(err)
	}
	waitStats(t, w.dev, "partial pairing timeout", func(s Stats) bool { return s.Session.Timeouts == 1 })
	l, ok, err := w.dev.Link(w.ctx)
	if err != nil || !ok || l.Pending || l.Paired || !l.Bound {
		t.Fatalf("link after the timeout: %+v %v %v", l, ok, err)
	}
}

// TestWeb4RenewalBalancingDiagnostics: a renewed pairing (a second certificate for the same
// entities and context) takes over seamlessly; balancing and diagnostic-mode commands show in
// the 0x502 status flags; an unregistered module's key loss is announced at registration.
func TestWeb4RenewalBalancingDiagnostics(t *testing.T) {
	w := newWeb4Rig(t)
	w.bind()
	first := w.pair()
	on, target, dur := true, uint16(3700), uint16(1)
	if ack, err := w.pack.Command(w.ctx, 1, &message.Command{Code: message.CmdCellBalancing, Target: 1, BalanceEnable: &on,
		BalanceTargetMV: &target, BalanceMask: []byte{0x0F}}); err != nil || ack.Status != message.StatusOK {
		t.Fatalf("balancing: %+v %v", ack, err)
	}
	if ack, err := w.pack.Command(w.ctx, 1, &message.Command{Code: message.CmdDiagnosticMode, Target: 1, DiagEnable: &on,
		DiagDuration: &dur}); err != nil || ack.Status != message.StatusOK {
		t.Fatalf("diagnostic mode: %+v %v", ack, err)
	}
	var flags uint8
	_ = w.dev.call(w.ctx, func() error { flags = w.dev.statusFlags(); return nil })
	if flags&FlagBalancing == 0 || flags&FlagDiag == 0 {
		t.Fatalf("status flags %#x", flags)
	}
	time.Sleep(1500 * time.Millisecond)
	_ = w.dev.call(w.ctx, func() error { flags = w.dev.statusFlags(); return nil })
	if flags&FlagDiag != 0 {
		t.Fatalf("diagnostic mode outlived its duration: %#x", flags)
	}
	second := w.pair()
	if string(first) == string(second) {
		t.Fatal("renewal reused the pairing ID")
	}
	if ack, err := w.pack.Command(w.ctx, 1, chargeCmd(true, 100)); err != nil || ack.Status != message.StatusOK {
		t.Fatalf("after renewal: %+v %v", ack, err)
	}
	l, _, _ := w.dev.Link(w.ctx)
	if string(l.PairingID) != string(second) {
		t.Fatalf("module runs pairing %x, want the renewed %x", l.PairingID, second)
	}

	// Key loss while unregistered: announced once the module has an ID again.
	f, _ := legacy.EncodeModule(&legacy.AllDeregister{Reason: 1}, legacy.ModuleBroadcast, 0)
	w.legacy.Send(w.ctx, f)
	waitStats(t, w.dev, "deregistration", func(s Stats) bool { return !s.Web4Running })
	if err := w.dev.LoseKeys(w.ctx); err != nil {
		t.Fatal(err)
	}
	f, _ = legacy.EncodeModule(&legacy.Registration{ModuleID: 1, ControllerID: 1, Manufacturer: DefaultManufacturer, Part: DefaultPart, UniqueID: testUID}, legacy.ModuleUnregistered, 0)
	w.legacy.Send(w.ctx, f)
	if kl := packEvent(w, func(e session.EventKeyLoss) bool { return e.Peer == 1 }); kl.LostKID != w.modK.KID() {
		t.Fatalf("key loss names KID %d, want %d", kl.LostKID, w.modK.KID())
	}
}

// TestWeb4SafetyLimitsAndStepRateLimit: a safety-limit command below the cells' voltage stops
// charging and raises the fault flag; repeated temperature steps escalate once per second.
func TestWeb4SafetyLimitsAndStepRateLimit(t *testing.T) {
	w := newWeb4Rig(t)
	w.bind()
	w.pair()
	if err := w.dev.SetDemand(w.ctx, 20); err != nil { // a charger
		t.Fatal(err)
	}
	f, _ := legacy.EncodeModule(&legacy.StateChange{ModuleID: 1, State: legacy.StateOn}, 1, 0)
	w.legacy.Send(w.ctx, f)
	waitStats(t, w.dev, "On", func(s Stats) bool { return s.State == legacy.StateOn })
	maxMV, minMV, tmax, tmin, imax := uint16(3600), uint16(3000), int16(550), int16(-100), uint16(300)
	bad := minMV
	if ack, err := w.pack.Command(w.ctx, 1, &message.Command{Code: message.CmdSafetyLimits, Target: 1, CellMaxMV: &bad, CellMinMV: &bad,
		TempMaxDC: &tmax, TempMinDC: &tmin, CurrentMax: &imax}); err == nil && ack.Status == message.StatusOK {
		t.Fatal("min = max accepted")
	}
	if ack, err := w.pack.Command(w.ctx, 1, &message.Command{Code: message.CmdSafetyLimits, Target: 1, CellMaxMV: &maxMV, CellMinMV: &minMV,
		TempMaxDC: &tmax, TempMinDC: &tmin, CurrentMax: &imax}); err != nil || ack.Status != message.StatusOK {
		t.Fatalf("safety limits: %+v %v", ack, err)
	}
	time.Sleep(300 * time.Millisecond)
	var cur float64
	var flags uint8
	_ = w.dev.call(w.ctx, func() error { cur, flags = w.dev.model.current, w.dev.statusFlags(); return nil })
	if cur != 0 || flags&FlagFault == 0 {
		t.Fatalf("charging at %g A above the cell limit (flags %#x)", cur, flags)
	}
	for range 3 {
		if err := w.dev.TempStep(w.ctx, 0, 15); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
	}
	s := waitStats(t, w.dev, "steps", func(s Stats) bool { return s.StepTriggers >= 3 })
	if s.Session.Escalations != 1 || s.Session.EscalationsCut < 2 {
		t.Fatalf("three steps within a second: %d escalations sent, %d cut", s.Session.Escalations, s.Session.EscalationsCut)
	}
}
