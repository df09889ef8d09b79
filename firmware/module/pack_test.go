package module_test

import (
	"context"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/firmware/module"
	"github.com/modbatt/hilrun/gateway/pack"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/mcu"
)

// TestWithPackController: four modules and the pack controller's legacy firmware on one
// emulated CAN2 bus in simulated time: every module registers, answers the pack's polling and
// stays active, and the pack's app-side state request reaches the contactors.
func TestWithPackController(t *testing.T) {
	clk := clock.NewSim(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	mk := func() *emu.Bus {
		b, err := emu.New(emu.Config{Pacing: emu.AsFastAsPossible, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	can1, can2 := mk(), mk()
	p, err := pack.New(pack.Config{CAN1: can1.Join("pack"), CAN2: can2.Join("pack"), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{}, 5)
	defer func() {
		cancel()
		for range 5 {
			<-done
		}
	}()
	go func() { p.Run(ctx); done <- struct{}{} }()
	var mods []*module.Device
	for i := range 4 {
		d, err := module.New(module.Config{Clock: clk, Bus: can2.Join("module"), UniqueID: 0xA0000001 + uint32(i), Seed: uint64(i),
			Profile: mcu.Zero(), NoWeb4: true})
		if err != nil {
			t.Fatal(err)
		}
		mods = append(mods, d)
		go func() { d.Run(ctx); done <- struct{}{} }()
	}
	app := can1.Join("app")
	keepAlive := func() {
		f, err := legacy.EncodeApp(&legacy.AppCommand{Controls: legacy.Controls{Contactor: legacy.StateOn}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := app.Send(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	// 15 s of pack time in 10 ms steps, with the app asking for On every 250 ms.
	for i := range 1500 {
		if i%25 == 0 {
			keepAlive()
		}
		clk.Advance(10 * time.Millisecond)
		time.Sleep(50 * time.Microsecond)
	}
	infos := p.Modules()
	if len(infos) != 4 {
		t.Fatalf("pack registered %d modules: %+v", len(infos), infos)
	}
	for _, m := range infos {
		if !m.Active || m.Timeouts != 0 || m.Voltage < 50 {
			t.Errorf("module %d: %+v", m.ID, m)
		}
	}
	for _, d := range mods {
		s := d.Stats()
		if s.ModuleID == legacy.ModuleUnregistered || s.StatusAnswers == 0 || s.SilenceFallbacks != 0 || s.State != legacy.StateOn {
			t.Errorf("module %08x: %+v", d.Config().UniqueID, s)
		}
	}
}
