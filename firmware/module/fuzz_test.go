package module

import (
	"context"
	"testing"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/mcu"
)

// sink is an endpoint that swallows what the module sends.
type sink struct{ sent int }

func (s *sink) Send(context.Context, bus.Frame) error { s.sent++; return nil }
func (s *sink) Receive(ctx context.Context) (bus.Received, error) {
	<-ctx.Done()
	return bus.Received{}, ctx.Err()
}
func (s *sink) Stats() bus.Stats { return bus.Stats{} }
func (s *sink) Close() error     { return nil }

// FuzzHandleFrame feeds arbitrary frames to a registered module's frame handler: it must
// never panic, and it must keep its state within the legacy ranges.
func FuzzHandleFrame(f *testing.F) {
	seed := func(m legacy.Message, id uint8) {
		fr, err := legacy.EncodeModule(m, id, 0)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(fr.ID, true, fr.Len, fr.Data[:8])
	}
	seed(&legacy.StatusRequest{ModuleID: 1}, 1)
	seed(&legacy.StateChange{ModuleID: 1, State: legacy.StateOn}, 1)
	seed(&legacy.MaxState{State: legacy.StateOn}, 0)
	seed(&legacy.CellDetailRequest{ModuleID: 1, CellID: 3}, 1)
	seed(&legacy.Registration{ModuleID: 2, ControllerID: 1, Manufacturer: DefaultManufacturer, Part: DefaultPart, UniqueID: testUID}, 0xFF)
	seed(&legacy.AllDeregister{}, 0)
	f.Add(uint32(0x1E804001), true, uint8(8), []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(uint32(0x400), false, uint8(8), []byte{3, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, id uint32, ext bool, n uint8, data []byte) {
		d, err := New(Config{Bus: &sink{}, UniqueID: testUID, Profile: mcu.Zero(), NoWeb4: true, Cells: 8})
		if err != nil {
			t.Fatal(err)
		}
		d.runCtx = context.Background()
		d.moduleID = 1
		fr := bus.Frame{ID: id, Extended: ext, Len: n}
		copy(fr.Data[:], data)
		for range 2 {
			d.handleFrame(bus.Received{Frame: fr})
			d.answerStatus()
			d.stepModel()
		}
		if d.state > legacy.StateOn || d.maxState > legacy.StateOn || !legacy.ValidModuleAddress(d.moduleID) {
			t.Fatalf("state %d max %d module %#x", d.state, d.maxState, d.moduleID)
		}
		if d.stats.Rejected[CauseEncode] != 0 {
			t.Fatal("an answer failed to encode")
		}
	})
}
