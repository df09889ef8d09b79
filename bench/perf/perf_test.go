package perf

import (
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/suite"
)

func TestDiff(t *testing.T) {
	base := []mcu.Tally{{Op: suite.OpAEADBlock, Calls: 2, Units: 8, Total: 4 * time.Millisecond}}
	now := []mcu.Tally{{Op: suite.OpAEADBlock, Calls: 3, Units: 12, Total: 6 * time.Millisecond},
		{Op: suite.OpVerify, Calls: 1, Units: 1, Total: 7 * time.Second}}
	got := diff(now, base)
	want := []mcu.Tally{{Op: suite.OpAEADBlock, Calls: 1, Units: 4, Total: 2 * time.Millisecond},
		{Op: suite.OpVerify, Calls: 1, Units: 1, Total: 7 * time.Second}}
	if len(got) != len(want) {
		t.Fatalf("diff = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("diff[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if d := diff(base, base); len(d) != 0 {
		t.Errorf("no change: %v", d)
	}
}

// legacyAt encodes a module-bus message stamped at ms milliseconds.
func legacyAt(t *testing.T, t0 time.Time, ms int, m legacy.Message, id uint8) bus.Received {
	t.Helper()
	f, err := legacy.EncodeModule(m, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return bus.Received{Frame: f, Time: t0.Add(time.Duration(ms) * time.Millisecond)}
}

func TestPollCyclesAndSlots(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	req := func(ms int, id uint8) bus.Received {
		return legacyAt(t, t0, ms, &legacy.StatusRequest{ModuleID: id}, id)
	}
	ans := func(ms int, id uint8) bus.Received { return legacyAt(t, t0, ms, &legacy.CellComm1{}, id) }
	frames := []bus.Received{
		ans(5, 2),                // an answer before any round: ignored
		req(100, 1), ans(111, 1), // round 1
		req(200, 2), ans(211, 2),
		req(300, 1), ans(311, 1), // round 2
		req(450, 2), // late slot (150 ms), never answered
		req(500, 1), // round 3 begins: round 2 was incomplete
	}
	tm := bus.Timing{Nominal: 500_000}
	cycles := pollCycles(frames, []uint8{1, 2}, tm)
	if len(cycles) != 1 {
		t.Fatalf("cycles = %v", cycles)
	}
	d := tm.Duration(&frames[1].Frame, bus.Exact)
	if got, want := cycles[0][1].Sub(cycles[0][0]), 111*time.Millisecond+d; got != want {
		t.Errorf("cycle = %v, want %v (request start to last answer)", got, want)
	}
	slots := pollSlots(frames)
	if len(slots) != 4 || slots[2][1].Sub(slots[2][0]) != 150*time.Millisecond {
		t.Errorf("slots = %v", slots)
	}
	var r SoakResult
	r.slots(frames, 100*time.Millisecond)
	if r.Slots != 5 || r.SlotLate != 1 || r.Unanswered != 1 || r.WorstSlot != 150*time.Millisecond {
		t.Errorf("slots %d late %d unanswered %d worst %v", r.Slots, r.SlotLate, r.Unanswered, r.WorstSlot)
	}
}

func TestLastFrameOf(t *testing.T) {
	id := canid.New(canid.TypeBindingValid, true, canid.LevelBinding, 0x40, canid.AddrApp).Encode()
	fc := canid.New(canid.TypeBindingValid, true, canid.LevelBinding, canid.AddrApp, 0x40).Encode()
	frame := func(id uint32, b ...byte) bus.Frame {
		f := bus.Frame{ID: id, Extended: true, Len: uint8(len(b))}
		copy(f.Data[:], b)
		return f
	}
	match := lastFrameOf(canid.TypeBindingValid, canid.AddrApp, 0x40)
	// 20 bytes: a first frame with 6, then 7 + 7.
	seq := []struct {
		f    bus.Frame
		last bool
	}{
		{frame(id, 0x21, 1, 2, 3, 4, 5, 6, 7), false}, // a consecutive frame before any first frame
		{frame(id, 0x10, 20, 1, 2, 3, 4, 5, 6), false},
		{frame(fc, 0x30, 0, 0), false}, // flow control, the other way
		{frame(id, 0x21, 1, 2, 3, 4, 5, 6, 7), false},
		{frame(id, 0x22, 1, 2, 3, 4, 5, 6, 7), true},
	}
	for i, s := range seq {
		if got := match(s.f); got != s.last {
			t.Errorf("frame %d (%s): %v", i, s.f, got)
		}
	}
	if !lastFrameOf(canid.TypeBindingValid, canid.AddrApp, 0x40)(frame(id, 0x05, 1, 2, 3, 4, 5)) {
		t.Error("a single frame completes its message")
	}
}
