package pack

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/protocol/canid"
)

// playModules answers, on CAN2, as the modules with these unique IDs: announce when asked
// (and once at start), take the registration, answer status requests.
func playModules(ctx context.Context, t *testing.T, ep bus.Endpoint, uids []uint32) {
	ids := map[uint32]uint8{}
	send := func(m legacy.Message, id uint8) {
		f, err := legacy.EncodeModule(m, id, 0)
		if err == nil {
			_ = ep.Send(ctx, f)
		}
	}
	for _, u := range uids {
		send(&legacy.Announcement{Manufacturer: 2, Part: 3, UniqueID: u}, legacy.ModuleUnregistered)
	}
	for {
		r, err := ep.Receive(ctx)
		if err != nil {
			return
		}
		d, err := legacy.Decode(r.Frame)
		if err != nil {
			continue
		}
		switch m := d.Msg.(type) {
		case *legacy.Registration:
			ids[m.UniqueID] = m.ModuleID
		case *legacy.StatusRequest:
			for _, id := range ids {
				if id == d.ModuleID {
					send(&legacy.Status1{State: legacy.StateStandby, SOC: 70, SOH: 99, CellCount: 8, Current: 1, Voltage: 29.6}, id)
					send(&legacy.Status2{MinCellV: 3.69, MaxCellV: 3.71, AvgCellV: 3.7, TotalV: 29.6}, id)
					send(&legacy.Status3{MinTemp: 21, MaxTemp: 23, AvgTemp: 22}, id)
				}
			}
		}
	}
}

func TestDeviceOnEmulatedBuses(t *testing.T) {
	b1, err := emu.New(emu.Config{Pacing: emu.AsFastAsPossible})
	if err != nil {
		t.Fatal(err)
	}
	defer b1.Close()
	b2, err := emu.New(emu.Config{Pacing: emu.AsFastAsPossible})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	var mu sync.Mutex
	var events []Event
	dev, err := New(Config{CAN1: b1.Join("pack-can1"), CAN2: b2.Join("pack-can2"), Clock: clock.Real{},
		OnEvent: func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- dev.Run(ctx) }()
	app, mods := b1.Join("app"), b2.Join("modules")
	go playModules(ctx, t, mods, []uint32{1, 2, 3, 4})

	// Bad input on both buses, between good traffic.
	bad := []struct {
		ep bus.Endpoint
		f  bus.Frame
	}{
		{app, bus.Frame{ID: 0x123, Len: 2}}, // unknown 11-bit
		{app, bus.Frame{ID: 0x400, Len: 1}}, // 0x400 too short
		{mods, bus.Frame{ID: canid.New(canid.TypeTelemetry, false, canid.LevelExchange, 0x40, 0x01).Encode(), Extended: true, Len: 8}}, // Web4, no gateway
		{mods, bus.Frame{ID: 0x502<<18 | 0x09, Extended: true, Len: 8}},                                                                // unassigned module
	}
	for _, b := range bad {
		if err := b.ep.Send(ctx, b.f); err != nil {
			t.Fatal(err)
		}
	}
	cmd, _ := legacy.EncodeApp(&legacy.AppCommand{Controls: legacy.Controls{Contactor: legacy.StateOn}}, 0)
	var blocks []legacy.PackState
	// Wall-clock bounds are generous: the host may be loaded; the loop ends as soon as the
	// pack has shown what the test checks.
	end := time.Now().Add(15 * time.Second)
	next := time.Now()
	enough := func() bool {
		s := dev.Stats()
		return len(blocks) >= 2 && blocks[len(blocks)-1].State == legacy.StateOn && blocks[len(blocks)-1].ActiveModules == 4 &&
			s.Heartbeats >= 7 && s.Polls >= 12 && s.Rejected[CauseUnregister] == 1 && s.Rejected[CauseWeb4Idle] == 1
	}
	for time.Now().Before(end) && !enough() {
		if time.Now().After(next) {
			_ = app.Send(ctx, cmd)
			next = next.Add(250 * time.Millisecond)
		}
		rctx, rcancel := context.WithTimeout(ctx, 20*time.Millisecond)
		r, err := app.Receive(rctx)
		rcancel()
		if err != nil {
			continue
		}
		if d, err := legacy.Decode(r.Frame); err == nil {
			if ps, ok := d.Msg.(*legacy.PackState); ok {
				blocks = append(blocks, *ps)
			}
		}
	}
	// A bus-off of the pack's CAN2 controller is counted and the pack goes on polling after
	// the recovery.
	if n := b2.ForceBusOff("pack-can2", 0); n != 1 {
		t.Fatalf("bus-off hit %d endpoints", n)
	}
	polls := dev.Stats().Polls
	deadline := time.Now().Add(10 * time.Second)
	for st := dev.Stats(); st.BusOffs == 0 || st.Polls < polls+3; st = dev.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("after bus-off: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s := dev.Stats()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if s.Registrations != 4 || s.Modules != 4 || len(dev.Modules()) != 4 {
		t.Errorf("registrations %d modules %d", s.Registrations, s.Modules)
	}
	if len(blocks) < 2 {
		t.Fatalf("%d app blocks in 1.6 s", len(blocks))
	}
	if last := blocks[len(blocks)-1]; last.State != legacy.StateOn || last.ActiveModules != 4 {
		t.Errorf("last 0x410 %+v", last)
	}
	want := map[Cause]uint64{CauseUnknownID: 1, CauseMalformed: 1, CauseWeb4Idle: 1, CauseUnregister: 1}
	for k, v := range want {
		if s.Rejected[k] != v {
			t.Errorf("rejected %v, want %v", s.Rejected, want)
			break
		}
	}
	if s.Heartbeats < 7 || s.Polls < 12 || s.TxCAN1 == 0 || s.RxCAN2 == 0 {
		t.Errorf("stats %+v", s)
	}
	mu.Lock()
	defer mu.Unlock()
	regs := 0
	for _, e := range events {
		if _, ok := e.(EventRegistered); ok {
			regs++
		}
	}
	if regs != 4 {
		t.Errorf("%d registration events", regs)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	ep := nopEndpoint{}
	for _, c := range []Config{{}, {CAN1: ep, CAN2: ep}, {CAN1: ep, CAN2: ep, Clock: clock.Real{}, PackID: 2},
		{CAN1: ep, CAN2: ep, Clock: clock.Real{}, MaxState: 4}} {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", c, err)
		}
	}
}

func TestPackOneAddresses(t *testing.T) {
	c := Config{PackID: 1}
	if c.Addr() != 0x41 {
		t.Errorf("pack 1 Web4 address %#02x, want 0x41", c.Addr())
	}
	h := newHarness(t, func(c *Config) { c.PackID = 1 })
	// Pack 0's app traffic is not for pack 1 and is not bad input either.
	p0, _ := legacy.EncodeApp(&legacy.AppCommand{Controls: legacy.Controls{Contactor: legacy.StateOn}}, 0)
	h.inject(h.at(10*ms), true, p0)
	f, _ := legacy.EncodeApp(&legacy.ModuleListRequest{}, 1)
	h.inject(h.at(20*ms), true, f)
	h.run(h.at(30 * ms))
	l := h.frames(legacy.IDModuleList)
	if len(l) != 1 || l[0].d.Pack != 1 || h.c.appState != legacy.StateOff || len(h.c.stats.Rejected) != 0 {
		t.Errorf("pack 1: list %+v, app state %v, rejected %v", l, h.c.appState, h.c.stats.Rejected)
	}
}
