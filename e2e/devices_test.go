package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modbatt/hilrun/app"
	"github.com/modbatt/hilrun/authority"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/firmware/module"
	"github.com/modbatt/hilrun/gateway/pack"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

// devices is the system built from the device packages: the pack controller gateway and the
// module firmware, as they run in their images, with the authority and the app.
type devices struct {
	clk        clock.Clock
	simStep    atomic.Int64 // simulated time per millisecond of wall time
	can1, can2 *emu.Bus
	auth       *authority.Authority
	app        *app.App
	pack       *pack.Device
	mods       []*module.Device
}

// newDevices builds the system. With a simulated clock the devices charge their MCU profiles'
// modelled crypto costs (STM32WB55 pack, ATmega64M1 modules) and the buses pace every frame by
// its wire time, all on that clock, which runs ten times faster than the wall clock; with the
// real clock nothing is charged and the buses deliver as fast as they can.
func newDevices(t *testing.T, ctx context.Context, n int, sim *clock.Sim) *devices {
	var clk clock.Clock = clock.Real{}
	packProfile, modProfile, pacing := mcu.Zero(), mcu.Zero(), emu.AsFastAsPossible
	s := &devices{}
	s.simStep.Store(int64(10 * time.Millisecond))
	if sim != nil {
		clk, packProfile, modProfile, pacing = sim, mcu.STM32WB55(), mcu.ATmega64M1(), emu.RealTime
		stop := make(chan struct{})
		t.Cleanup(func() { close(stop) })
		go func() {
			tk := time.NewTicker(time.Millisecond)
			defer tk.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tk.C:
					sim.Advance(time.Duration(s.simStep.Load()))
				}
			}
		}()
	}
	s.clk = clk
	var err error
	for _, b := range []**emu.Bus{&s.can1, &s.can2} {
		if *b, err = emu.New(emu.Config{Pacing: pacing, Clock: clk}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { (*b).Close() })
	}
	var appH http.Handler
	var hmu sync.Mutex
	appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hmu.Lock()
		h := appH
		hmu.Unlock()
		h.ServeHTTP(w, r)
	}))
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

	s.pack, err = pack.New(pack.Config{CAN1: s.can1.Join("pack"), CAN2: s.can2.Join("pack"), Clock: clk,
		Authority: s.auth.PublicKey(), EntityID: "PC-0001", Rand: rand.Reader, Profile: packProfile})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m, err := module.New(module.Config{Clock: clk, Bus: s.can2.Join(fmt.Sprintf("module-%d", i)), Rand: rand.Reader,
			Profile: modProfile, UniqueID: uint32(0x1000 + i), Seed: uint64(i), Authority: s.auth.PublicKey()})
		if err != nil {
			t.Fatal(err)
		}
		s.mods = append(s.mods, m)
	}
	rctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	run := func(f func(context.Context) error) {
		wg.Add(1)
		go func() { defer wg.Done(); f(rctx) }()
	}
	run(s.pack.Run)
	for _, m := range s.mods {
		run(m.Run)
	}
	// Legacy registration gives the modules their addresses.
	deadline := time.Now().Add(30 * time.Second)
	var devs []app.Device
	for len(devs) < n {
		devs = devs[:0]
		for _, m := range s.mods {
			if id := m.ModuleID(); id != 0 && id != canid.AddrUnregistered {
				devs = append(devs, app.Device{EntityID: m.Config().EntityID, Addr: id})
			}
		}
		if len(devs) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d modules registered", len(devs), n)
			}
			time.Sleep(20 * time.Millisecond)
			devs = nil
		}
	}
	s.app, err = app.New(ctx, app.Config{API: api, Endpoint: s.can1.Join("app"), Clock: clk, Rand: rand.Reader,
		Store: session.NewMemStore(), Authority: &authority.Client{BaseURL: authSrv.URL},
		Pack: app.Device{EntityID: "PC-0001", Addr: canid.AddrPack}, Modules: devs})
	if err != nil {
		t.Fatal(err)
	}
	hmu.Lock()
	appH = s.app.Handler()
	hmu.Unlock()
	run(s.app.Run)
	return s
}

// TestEndToEndDevices is issue 4's flow with the pack controller and module devices, software
// costs only.
func TestEndToEndDevices(t *testing.T) { devicesFlow(t, nil) }

// TestEndToEndDevicesModelled is the same flow with the MCU profiles' modelled costs and
// paced buses on a simulated clock: its step times predict the hardware's.
func TestEndToEndDevicesModelled(t *testing.T) {
	if testing.Short() {
		t.Skip("about 20 s of wall time")
	}
	devicesFlow(t, clock.NewSim(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)))
}

func devicesFlow(t *testing.T, sim *clock.Sim) {
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	s := newDevices(t, ctx, 4, sim)
	sub := s.app.Subscribe(4096)
	start, simStart := time.Now(), s.clk.Now()
	type mark struct{ wall, sim time.Time }
	now := func() mark { return mark{time.Now(), s.clk.Now()} }
	step := func(name string, t0 mark) {
		if sim != nil {
			t.Logf("%-28s %10.1f ms simulated, %8.1f ms wall", name, ms(s.clk.Now().Sub(t0.sim)), ms(time.Since(t0.wall)))
			return
		}
		t.Logf("%-28s %8.1f ms", name, ms(time.Since(t0.wall)))
	}
	mods := make([]app.Device, 0, len(s.mods))
	for _, m := range s.mods {
		mods = append(mods, app.Device{EntityID: m.Config().EntityID, Addr: m.ModuleID()})
	}

	t0 := now()
	if _, err := s.app.BindPack(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		if _, err := s.app.BindModule(ctx, m.EntityID); err != nil {
			t.Fatalf("bind %s: %v", m.EntityID, err)
		}
	}
	step("bind pack + 4 modules", t0)
	t0 = now()
	if _, err := s.app.PairPack(ctx, pctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		if _, err := s.app.PairModule(ctx, pctx, m.EntityID); err != nil {
			t.Fatalf("pair %s: %v", m.EntityID, err)
		}
	}
	step("pair app×pack + pack×4", t0)

	// Finer simulated steps while L5 latency is measured: every causal hop waits for one.
	s.simStep.Store(int64(100 * time.Microsecond))
	t0 = now()
	ack, err := s.app.Command(ctx, mods[0].Addr, chargeEnable())
	if err != nil || ack.Status != message.StatusOK {
		t.Fatalf("charge enable: %+v %v", ack, err)
	}
	step("L5 charge-enable + ACK", t0)
	s.simStep.Store(int64(10 * time.Millisecond))

	t0 = now()
	seen := map[uint8]bool{}
	for len(seen) < len(mods) {
		select {
		case ev := <-sub:
			if e, ok := ev.(session.EventTelemetry); ok && e.Protected {
				seen[e.Telemetry.Addr] = true
			}
		case <-ctx.Done():
			t.Fatalf("protected telemetry reached the app from %v only", seen)
		}
	}
	step("protected telemetry ×4", t0)

	t0 = now()
	m1 := mods[0]
	oldPID, _ := s.app.PairingID(m1.EntityID)
	oldCert, _ := s.app.Certificate(m1.EntityID)
	if err := s.mods[0].LoseKeys(ctx); err != nil {
		t.Fatal(err)
	}
	var esc *message.Escalation
	for esc == nil {
		select {
		case ev := <-sub:
			if e, ok := ev.(session.EventEscalation); ok && !e.Local && e.Escalation.Reason == message.ReasonKeyLoss {
				esc = e.Escalation
			}
		case <-ctx.Done():
			t.Fatal("no key-loss escalation reached the app")
		}
	}
	mod, ok := s.app.ModuleAt(esc.Source)
	if !ok || mod.EntityID != m1.EntityID {
		t.Fatalf("key-loss escalation names %#02x", esc.Source)
	}
	if err := s.app.Recover(ctx, mod.EntityID, pctx); err != nil {
		t.Fatal(err)
	}
	step("key loss → re-bind → re-pair", t0)
	if p, err := s.auth.Pairing(oldPID); err != nil || p.Status != "revoked" {
		t.Fatalf("old pairing at the authority: %+v %v", p, err)
	}
	before := s.mods[0].Stats().Session.Rejected[session.CausePairing]
	if err := s.app.DeliverPairing(ctx, m1.EntityID, oldCert); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.mods[0].Stats().Session.Rejected[session.CausePairing] == before {
		if time.Now().After(deadline) {
			t.Fatalf("the module did not refuse its old pairing: %v", s.mods[0].Stats().Session.Rejected)
		}
		time.Sleep(5 * time.Millisecond)
	}

	t0 = now()
	for _, m := range mods {
		ack, err := s.app.Command(ctx, m.Addr, chargeEnable())
		if err != nil || ack.Status != message.StatusOK {
			t.Fatalf("%s after recovery: %+v %v", m.EntityID, ack, err)
		}
	}
	step("L5 to every module again", t0)
	logLoad(t, "CAN1", s.can1)
	logLoad(t, "CAN2", s.can2)
	t.Logf("flow wall time %.1f ms, simulated %.1f ms", ms(time.Since(start)), ms(s.clk.Now().Sub(simStart)))
}
