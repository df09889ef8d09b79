package legacy

import (
	"testing"

	"github.com/modbatt/hilrun/bus"
)

// The seeds signal encryption with ID bit 17 and the key level with bits 18–19. On a legacy
// module-bus identifier those bits belong to the sequence field and the base: these tests pin
// what the upstream defect does, so the bench recognises it when firmware commits it.
func TestSeedEncryptionBitsCorruptLegacyIDs(t *testing.T) {
	ann, err := ModuleBusID(IDAnnouncement, ModuleUnregistered, 0)
	if err != nil {
		t.Fatal(err)
	}
	// "Pairing level" (bits 18–19 = 01) turns an announcement into a hardware frame.
	base, _, _, err := SplitModuleBusID(ann | 1<<18 | 1<<17)
	if err != nil || base != IDHardware {
		t.Fatalf("0x500 with level 01: base %v, err %v", base, err)
	}
	// The encryption flag alone lands in the top bit of the sequence number.
	_, _, seq, err := SplitModuleBusID(ann | 1<<17)
	if err != nil || seq != 0x200 {
		t.Fatalf("bit 17 → seq %#x, err %v", seq, err)
	}
	// The decoder then reads the announcement payload as 0x501 without complaint: the
	// payload alone cannot reveal the corruption, only the identifier layout can.
	f, _ := EncodeModule(&Announcement{FirmwareBuild: 1, UniqueID: 2}, ModuleUnregistered, 0)
	f.ID |= 1 << 18
	d, err := Decode(f)
	if err != nil || d.Msg.MsgID() != IDHardware {
		t.Fatalf("corrupted announcement decoded as %v, %v", d.Msg, err)
	}
}

// The upstream key-half transfer builds 0x407 | chunk << 8 | packID: 0x407 already has bit 10
// set, so chunks 4–7 give the same identifiers as chunks 0–3.
func TestKeyHalfChunkIDsCollide(t *testing.T) {
	for chunk := uint32(0); chunk < 4; chunk++ {
		lo, hi := 0x407|chunk<<8, 0x407|(chunk+4)<<8
		if lo&bus.MaxStandardID != hi&bus.MaxStandardID {
			t.Errorf("chunk %d (%#x) and %d (%#x) differ", chunk, lo, chunk+4, hi)
		}
	}
}
