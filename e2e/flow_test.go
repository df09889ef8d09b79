package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/modbatt/hilrun/app"
	"github.com/modbatt/hilrun/authority"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

const pctx = "battery_management"

type engineModule struct {
	dev app.Device
	eng *session.Engine
}

// system is the whole system in one process.
type system struct {
	t          *testing.T
	clk        clock.Clock
	can1, can2 *emu.Bus
	auth       *authority.Authority
	app        *app.App
	pack       *enginePack
	mods       []*engineModule
	ctx        context.Context
}

func newSystem(t *testing.T, n int) *system { return newSystemOn(t, n, clock.Real{}, nil) }

// newSystemOn is newSystem on a clock, with the app's configuration adjusted by tweak (if set).
func newSystemOn(t *testing.T, n int, clk clock.Clock, tweak func(*app.Config)) *system {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	s := &system{t: t, clk: clk, ctx: ctx}
	var err error
	for _, b := range []**emu.Bus{&s.can1, &s.can2} {
		if *b, err = emu.New(emu.Config{Pacing: emu.AsFastAsPossible, Clock: clk}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { (*b).Close() })
	}
	// The app's API answers the authority's key generation (its own key, and the CAN relay).
	var appH http.Handler
	appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { appH.ServeHTTP(w, r) }))
	t.Cleanup(appSrv.Close)
	api := appSrv.URL + "/api"
	s.auth, err = authority.Open(authority.Options{Dir: t.TempDir(), Clock: clk, NoSync: true, KeyGenerators: map[message.Role]authority.KeyGenerator{
		message.RoleApp: authority.HTTPKeyGenerator{}, message.RolePack: authority.HTTPKeyGenerator{Relay: api},
		message.RoleModule: authority.HTTPKeyGenerator{Relay: api}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.auth.Close() })
	authSrv := httptest.NewServer(s.auth.Handler())
	t.Cleanup(authSrv.Close)

	var addrs []uint8
	var devs []app.Device
	for i := 1; i <= n; i++ {
		d := app.Device{EntityID: fmt.Sprintf("BM-%04d", i), Addr: uint8(i)}
		devs, addrs = append(devs, d), append(addrs, d.Addr)
	}
	cfg := app.Config{API: api, Endpoint: s.can1.Join("app"), Clock: clk, Rand: rand.Reader,
		Store: session.NewMemStore(), Authority: &authority.Client{BaseURL: authSrv.URL},
		Pack: app.Device{EntityID: "PC-0001", Addr: canid.AddrPack}, Modules: devs}
	if tweak != nil {
		tweak(&cfg)
	}
	s.app, err = app.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	appH = s.app.Handler()
	s.pack, err = newEnginePack("PC-0001", s.can1.Join("pack"), s.can2.Join("pack"), clk, rand.Reader, s.auth.PublicKey(), addrs)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		eng, err := session.New(session.Config{Identity: session.Identity{EntityID: d.EntityID, Role: message.RoleModule, Addr: d.Addr,
			Access: message.AccessData{Type: "can", ChainID: "web4-local", DeviceID: d.EntityID, Endpoint: fmt.Sprintf("0x%02x", d.Addr)}},
			Endpoint: s.can2.Join(d.EntityID), Clock: clk, Rand: rand.Reader, Store: session.NewMemStore(),
			Authority: s.auth.PublicKey(), Upstream: canid.AddrPack})
		if err != nil {
			t.Fatal(err)
		}
		s.mods = append(s.mods, &engineModule{dev: d, eng: eng})
	}
	rctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(rctx) }()
	}
	run(func(c context.Context) { s.app.Run(c) })
	run(s.pack.Run)
	for _, m := range s.mods {
		run(func(c context.Context) { m.eng.Run(c) })
		run(func(c context.Context) { moduleDevice(c, m.eng) })
	}
	return s
}

// moduleDevice is the module's device layer reduced to answering commands.
func moduleDevice(ctx context.Context, eng *session.Engine) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-eng.Events():
			if c, ok := ev.(session.EventCommand); ok {
				st := uint8(3)
				_ = c.Reply(message.StatusOK, &st)
			}
		}
	}
}

func chargeEnable() *message.Command {
	on, off := true, false
	cl, dl := uint16(500), uint16(1000)
	return &message.Command{Code: message.CmdChargeDischarge, ChargeEnable: &on, DischargeEnable: &off, ChargeLimit: &cl, DischargeLimit: &dl}
}

// TestEndToEnd: a factory-default pack with four modules and the authority, bound, paired in
// battery_management, an L5 charge-enable command acknowledged, protected telemetry flowing to
// the app, then a module's key loss, re-binding, its old pairing refused, re-pairing, commands
// working again.
func TestEndToEnd(t *testing.T) {
	s := newSystem(t, 4)
	ctx := s.ctx
	sub := s.app.Subscribe(1024)
	start := time.Now()
	step := func(name string, t0 time.Time) {
		t.Logf("%-28s %8.1f ms", name, float64(time.Since(t0).Microseconds())/1000)
	}

	t0 := time.Now()
	if err := s.app.Bind(ctx); err != nil {
		t.Fatal(err)
	}
	step("bind pack + 4 modules", t0)

	t0 = time.Now()
	if err := s.app.Pair(ctx, pctx); err != nil {
		t.Fatal(err)
	}
	step("pair app×pack + pack×4", t0)
	for _, m := range s.mods {
		pid, _ := s.app.PairingID(m.dev.EntityID)
		if p, err := s.auth.Pairing(pid); err != nil || p.Status != "completed" {
			t.Fatalf("%s pairing at the authority: %+v %v", m.dev.EntityID, p, err)
		}
	}

	t0 = time.Now()
	ack, err := s.app.Command(ctx, 0x01, chargeEnable())
	if err != nil || ack.Status != message.StatusOK {
		t.Fatalf("charge enable: %+v %v", ack, err)
	}
	step("L5 charge-enable + ACK", t0)

	t0 = time.Now()
	for _, m := range s.mods {
		tel := &message.Telemetry{Seq: 1, Addr: m.dev.Addr, State: 3, SOC: 160, VoltageMV: 51200, CurrentMA: 2500,
			CellMinMV: 3195, CellMaxMV: 3205, TempMinDC: 220, TempMaxDC: 240}
		if err := m.eng.SendTelemetry(ctx, canid.AddrPack, tel); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[uint8]bool{}
	for len(seen) < len(s.mods) {
		select {
		case ev := <-sub:
			if e, ok := ev.(session.EventTelemetry); ok {
				if !e.Protected || e.Peer != canid.AddrPack {
					t.Fatalf("telemetry at the app: %+v", e)
				}
				seen[e.Telemetry.Addr] = true
			}
		case <-ctx.Done():
			t.Fatalf("telemetry reached the app from %v only", seen)
		}
	}
	step("protected telemetry ×4", t0)

	// Module 1 loses its key.
	t0 = time.Now()
	m1 := s.mods[0]
	oldPID, _ := s.app.PairingID(m1.dev.EntityID)
	oldCert, _ := s.app.Certificate(m1.dev.EntityID)
	if err := m1.eng.LoseKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m1.eng.Announce(ctx, canid.AddrPack, message.AnnounceKeyLoss); err != nil {
		t.Fatal(err)
	}
	var esc session.EventEscalation
	for esc.Escalation == nil {
		select {
		case ev := <-sub:
			if e, ok := ev.(session.EventEscalation); ok && !e.Local && e.Escalation.Reason == message.ReasonKeyLoss {
				esc = e
			}
		case <-ctx.Done():
			t.Fatal("no key-loss escalation reached the app")
		}
	}
	if esc.Escalation.Target != message.L7BindingValidation || esc.Escalation.Source != m1.dev.Addr {
		t.Fatalf("escalation %+v", esc.Escalation)
	}
	mod, _ := s.app.ModuleAt(esc.Escalation.Source)
	if err := s.app.Recover(ctx, mod.EntityID, pctx); err != nil {
		t.Fatal(err)
	}
	step("key loss → re-bind → re-pair", t0)
	if p, err := s.auth.Pairing(oldPID); err != nil || p.Status != "revoked" {
		t.Fatalf("old pairing at the authority: %+v %v", p, err)
	}
	// The old pairing is refused by the pack and the module.
	if err := s.app.DeliverPairing(ctx, m1.dev.EntityID, oldCert); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.pack.mu.Lock()
		n := len(s.pack.refused)
		s.pack.mu.Unlock()
		if n > 0 && m1.eng.Stats().Rejected[session.CausePairing] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("old pairing not refused: pack %d refusals, module stats %v", n, m1.eng.Stats().Rejected)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := s.auth.Complete(oldPID, authority.CompleteRequest{Completion: "AA=="}); err == nil {
		t.Fatal("the authority accepted a completion of the old pairing")
	}

	t0 = time.Now()
	for _, m := range s.mods {
		ack, err := s.app.Command(ctx, m.dev.Addr, chargeEnable())
		if err != nil || ack.Status != message.StatusOK {
			t.Fatalf("%s after recovery: %+v %v", m.dev.EntityID, ack, err)
		}
	}
	step("L5 to every module again", t0)

	wall := time.Since(start)
	logLoad(t, "CAN1", s.can1)
	logLoad(t, "CAN2", s.can2)
	t.Logf("flow wall time %.1f ms", ms(wall))
	s.pack.mu.Lock()
	defer s.pack.mu.Unlock()
	for _, err := range s.pack.errs {
		t.Errorf("pack routing: %v", err)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// logLoad reports a bus's traffic: frames by protocol, the time they occupied the bus, and the
// bus time elapsed.
func logLoad(t *testing.T, name string, b *emu.Bus) {
	l := b.Load()
	by := map[canid.Class]uint64{}
	for id, n := range l.PerID {
		by[canid.Classify(id&0x1FFFFFFF, id&0x80000000 != 0)] += n
	}
	t.Logf("%s: %d frames (Web4 %d, legacy %d, other %d), bus busy %.1f ms, bus time %.1f ms",
		name, l.Frames, by[canid.Web4], by[canid.Legacy], by[canid.Unknown], ms(l.Busy), ms(l.Elapsed))
}
