package module

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
	"github.com/modbatt/hilrun/protocol/suite"
)

// TestKeyGenerationCostsModuleTime: with the default (ATmega64M1) profile, the module's answer
// to a generate-keys request comes no sooner, on the device clock, than the modelled cost of a
// P-256 key pair on the AVR (seconds), while the wall clock barely moves.
func TestKeyGenerationCostsModuleTime(t *testing.T) {
	if testing.Short() {
		t.Skip("runs seconds of simulated time")
	}
	clk := clock.NewSim(t0)
	b, err := emu.New(emu.Config{Pacing: emu.AsFastAsPossible, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	pack, err := session.New(session.Config{
		Identity: session.Identity{EntityID: "pack-1", Role: message.RolePack, Addr: canid.AddrPack, Access: access("pack-1", canid.AddrPack)},
		Endpoint: b.Join("pack"), Clock: clk, Rand: rand.Reader, Store: session.NewMemStore(), Peers: []session.Peer{{Addr: 1, Role: message.RoleModule}}})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := New(Config{Clock: clk, Bus: b.Join("module"), UniqueID: testUID, NoDemand: true})
	if err != nil {
		t.Fatal(err)
	}
	if dev.Config().Profile.Name != mcu.ATmega64M1().Name {
		t.Fatalf("default profile %q", dev.Config().Profile.Name)
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{}, 2)
	go func() { pack.Run(rctx); done <- struct{}{} }()
	go func() { dev.Run(rctx); done <- struct{}{} }()
	defer func() { stop(); <-done; <-done }()
	// The simulated clock runs ten times faster than the wall clock, in 10 ms steps.
	go func() {
		for rctx.Err() == nil {
			clk.Advance(10 * time.Millisecond)
			time.Sleep(time.Millisecond)
		}
	}()
	reg, _ := legacy.EncodeModule(&legacy.Registration{ModuleID: 1, ControllerID: 1, Manufacturer: DefaultManufacturer, Part: DefaultPart, UniqueID: testUID}, legacy.ModuleUnregistered, 0)
	legacyEP := b.Join("legacy")
	if err := legacyEP.Send(ctx, reg); err != nil {
		t.Fatal(err)
	}
	waitStats(t, dev, "link engine", func(s Stats) bool { return s.Web4Running })
	start := clk.Now()
	ans, err := pack.RequestKeys(ctx, session.Hop{Dst: 1}, access("pack-1", canid.AddrPack))
	if err != nil {
		t.Fatal(err)
	}
	took := clk.Now().Sub(start)
	want := mcu.ATmega64M1().Cost(suite.OpKeyGen, 1)
	if took < want {
		t.Fatalf("key generation answered after %v of device time, want ≥ %v", took, want)
	}
	if _, err := suite.ParsePublicKey(ans.SemiPublicKey); err != nil {
		t.Fatal(err)
	}
	var charged time.Duration
	for _, c := range dev.Stats().Compute {
		if c.Op == suite.OpKeyGen {
			charged = c.Total
		}
	}
	if charged != want {
		t.Fatalf("meter charged %v for the key pair, want %v", charged, want)
	}
	t.Logf("generate-keys answered after %v of module time (P-256 key pair %v on the ATmega64M1)", took, want)
}
