package an3155

import "testing"

// FuzzTarget feeds the emulated boot loader arbitrary host bytes: it must never panic, must
// buffer no more than the largest well-formed command, and must answer only ACK, NACK or the
// data of Get, Get Version, Get ID and Read Memory.
func FuzzTarget(f *testing.F) {
	f.Add([]byte{Sync, 0x00, 0xFF, 0x02, 0xFD})
	f.Add([]byte{Sync, 0x31, 0xCE, 0x08, 0x00, 0x00, 0x00, 0x08, 0x03, 1, 2, 3, 4, 0x03 ^ 1 ^ 2 ^ 3 ^ 4, 0x11, 0xEE, 0x08, 0x00, 0x00, 0x00, 0x08, 0x03, 0xFC})
	f.Add([]byte{Sync, 0x44, 0xBB, 0xFF, 0xFF, 0x00, 0x44, 0xBB, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00})
	f.Add([]byte{Sync, 0x43, 0xBC, 0x01, 0x02, 0x03, 0x00})
	f.Add([]byte{Sync, 0x21, 0xDE, 0x08, 0x00, 0x00, 0x00, 0x08, 0x00, 0xFF})
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, old := range []bool{false, true} {
			tg := NewTarget(TargetConfig{Size: 16 << 10, PageSize: 1024, OldErase: old})
			limit := max(MaxBlock+1, 2*tg.pages()+3)
			for _, b := range in {
				tg.Feed(b)
				if tg.need > limit || len(tg.buf) > limit {
					t.Fatalf("buffering %d bytes", tg.need)
				}
				if len(tg.mem) != 16<<10 {
					t.Fatal("memory size changed")
				}
			}
			s := tg.Stats()
			if s.WrittenBytes > 256*s.Writes {
				t.Fatalf("stats %+v", s)
			}
		}
	})
}
