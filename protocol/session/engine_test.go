package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

func packAndModule(t *testing.T, w *world, mod func(*Config)) (*node, *node) {
	pack := w.start(w.identity("PC-0001", message.RolePack, canid.AddrPack), nil, mod)
	module := w.start(w.identity("BM-0001", message.RoleModule, 0x01), nil, func(c *Config) {
		c.Upstream = canid.AddrPack
		if mod != nil {
			mod(c)
		}
	})
	return pack, module
}

func TestBindPairCommandTelemetry(t *testing.T) {
	w := newWorld(t, nil)
	pack, module := packAndModule(t, w, nil)
	bid := w.bind(pack, module)
	lp, _, _ := pack.eng.Link(w.ctx, 0x01)
	lm, _, _ := module.eng.Link(w.ctx, canid.AddrPack)
	if !lp.Bound || !lm.Bound || string(lp.BindingID) != string(bid) || lp.PeerKID != lm.OwnKID || lm.PeerKID != lp.OwnKID {
		t.Fatalf("binding: pack %+v module %+v", lp, lm)
	}
	pid := w.pair(pack, module, nil)

	// L5: charge enable, acknowledged.
	ack, err := pack.eng.Command(w.ctx, 0x01, chargeCmd())
	if err != nil {
		t.Fatal(err)
	}
	if ack.Status != message.StatusOK || ack.State == nil || *ack.State != 3 {
		t.Fatalf("ack %+v", ack)
	}
	cmd := waitFor(t, module, func(e EventCommand) bool { return true })
	if !*cmd.Command.ChargeEnable || cmd.Command.Seq != ack.Seq {
		t.Fatalf("command %+v", cmd.Command)
	}

	// Telemetry under the telemetry key, and single-frame telemetry with a truncated MAC.
	tel := &message.Telemetry{Seq: 1, Addr: 1, State: 3, SOC: 150, VoltageMV: 51200, CurrentMA: 12500,
		CellMinMV: 3190, CellMaxMV: 3210, TempMinDC: 215, TempMaxDC: 250}
	if err := module.eng.SendTelemetry(w.ctx, canid.AddrPack, tel); err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, pack, func(e EventTelemetry) bool { return true })
	if !got.Protected || got.Telemetry.VoltageMV != 51200 {
		t.Fatalf("telemetry %+v", got)
	}
	for i := range 3 {
		if err := module.eng.SendShortTelemetry(w.ctx, canid.AddrPack, message.ShortTelemetry{{Signal: message.Signal(2), Raw: uint16(0xFF83 - i)}}); err != nil {
			t.Fatal(err)
		}
		st := waitFor(t, pack, func(e EventShortTelemetry) bool { return true })
		if st.Counter != uint64(i) || st.Samples[0].Raw != uint16(0xFF83-i) {
			t.Fatalf("short telemetry %d: %+v", i, st)
		}
	}
	lp, _, _ = pack.eng.Link(w.ctx, 0x01)
	if !lp.Paired || string(lp.PairingID) != string(pid) || !lp.Completed {
		t.Fatalf("pack link %+v", lp)
	}
	if s := pack.eng.Stats(); len(nonZero(s.Rejected)) != 0 {
		t.Fatalf("pack rejected %v", s.Rejected)
	}
	if s := module.eng.Stats(); len(nonZero(s.Rejected)) != 0 {
		t.Fatalf("module rejected %v", s.Rejected)
	}
}

func nonZero(m map[Cause]uint64) map[Cause]uint64 {
	out := map[Cause]uint64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// recorder joins the bus and keeps every frame with a given identifier.
type recorder struct {
	ep     bus.Endpoint
	frames chan bus.Frame
}

func (w *world) record(t *testing.T, id canid.ID) *recorder {
	r := &recorder{ep: w.bus.Join("attacker"), frames: make(chan bus.Frame, 256)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for {
			rx, err := r.ep.Receive(ctx)
			if err != nil {
				return
			}
			if rx.Frame.ID == id.Encode() {
				r.frames <- rx.Frame
			}
		}
	}()
	return r
}

func (r *recorder) take(t *testing.T, n int) []bus.Frame {
	var out []bus.Frame
	for len(out) < n {
		select {
		case f := <-r.frames:
			out = append(out, f)
		case <-time.After(5 * time.Second):
			t.Fatalf("recorded %d of %d frames", len(out), n)
		}
	}
	return out
}

func (r *recorder) inject(t *testing.T, frames []bus.Frame) {
	for _, f := range frames {
		if err := r.ep.Send(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
}

func waitStat(t *testing.T, n *node, c Cause, want uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if n.eng.Stats().Rejected[c] >= want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s: %s rejections %d, want %d (all: %v)", n.cfg.Identity.EntityID, c, n.eng.Stats().Rejected[c], want, nonZero(n.eng.Stats().Rejected))
}

// TestReplayTamperWrongLevel: a recorded command replayed is refused as a replay and never
// reaches the device; a tampered copy fails authentication; frames at the wrong key level are
// refused as such. Three replays escalate.
func TestReplayTamperWrongLevel(t *testing.T) {
	w := newWorld(t, nil)
	pack, module := packAndModule(t, w, nil)
	w.bind(pack, module)
	w.pair(pack, module, nil)
	cmdID := canid.New(canid.TypeCommand, true, canid.LevelPairing, 0x01, canid.AddrPack)
	rec := w.record(t, cmdID)
	if _, err := pack.eng.Command(w.ctx, 0x01, chargeCmd()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, module, func(e EventCommand) bool { return true })
	frames := rec.take(t, 7) // 47-byte envelope: FF + 6 CFs
	for i := 1; i <= 3; i++ {
		rec.inject(t, frames)
		waitStat(t, module, CauseReplay, uint64(i))
	}
	esc := waitFor(t, module, func(e EventEscalation) bool { return e.Local && e.Escalation.Reason == message.ReasonReplay })
	if !esc.Sent || esc.Escalation.Target != message.L6PairingValidation {
		t.Fatalf("replay escalation %+v", esc)
	}
	waitFor(t, pack, func(e EventEscalation) bool { return !e.Local && e.Escalation.Reason == message.ReasonReplay })

	tampered := append([]bus.Frame(nil), frames...)
	tampered[3].Data[4] ^= 0x40
	rec.inject(t, tampered)
	waitStat(t, module, CauseAuth, 1)

	// A command frame in the clear, and one at binding level: wrong level.
	clear := bus.Frame{ID: canid.New(canid.TypeCommand, false, 0, 0x01, canid.AddrPack).Encode(), Extended: true, Len: 8,
		Data: [64]byte{0x03, 1, 2, 3, 0xCC, 0xCC, 0xCC, 0xCC}}
	binding := clear
	binding.ID = canid.New(canid.TypeCommand, true, canid.LevelBinding, 0x01, canid.AddrPack).Encode()
	rec.inject(t, []bus.Frame{clear, binding})
	waitStat(t, module, CauseWrongLevel, 2)

	select {
	case ev := <-module.ev:
		if c, ok := ev.(EventCommand); ok {
			t.Fatalf("a replayed or forged command reached the device: %+v", c.Command)
		}
	default:
	}
	// The genuine link still works.
	if ack, err := pack.eng.Command(w.ctx, 0x01, chargeCmd()); err != nil || ack.Status != message.StatusOK {
		t.Fatalf("after the attacks: %v %+v", err, ack)
	}
}

// TestPartialPairingTimeout: a pairing whose peer never answers is discarded after 30 s of the
// node's clock, and its certificate is refused afterwards.
func TestPartialPairingTimeout(t *testing.T) {
	sim := clock.NewSim(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	w := newWorld(t, sim)
	pack, module := packAndModule(t, w, nil)
	w.bind(pack, module)
	md := w.metadata(pack, module, message.ContextBatteryManagement, nil)
	is := w.issue(pack, module, md)
	if err := pack.eng.InstallPairing(w.ctx, is.Certificate); err != nil {
		t.Fatal(err)
	}
	waitFor(t, pack, func(e EventPairingStarted) bool { return true })
	sim.Advance(29 * time.Second)
	if l, _, _ := pack.eng.Link(w.ctx, 0x01); !l.Pending {
		t.Fatal("pairing gone before 30 s")
	}
	sim.Advance(2 * time.Second)
	to := waitFor(t, pack, func(e EventPairingTimeout) bool { return true })
	if string(to.PairingID) != string(md.PairingID) {
		t.Fatalf("timeout of %x", to.PairingID)
	}
	if l, _, _ := pack.eng.Link(w.ctx, 0x01); l.Pending || l.Paired {
		t.Fatalf("link after timeout %+v", l)
	}
	if err := pack.eng.InstallPairing(w.ctx, is.Certificate); !errors.Is(err, ErrRevoked) {
		t.Fatalf("certificate after its timeout: %v", err)
	}
	if pack.eng.Stats().Timeouts != 1 {
		t.Fatalf("stats %+v", pack.eng.Stats())
	}
}

// TestCounterResumeAfterReset: a reset sender resumes above its reserved ceiling, so no
// (key, counter) pair repeats; a reset receiver accepts nothing at pairing level until an L4
// handshake re-synchronised its window, then works again.
func TestCounterResumeAfterReset(t *testing.T) {
	w := newWorld(t, nil)
	short := func(c *Config) { c.AckTimeout = 300 * time.Millisecond }
	pack, module := packAndModule(t, w, short)
	w.bind(pack, module)
	w.pair(pack, module, nil)
	var seqs []uint32
	for range 3 {
		ack, err := pack.eng.Command(w.ctx, 0x01, chargeCmd())
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, ack.Seq)
	}
	// Reset the pack: a new engine over the same NVM.
	pack.halt()
	pack2 := w.start(pack.cfg.Identity, pack.store, short)
	waitFor(t, pack2, func(e EventResynced) bool { return true })
	ack, err := pack2.eng.Command(w.ctx, 0x01, chargeCmd())
	if err != nil {
		t.Fatal(err)
	}
	if ack.Seq < 256 {
		t.Fatalf("counter after reset %d, earlier %v: a nonce may repeat", ack.Seq, seqs)
	}
	// Reset the module: it refuses pairing-level traffic until L4 re-synchronised it.
	module.halt()
	module2 := w.start(module.cfg.Identity, module.store, func(c *Config) { short(c); c.Upstream = canid.AddrPack })
	waitFor(t, module2, func(e EventResynced) bool { return true })
	if ack, err := pack2.eng.Command(w.ctx, 0x01, chargeCmd()); err != nil || ack.Status != message.StatusOK {
		t.Fatalf("after module reset: %v %+v", err, ack)
	}
}

// TestPolicy: telemetry sent clear where the policy asks for the telemetry key is dropped and
// escalated; a command class the policy omits is answered "policy".
func TestPolicy(t *testing.T) {
	w := newWorld(t, nil)
	pack, module := packAndModule(t, w, nil)
	w.bind(pack, module)
	w.pair(pack, module, message.Policy{message.ClassCommand: message.ProtPairing, message.ClassTelemetry: message.ProtExchange,
		message.ClassValidation: message.ProtBinding})
	cmd := &message.Command{Code: message.CmdSafetyLimits, Target: 1, CellMaxMV: u16p(4200), CellMinMV: u16p(2800),
		TempMaxDC: i16p(600), TempMinDC: i16p(-200), CurrentMax: u16p(1000)}
	if _, err := pack.eng.Command(w.ctx, 0x01, cmd); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("control command under a policy without control: %v", err)
	}
	att := w.record(t, canid.ID{})
	tel := message.Telemetry{V: 1, Seq: 1, At: time.Now().Unix(), Addr: 1, CellMinMV: 1, CellMaxMV: 2}
	pt, _ := tel.Encode()
	if len(pt) > 62 {
		t.Fatal("test telemetry does not fit")
	}
	id := canid.New(canid.TypeTelemetry, false, 0, canid.AddrPack, 0x01)
	// Segment it by hand: FF + CFs, classic.
	var frames []bus.Frame
	ff := bus.Frame{ID: id.Encode(), Extended: true, Len: 8}
	ff.Data[0], ff.Data[1] = 0x10, byte(len(pt))
	copy(ff.Data[2:8], pt)
	frames = append(frames, ff)
	for i, sn := 6, 1; i < len(pt); i, sn = i+7, sn+1 {
		cf := bus.Frame{ID: id.Encode(), Extended: true, Len: 8}
		cf.Data[0] = 0x20 | byte(sn&0xF)
		copy(cf.Data[1:8], pt[i:])
		frames = append(frames, cf)
	}
	att.inject(t, frames)
	waitStat(t, pack, CauseBelowPolicy, 1)
	waitFor(t, pack, func(e EventEscalation) bool { return e.Local && e.Escalation.Reason == message.ReasonPolicy })
}

func u16p(v uint16) *uint16 { return &v }
func i16p(v int16) *int16   { return &v }

func TestEscalationRateLimit(t *testing.T) {
	w := newWorld(t, nil)
	pack, module := packAndModule(t, w, nil)
	w.bind(pack, module)
	var sent, cut int
	for range 10 {
		err := module.eng.Escalate(w.ctx, canid.AddrPack, message.L6PairingValidation, message.ReasonAnomaly, message.UrgencyNormal, 0)
		switch {
		case err == nil:
			sent++
		case errors.Is(err, ErrRateLimited):
			cut++
		default:
			t.Fatal(err)
		}
	}
	if sent != 1 || cut != 9 {
		t.Fatalf("sent %d cut %d, want 1 and 9 (one per reason per second)", sent, cut)
	}
	waitFor(t, pack, func(e EventEscalation) bool { return !e.Local && e.Escalation.Reason == message.ReasonAnomaly })
}

func TestRebuildPairingKeys(t *testing.T) {
	half := func(b byte) []byte {
		h := make([]byte, 32)
		for i := range h {
			h[i] = b + byte(i)
		}
		return h
	}
	want := suiteDerive(half(0x00), half(0x10), half(0x30), half(0x50))
	got := rebuildPairingKeys(want.Key[:])
	if got != want {
		t.Fatal("keys rebuilt from K_P differ from the derivation")
	}
}

// TestWitnessAndSignedHandshake: the pack's L2 witness verifies at the module's side of the
// binding, and an L3 signed handshake completes both ways.
func TestWitnessAndSignedHandshake(t *testing.T) {
	w := newWorld(t, nil)
	pack, module := packAndModule(t, w, nil)
	w.bind(pack, module)
	st := uint8(3)
	wit := &message.Witness{Subject: "BM-0001", Event: message.EventStateChange, ObservedHash: make([]byte, 32), State: &st}
	if err := pack.eng.Witness(w.ctx, 0x01, wit); err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, module, func(e EventWitness) bool { return true })
	if got.Witness.Witness != "PC-0001" || *got.Witness.State != 3 {
		t.Fatalf("witness %+v", got.Witness)
	}
	if err := pack.eng.SignedHandshake(w.ctx, 0x01); err != nil {
		t.Fatal(err)
	}
	waitFor(t, module, func(e EventHandshake) bool { return e.Level == message.L3SignedHandshake })
	if err := module.eng.SignedHandshake(w.ctx, canid.AddrPack); err != nil {
		t.Fatal(err)
	}
}

// TestRenewalSeamless: a renewed pairing replaces the old one while commands flow; none is
// lost, the old keys are erased once the new KID verified, and the old certificate is refused.
func TestRenewalSeamless(t *testing.T) {
	w := newWorld(t, nil)
	pack, module := packAndModule(t, w, nil)
	w.bind(pack, module)
	old := w.pair(pack, module, nil)
	stop := make(chan struct{})
	errs := make(chan error, 1)
	var acks int
	go func() {
		defer close(errs)
		for {
			select {
			case <-stop:
				return
			default:
			}
			ack, err := pack.eng.Command(w.ctx, 0x01, chargeCmd())
			if err != nil || ack.Status != message.StatusOK {
				errs <- fmt.Errorf("command during renewal: %v %+v", err, ack)
				return
			}
			acks++
		}
	}()
	time.Sleep(5 * time.Millisecond)
	md := w.metadata(pack, module, message.ContextBatteryManagement, nil)
	is := w.issue(pack, module, md)
	if err := pack.eng.InstallPairing(w.ctx, is.Certificate); err != nil {
		t.Fatal(err)
	}
	if err := pack.eng.Deliver(w.ctx, Hop{Dst: 0x01}, canid.TypePairingCert, is.Certificate); err != nil {
		t.Fatal(err)
	}
	waitFor(t, pack, func(e EventPaired) bool { return string(e.PairingID) == string(md.PairingID) })
	waitFor(t, module, func(e EventRenewed) bool { return string(e.Old) == string(old) })
	time.Sleep(5 * time.Millisecond)
	close(stop)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if acks == 0 {
		t.Fatal("no command ran across the renewal")
	}
	for _, n := range []*node{pack, module} {
		if r := nonZero(n.eng.Stats().Rejected); len(r) != 0 {
			t.Fatalf("%s rejected %v during the renewal", n.cfg.Identity.EntityID, r)
		}
	}
	l, _, _ := module.eng.Link(w.ctx, canid.AddrPack)
	if string(l.PairingID) != string(md.PairingID) {
		t.Fatalf("module still on %x", l.PairingID)
	}
	t.Logf("%d commands acknowledged across the renewal", acks)
}

// TestStepTrigger: a temperature jump of more than 10 °C between readings a second apart asks
// the upstream for a diagnostic escalation.
func TestStepTrigger(t *testing.T) {
	w := newWorld(t, nil)
	pack, module := packAndModule(t, w, nil)
	pack.cfg.Upstream = 0
	w.bind(pack, module)
	w.pair(pack, module, nil)
	for _, temp := range []int16{250, 260, 420} {
		tel := &message.Telemetry{Seq: 1, Addr: 1, CellMinMV: 3200, CellMaxMV: 3210, TempMinDC: 200, TempMaxDC: temp}
		if err := module.eng.SendTelemetry(w.ctx, canid.AddrPack, tel); err != nil {
			t.Fatal(err)
		}
		waitFor(t, pack, func(e EventTelemetry) bool { return e.Telemetry.TempMaxDC == temp })
	}
	e := waitFor(t, pack, func(e EventEscalation) bool { return e.Local })
	if e.Escalation.Reason != message.ReasonTempStep || e.Escalation.Source != 0x01 || e.Escalation.Target != message.L5PairedCommand {
		t.Fatalf("escalation %+v", e.Escalation)
	}
}

// TestKeyLossAtBoot: a module that boots without its binding key announces the loss with the
// lost KID, and the pack raises an escalation to L7 about it.
func TestKeyLossAtBoot(t *testing.T) {
	w := newWorld(t, nil)
	pack, module := packAndModule(t, w, nil)
	w.bind(pack, module)
	w.pair(pack, module, nil)
	lm, _, _ := module.eng.Link(w.ctx, canid.AddrPack)
	module.halt()
	module.store.Wipe("session/key/")
	module2 := w.start(module.cfg.Identity, module.store, func(c *Config) { c.Upstream = canid.AddrPack })
	kl := waitFor(t, pack, func(e EventKeyLoss) bool { return true })
	if kl.LostKID != lm.OwnKID || kl.EntityID != "BM-0001" {
		t.Fatalf("key loss %+v, module had kid %04x", kl, lm.OwnKID)
	}
	esc := waitFor(t, pack, func(e EventEscalation) bool { return e.Local })
	if esc.Escalation.Target != message.L7BindingValidation || esc.Escalation.Reason != message.ReasonKeyLoss || esc.Escalation.Source != 0x01 {
		t.Fatalf("escalation %+v", esc.Escalation)
	}
	if l, _, _ := module2.eng.Link(w.ctx, canid.AddrPack); l.Bound || l.Paired || l.LostKID == nil {
		t.Fatalf("module link after key loss %+v", l)
	}
}

// TestEmergencyAndStale: an emergency isolate travels as emergency and is answered on
// emergency-ack; a command issued beyond the ±5 min skew is answered "stale" and escalated.
func TestEmergencyAndStale(t *testing.T) {
	w := newWorld(t, nil)
	pack, module := packAndModule(t, w, nil)
	w.bind(pack, module)
	w.pair(pack, module, nil)
	rec := w.record(t, canid.New(canid.TypeEmergencyAck, true, canid.LevelPairing, canid.AddrPack, 0x01))
	r := message.ReasonOperator
	ack, err := pack.eng.Command(w.ctx, 0x01, &message.Command{Code: message.CmdEmergencyIsolate, Target: 1, IsolateReason: &r})
	if err != nil || ack.Status != message.StatusOK {
		t.Fatalf("isolate: %v %+v", err, ack)
	}
	rec.take(t, 1)
	old := chargeCmd()
	old.IssuedAt = time.Now().Add(-10 * time.Minute).Unix()
	ack, err = pack.eng.Command(w.ctx, 0x01, old)
	if err != nil || ack.Status != message.StatusStale {
		t.Fatalf("stale command: %v %+v", err, ack)
	}
	waitStat(t, module, CauseClockSkew, 1)
	esc := waitFor(t, pack, func(e EventEscalation) bool { return !e.Local })
	if esc.Escalation.Reason != message.ReasonClockSkew {
		t.Fatalf("escalation %+v", esc.Escalation)
	}
}

// TestBindingLevelReplayAfterReset: a binding-level message recorded before the receiver's reset
// is still refused after it.
func TestBindingLevelReplayAfterReset(t *testing.T) {
	w := newWorld(t, nil)
	pack, module := packAndModule(t, w, nil)
	w.bind(pack, module)
	id := canid.New(canid.TypeEscalation, true, canid.LevelBinding, canid.AddrPack, 0x01)
	rec := w.record(t, id)
	if err := module.eng.Escalate(w.ctx, canid.AddrPack, message.L6PairingValidation, message.ReasonOperator, message.UrgencyLow, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, pack, func(e EventEscalation) bool { return !e.Local })
	frames := rec.take(t, 6)
	pack.halt()
	pack2 := w.start(pack.cfg.Identity, pack.store, nil)
	rec.inject(t, frames)
	waitStat(t, pack2, CauseReplay, 1)
}

// TestRequestKeysAbandoned: a generate-keys request nobody answers in time does not swallow
// the answer to the next one.
func TestRequestKeysAbandoned(t *testing.T) {
	w := newWorld(t, nil)
	pack := w.start(w.identity("PC-0001", message.RolePack, canid.AddrPack), nil, nil)
	ctx, cancel := context.WithTimeout(w.ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := pack.eng.RequestKeys(ctx, Hop{Dst: 0x01}, pack.cfg.Identity.Access); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request to an absent module: %v", err)
	}
	module := w.start(w.identity("BM-0001", message.RoleModule, 0x01), nil, nil)
	ans, err := pack.eng.RequestKeys(w.ctx, Hop{Dst: 0x01}, pack.cfg.Identity.Access)
	if err != nil {
		t.Fatal(err)
	}
	if l, _, _ := module.eng.Link(w.ctx, canid.AddrPack); l.OwnKID != ans.KID {
		t.Fatalf("answer kid %04x, module made %04x", ans.KID, l.OwnKID)
	}
}

// TestPairingRevocation: the authority's signed L6 revocation, delivered at binding level,
// drops the pairing at the receiver; commands under it stop.
func TestPairingRevocation(t *testing.T) {
	w := newWorld(t, nil)
	pack, module := packAndModule(t, w, nil)
	w.bind(pack, module)
	pid := w.pair(pack, module, nil)
	r := message.ReasonOperator
	pv := &message.PairingValidation{V: 1, Kind: message.PairingRevoked, PairingID: pid, IssuedAt: time.Now().Unix(), Reason: &r}
	signed, err := message.SignPairingValidation(w.auth, pv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pack.eng.Deliver(w.ctx, Hop{Dst: 0x01}, canid.TypePairingValid, signed); err != nil {
		t.Fatal(err)
	}
	waitFor(t, module, func(e EventPairingRevoked) bool { return string(e.PairingID) == string(pid) })
	if ok, err := pack.eng.ApplyPairingValidation(w.ctx, signed); !ok || err != nil {
		t.Fatalf("pack applies the revocation: %v %v", ok, err)
	}
	if _, err := pack.eng.Command(w.ctx, 0x01, chargeCmd()); !errors.Is(err, ErrNotPaired) {
		t.Fatalf("command after revocation: %v", err)
	}
}

// An L7 statement is verified only by an engine that holds the binding: a pack's app-side
// engine passes a module binding's record on without charging a signature check, and the
// module-side engine verifies and applies it once.
func TestBindingValidationVerifiedOnce(t *testing.T) {
	w := newWorld(t, nil)
	var mu sync.Mutex
	verifies := map[string]int{}
	counting := func(name string) func(*Config) {
		return func(c *Config) {
			c.Cost = func(op suite.Op, n int) {
				if op == suite.OpVerify {
					mu.Lock()
					verifies[name] += n
					mu.Unlock()
				}
			}
		}
	}
	pack, module := packAndModule(t, w, nil)
	other := w.start(w.identity("PC-0002", message.RolePack, canid.AddrPack+1), nil, counting("other"))
	bid := w.bind(pack, module)
	r := message.ReasonKeyLoss
	bv := &message.BindingValidation{V: 1, Kind: message.BindingRevoked, BindingID: bid, Entities: []string{"PC-0001", "BM-0001"},
		KIDs: []uint16{1, 2}, BlockchainProof: make([]byte, message.HashSize), IssuedAt: time.Now().Unix(), Reason: &r}
	signed, err := message.SignBindingValidation(w.auth, bv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := other.eng.ApplyBindingValidation(w.ctx, signed); ok || err != nil {
		t.Fatalf("an engine without the binding: applied %v, %v", ok, err)
	}
	mu.Lock()
	n := verifies["other"]
	mu.Unlock()
	if n != 0 {
		t.Errorf("an engine without the binding charged %d signature checks", n)
	}
	if ok, err := pack.eng.ApplyBindingValidation(w.ctx, signed); !ok || err != nil {
		t.Fatalf("the engine holding the binding: applied %v, %v", ok, err)
	}
	waitFor(t, pack, func(e EventBindingRevoked) bool { return string(e.BindingID) == string(bid) })
}
