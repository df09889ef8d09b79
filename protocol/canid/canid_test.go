package canid

import (
	"errors"
	"testing"
)

// TestLegacyDisjoint walks every legacy module-bus identifier (each base, module ID and sequence
// value) and proves none decodes as Web4 and every one classifies as legacy.
func TestLegacyDisjoint(t *testing.T) {
	lo, hi := LegacyBaseRange()
	n := 0
	for base := lo; base <= hi; base++ {
		for eid := uint32(0); eid < 1<<18; eid++ { // bits 0–7 module ID, 8–17 sequence
			raw := base<<18 | eid
			if _, err := Decode(raw, true); err == nil {
				t.Fatalf("legacy 0x%08X decodes as Web4", raw)
			}
			if c := Classify(raw, true); c != Legacy {
				t.Fatalf("legacy 0x%08X classified %v", raw, c)
			}
			n++
		}
	}
	for raw := uint32(0); raw <= 0x7FF; raw++ {
		if _, err := Decode(raw, false); !errors.Is(err, ErrStandardID) {
			t.Fatalf("standard 0x%03X: %v", raw, err)
		}
		if IsLegacyAppID(raw) && Classify(raw, false) != Legacy {
			t.Fatalf("app-bus 0x%03X not legacy", raw)
		}
	}
	if n != 32<<18 {
		t.Fatalf("walked %d legacy identifiers", n)
	}
}

// TestWeb4NeverLegacy walks every Web4 identifier profile v1 can produce and proves none lies in
// the legacy space and each round-trips.
func TestWeb4NeverLegacy(t *testing.T) {
	lo, hi := LegacyBaseRange()
	n := 0
	for _, ty := range Types() {
		for _, enc := range []struct {
			on    bool
			level Level
		}{{false, 0}, {true, LevelExchange}, {true, LevelPairing}, {true, LevelBinding}} {
			for dst := 0; dst < 256; dst++ {
				for src := 0; src < 256; src++ {
					id := New(ty, enc.on, enc.level, uint8(dst), uint8(src))
					raw := id.Encode()
					if base := raw >> 18; base >= lo && base <= hi {
						t.Fatalf("%v encodes to legacy base 0x%X", id, base)
					}
					if Classify(raw, true) != Web4 {
						t.Fatalf("%v (0x%08X) not classified Web4", id, raw)
					}
					got, err := Decode(raw, true)
					if err != nil || got != id {
						t.Fatalf("round trip %v: %v, %v", id, got, err)
					}
					n++
				}
			}
		}
	}
	t.Logf("%d Web4 identifiers checked", n)
}

func TestSeedBitSignalling(t *testing.T) {
	id := New(TypeCommand, true, LevelPairing, AddrModuleFirst, AddrPack)
	raw := id.Encode()
	if raw&(1<<17) == 0 || (raw>>18)&3 != 1 {
		t.Fatalf("0x%08X: bit 17 / bits 18–19 not as the seeds say", raw)
	}
	clear := New(TypeAnnounce, false, 0, AddrBroadcast, 3).Encode()
	if clear&(1<<17) != 0 || (clear>>18)&3 != 0 {
		t.Fatalf("clear 0x%08X carries encryption bits", clear)
	}
}

func TestArbitrationOrder(t *testing.T) {
	// Lower identifier wins; the worst emergency/command must beat the best validation, handshake
	// and telemetry identifier.
	worst := func(ty Type) uint32 { return New(ty, true, LevelBinding, 0xFF, 0xFF).Encode() }
	best := func(ty Type) uint32 { return New(ty, false, 0, 0, 0).Encode() }
	for _, hi := range []Type{TypeEmergency, TypeCommand} {
		for _, lo := range []Type{TypeEscalation, TypeBindingValid, TypeSignedHandshake, TypeKeyHalf, TypeTelemetry, TypeAnnounce} {
			if worst(hi) >= best(lo) {
				t.Errorf("%v (0x%08X) does not win over %v (0x%08X)", hi, worst(hi), lo, best(lo))
			}
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		raw  uint32
		ext  bool
		want error
	}{
		{0x123, false, ErrStandardID},
		{0x20000000, true, ErrTooWide},
		{5 << 26, true, ErrLegacySpace},
		{New(TypeCommand, false, 0, 1, 2).Encode() | 1<<16, true, ErrProfileBit},
		{New(TypeCommand, false, 0, 1, 2).Encode() | 1<<18, true, ErrClearLevel},
		{New(TypeCommand, true, LevelReserved, 1, 2).Encode(), true, ErrReservedLevel},
		{uint32(PrioCommand)<<26 | 0x3F<<20, true, ErrUnknownType},
		{uint32(PrioTelemetry)<<26 | uint32(TypeCommand)<<20, true, ErrPriorityMismatch},
	}
	for _, c := range cases {
		_, err := Decode(c.raw, c.ext)
		if !errors.Is(err, c.want) || !errors.Is(err, ErrNotWeb4) {
			t.Errorf("0x%08X: got %v, want %v", c.raw, err, c.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(uint32(0x0480_0140), true)
	f.Add(uint32(0x500<<18|0x01), true)
	f.Add(uint32(0x400), false)
	f.Fuzz(func(t *testing.T, raw uint32, ext bool) {
		id, err := Decode(raw, ext)
		c := Classify(raw, ext)
		if err != nil {
			if c == Web4 {
				t.Fatalf("0x%08X: Decode failed (%v) but classified Web4", raw, err)
			}
			return
		}
		if c != Web4 {
			t.Fatalf("0x%08X decodes but classified %v", raw, c)
		}
		if id.Encode() != raw {
			t.Fatalf("0x%08X re-encodes to 0x%08X", raw, id.Encode())
		}
	})
}
