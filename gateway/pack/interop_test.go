package pack_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/firmware/module"
	"github.com/modbatt/hilrun/gateway/pack"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/nvm"
)

// TestWithModuleFirmware runs the pack with four module firmware devices (legacy only) and a
// scripted app: the modules register, follow the app's On request under the heartbeat's max
// state, and the pack's app-bus block reports them; when the app goes silent the modules are
// taken to Off.
func TestWithModuleFirmware(t *testing.T) {
	b1, _ := emu.New(emu.Config{Pacing: emu.AsFastAsPossible})
	b2, _ := emu.New(emu.Config{Pacing: emu.AsFastAsPossible})
	defer b1.Close()
	defer b2.Close()
	dev, err := pack.New(pack.Config{CAN1: b1.Join("pack"), CAN2: b2.Join("pack"), Clock: clock.Real{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 5)
	go func() { done <- dev.Run(ctx) }()
	for i := range 4 {
		m, err := module.New(module.Config{Clock: clock.Real{}, Bus: b2.Join("module"), UniqueID: uint32(0x5000 + i), Seed: uint64(i),
			Profile: mcu.Zero(), NoWeb4: true, NoDemand: true})
		if err != nil {
			t.Fatal(err)
		}
		go func() { done <- m.Run(ctx) }()
	}
	app := b1.Join("app")
	on, _ := legacy.EncodeApp(&legacy.AppCommand{Controls: legacy.Controls{Contactor: legacy.StateOn, HVBusV: 200}}, 0)
	var last legacy.PackState
	var power legacy.PackPower
	deadline := time.Now().Add(10 * time.Second)
	tick := time.Now()
	for time.Now().Before(deadline) && !(last.ActiveModules == 4 && last.State == legacy.StateOn && allOn(dev.Modules())) {
		if time.Since(tick) > 0 {
			_ = app.Send(ctx, on)
			tick = tick.Add(250 * time.Millisecond)
		}
		rctx, rcancel := context.WithTimeout(ctx, 20*time.Millisecond)
		r, err := app.Receive(rctx)
		rcancel()
		if err != nil {
			continue
		}
		d, err := legacy.Decode(r.Frame)
		if err != nil {
			t.Fatalf("the pack sent %s: %v", r.Frame.String(), err)
		}
		switch m := d.Msg.(type) {
		case *legacy.PackState:
			last = *m
		case *legacy.PackPower:
			power = *m
		}
	}
	infos := dev.Modules()
	if len(infos) != 4 || !allOn(infos) || last.ActiveModules != 4 || last.State != legacy.StateOn {
		t.Fatalf("modules %+v, last 0x410 %+v", infos, last)
	}
	sum := 0.0
	for _, m := range infos {
		sum += m.Voltage
	}
	if math.Abs(power.Voltage-sum) > 0.2 {
		t.Errorf("0x421 pack voltage %.2f V, modules sum to %.2f V", power.Voltage, sum)
	}
	// The app goes silent: Standby after 600 ms, Off after 1.2 s, and the modules follow.
	deadline = time.Now().Add(5 * time.Second)
	for !allIn(dev.Modules(), legacy.StateOff) {
		if time.Now().After(deadline) {
			t.Fatalf("modules after app silence: %+v (stats %+v)", dev.Modules(), dev.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := dev.Stats(); s.LinkLosses != 2 || s.State != legacy.StateOff || len(s.Rejected) != 0 {
		t.Errorf("stats after link loss %+v", s)
	}
	cancel()
	for range 5 {
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	}
}

func allOn(ms []pack.ModuleInfo) bool { return len(ms) == 4 && allIn(ms, legacy.StateOn) }

func allIn(ms []pack.ModuleInfo, s legacy.State) bool {
	for _, m := range ms {
		if m.State != s {
			return false
		}
	}
	return len(ms) > 0
}

// TestRestartKeepsModules: the pack keeps its module registry in NVM, so after a power cycle it
// polls the same modules under the same IDs without a new registration.
func TestRestartKeepsModules(t *testing.T) {
	b1, _ := emu.New(emu.Config{Pacing: emu.AsFastAsPossible})
	b2, _ := emu.New(emu.Config{Pacing: emu.AsFastAsPossible})
	defer b1.Close()
	defer b2.Close()
	store := nvm.OpenMem()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for i := range 3 {
		m, err := module.New(module.Config{Clock: clock.Real{}, Bus: b2.Join("module"), UniqueID: uint32(0x6000 + i), Seed: uint64(i),
			Profile: mcu.Zero(), NoWeb4: true})
		if err != nil {
			t.Fatal(err)
		}
		go m.Run(ctx)
	}
	start := func() (*pack.Device, context.CancelFunc, chan error) {
		dev, err := pack.New(pack.Config{CAN1: b1.Join("pack"), CAN2: b2.Join("pack"), Clock: clock.Real{}, Store: store})
		if err != nil {
			t.Fatal(err)
		}
		pctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- dev.Run(pctx) }()
		return dev, stop, done
	}
	waitActive := func(dev *pack.Device) []pack.ModuleInfo {
		deadline := time.Now().Add(5 * time.Second)
		for {
			ms := dev.Modules()
			n := 0
			for _, m := range ms {
				if m.Active {
					n++
				}
			}
			if n == 3 {
				return ms
			}
			if time.Now().After(deadline) {
				t.Fatalf("modules %+v", ms)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	dev, stop, done := start()
	before := waitActive(dev)
	stop()
	<-done
	dev, stop, done = start()
	after := waitActive(dev)
	stop()
	<-done
	if s := dev.Stats(); s.Registrations != 0 {
		t.Errorf("%d registrations after the restart, want none", s.Registrations)
	}
	for i := range before {
		if before[i].ID != after[i].ID || before[i].UniqueID != after[i].UniqueID {
			t.Errorf("module %d: %+v before, %+v after", i, before[i], after[i])
		}
	}
}
