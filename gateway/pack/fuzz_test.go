package pack

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/legacy"
)

// FuzzFrames feeds the firmware logic arbitrary frames on either bus at arbitrary times: it
// must never panic, never send a frame the codecs refuse (the harness decodes every frame it
// sends), and keep its periodic traffic going.
func FuzzFrames(f *testing.F) {
	seed := func(can1 bool, fr bus.Frame, dt uint16) []byte {
		b := []byte{0}
		if can1 {
			b[0] = 1
		}
		flags := byte(0)
		if fr.Extended {
			flags |= 1
		}
		if fr.Remote {
			flags |= 2
		}
		b = binary.BigEndian.AppendUint32(b, fr.ID)
		b = append(b, flags, fr.Len)
		b = binary.BigEndian.AppendUint16(b, dt)
		return append(b, fr.Data[:8]...)
	}
	ann, _ := legacy.EncodeModule(&legacy.Announcement{Manufacturer: 2, Part: 3, UniqueID: 9}, 0xFF, 0)
	st, _ := legacy.EncodeModule(&legacy.Status1{State: 3, SOC: 50, Voltage: 40}, 1, 0)
	cmd, _ := legacy.EncodeApp(&legacy.AppCommand{Controls: legacy.Controls{Contactor: 3, HVBusV: 400}}, 0)
	tm, _ := legacy.EncodeApp(&legacy.AppTime{Epoch: 1 << 40}, 0)
	f.Add(append(append(seed(false, ann, 5), seed(false, st, 300)...), seed(true, cmd, 10)...))
	f.Add(append(seed(true, tm, 1), seed(true, bus.Frame{ID: 0x404, Len: 8, Data: [64]byte{0, 3}}, 700)...))
	f.Add(seed(false, bus.Frame{ID: 0x1FFFFFFF, Extended: true, Len: 8}, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		h := newHarness(t, nil)
		at := t0
		for n := 0; len(data) >= 17 && n < 64; n++ { // bounded simulated time keeps each run short
			rec := data[:17]
			data = data[17:]
			fr := bus.Frame{ID: binary.BigEndian.Uint32(rec[1:5]), Extended: rec[5]&1 != 0, Remote: rec[5]&2 != 0, Len: rec[6] % 9}
			copy(fr.Data[:8], rec[9:17])
			at = at.Add(time.Duration(binary.BigEndian.Uint16(rec[7:9])%5000) * time.Millisecond)
			h.inject(at, rec[0]&1 == 1, fr)
		}
		h.run(at.Add(time.Second))
		if h.c.stats.Heartbeats == 0 || h.c.stats.Blocks == 0 {
			t.Fatalf("periodic traffic stopped: %+v", h.c.stats)
		}
	})
}
