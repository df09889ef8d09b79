package module

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/mcu"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const testUID = 0x12345678

// rig is one module on an emulated bus under a simulated clock, with a scripted pack.
type rig struct {
	t    testing.TB
	clk  *clock.Sim
	bus  *emu.Bus
	pack *emu.Endpoint
	dev  *Device
	stop context.CancelFunc
	done chan error
}

func newRig(t testing.TB, mod func(*Config)) *rig {
	t.Helper()
	clk := clock.NewSim(t0)
	b, err := emu.New(emu.Config{Pacing: emu.AsFastAsPossible, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	cfg := Config{Clock: clk, Bus: b.Join("module"), UniqueID: testUID, Seed: 1, Profile: mcu.Zero(), NoWeb4: true}
	if mod != nil {
		mod(&cfg)
	}
	dev, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, clk: clk, bus: b, pack: b.Join("pack"), dev: dev, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	go func() { r.done <- dev.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-r.done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

// waitFor polls the device's counters (wall clock) until ok holds.
func (r *rig) waitFor(what string, ok func(Stats) bool) Stats {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := r.dev.Stats()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s; stats %+v", what, s)
		}
		time.Sleep(time.Millisecond)
	}
}

// sendFrame sends a raw frame from the pack and waits until the module has handled it.
func (r *rig) sendFrame(f bus.Frame) {
	r.t.Helper()
	before := r.dev.Stats().RxFrames
	if err := r.pack.Send(context.Background(), f); err != nil {
		r.t.Fatal(err)
	}
	r.waitFor("frame handled", func(s Stats) bool { return s.RxFrames > before })
	// The loop publishes its state after handling; one round trip through it settles that.
	_ = r.dev.call(context.Background(), func() error { return nil })
}

// send sends a pack→module message to EID module id.
func (r *rig) send(m legacy.Message, id uint8) {
	r.t.Helper()
	f, err := legacy.EncodeModule(m, id, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	r.sendFrame(f)
}

// recv returns the next frame the module sent.
func (r *rig) recv() (bus.Received, legacy.Decoded) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := r.pack.Receive(ctx)
	if err != nil {
		r.t.Fatalf("no frame from the module: %v", err)
	}
	d, err := legacy.Decode(got.Frame)
	if err != nil {
		r.t.Fatalf("module sent an undecodable frame %s: %v", got.Frame.String(), err)
	}
	return got, d
}

// expect returns the next frame and checks its message and EID module field.
func (r *rig) expect(id legacy.MsgID, module uint8) (bus.Received, legacy.Decoded) {
	r.t.Helper()
	got, d := r.recv()
	if d.Msg.MsgID() != id || d.ModuleID != module {
		r.t.Fatalf("got %s from module %#02x (%s), want %s from %#02x", d.Msg.MsgID(), d.ModuleID, got.Frame.String(), id, module)
	}
	return got, d
}

// quiet checks that the module sends nothing for a moment of wall time.
func (r *rig) quiet() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if got, err := r.pack.Receive(ctx); err == nil {
		r.t.Fatalf("unexpected frame %s", got.Frame.String())
	}
}

// advance moves simulated time and lets the device catch up.
func (r *rig) advance(d time.Duration) {
	r.t.Helper()
	r.clk.Advance(d)
	_ = r.dev.call(context.Background(), func() error { return nil })
	_ = r.dev.call(context.Background(), func() error { return nil })
}

// register takes the module from boot to registered as module id, with its time set.
func (r *rig) register(id uint8) {
	r.t.Helper()
	r.expect(legacy.IDAnnouncement, legacy.ModuleUnregistered)
	r.send(&legacy.Registration{ModuleID: id, ControllerID: 1, Manufacturer: DefaultManufacturer, Part: DefaultPart, UniqueID: testUID}, legacy.ModuleUnregistered)
	r.expect(legacy.IDTimeRequest, id)
	r.send(&legacy.SetTime{Marker: 0xA5, Epoch: uint32(t0.Unix())}, id)
	if s := r.dev.Stats(); s.ModuleID != id {
		r.t.Fatalf("module ID %#02x after registration, want %#02x", s.ModuleID, id)
	}
}
