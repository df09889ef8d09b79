package legacy

import (
	"reflect"
	"testing"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/protocol/canid"
)

// FuzzDecode feeds arbitrary identifiers, flags and payloads to Decode and Describe: neither may
// panic, Describe must agree with canid.Classify, and whatever decodes must re-encode to a frame
// that decodes to the same message.
func FuzzDecode(f *testing.F) {
	for i := range golden {
		g := golden[i]
		var fr bus.Frame
		if g.msg.MsgID().Bus() == BusModule {
			fr, _ = EncodeModule(g.msg, g.module, g.seq)
		} else {
			fr, _ = EncodeApp(g.msg, g.pack)
		}
		f.Add(fr.ID, fr.Extended, byte(0), fr.Payload())
	}
	f.Add(uint32(0x14080020), true, byte(0), []byte{4, 0, 0})
	f.Add(uint32(0x407), false, byte(1), []byte{})
	f.Add(uint32(0xFFFFFFFF), true, byte(2), make([]byte, 64))
	f.Fuzz(func(t *testing.T, id uint32, ext bool, flags byte, data []byte) {
		fr := bus.Frame{ID: id, Extended: ext, Remote: flags&1 != 0, FD: flags&2 != 0}
		n := copy(fr.Data[:], data)
		fr.Len = uint8(n)
		d, err := Decode(fr)
		desc, ok := Describe(fr)
		if want := canid.Classify(id, ext) == canid.Legacy; ok != want {
			t.Fatalf("Describe ok %v, Classify legacy %v", ok, want)
		}
		if err != nil {
			if ok && desc.Err == nil {
				t.Fatalf("Decode failed (%v) but Describe found no error", err)
			}
			return
		}
		if !ok || desc.Err != nil || len(desc.Signals) != len(fieldsOf(d.Msg.MsgID())) {
			t.Fatalf("decoded %s but Describe says ok %v err %v", fr, ok, desc.Err)
		}
		var again bus.Frame
		if d.Bus == BusModule {
			again, err = EncodeModule(d.Msg, d.ModuleID, d.Seq)
		} else {
			again, err = EncodeApp(d.Msg, d.Pack)
		}
		if err != nil {
			t.Fatalf("re-encode %+v: %v", d.Msg, err)
		}
		d2, err := Decode(again)
		if err != nil || !reflect.DeepEqual(d, d2) {
			t.Fatalf("%s → %s: %+v vs %+v (%v)", fr, again, d, d2, err)
		}
	})
}
