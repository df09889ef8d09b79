package describe

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/protocol/canid"
)

func ext(id uint32, data ...byte) bus.Frame {
	f := bus.Frame{ID: id, Extended: true, Len: uint8(len(data))}
	copy(f.Data[:], data)
	return f
}

func TestFrameSummaries(t *testing.T) {
	announce := canid.New(canid.TypeAnnounce, false, 0, canid.AddrBroadcast, 0x01).Encode()
	command := canid.New(canid.TypeCommand, true, canid.LevelPairing, canid.AddrPack, canid.AddrApp).Encode()
	fcID := canid.New(canid.TypeCommand, true, canid.LevelPairing, canid.AddrApp, canid.AddrPack).Encode()
	short := canid.New(canid.TypeTelemetryShort, true, canid.LevelExchange, canid.AddrPack, 0x1F).Encode()
	fdSF := ext(canid.New(canid.TypeWitness, false, 0, 0x41, 0xFF).Encode(), append([]byte{0x00, 10}, make([]byte, 10)...)...)
	fdSF.FD = true
	tests := []struct {
		name string
		f    bus.Frame
		want string
	}{
		{"web4 SF", ext(announce, 0x06, 1, 2, 3, 4, 5, 6),
			"web4 announce p7 clear module 1(0x01) → broadcast(0x00) ISO-TP SF len=6"},
		{"web4 FF", ext(command, 0x10, 0xD2, 1, 2, 3, 4, 5, 6),
			"web4 command p1 enc/pairing app(0x60) → pack(0x40) ISO-TP FF len=210"},
		{"web4 FF escape", ext(command, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 1, 2),
			"web4 command p1 enc/pairing app(0x60) → pack(0x40) ISO-TP FF len=65536"},
		{"web4 CF", ext(command, 0x2F, 1, 2, 3, 4, 5, 6, 7),
			"web4 command p1 enc/pairing app(0x60) → pack(0x40) ISO-TP CF sn=15"},
		{"web4 FC", ext(fcID, 0x30, 0x08, 0x05),
			"web4 command p1 enc/pairing pack(0x40) → app(0x60) ISO-TP FC CTS bs=8 stmin=5"},
		{"web4 FC wait", ext(fcID, 0x31, 0, 0),
			"web4 command p1 enc/pairing pack(0x40) → app(0x60) ISO-TP FC WAIT bs=0 stmin=0"},
		{"web4 bad SF", ext(announce, 0x07, 1, 2),
			"web4 announce p7 clear module 1(0x01) → broadcast(0x00) ISO-TP invalid (SF_DL 7 in a 3-byte frame)"},
		{"web4 empty", ext(announce),
			"web4 announce p7 clear module 1(0x01) → broadcast(0x00) ISO-TP invalid (empty frame)"},
		{"web4 reserved PCI", ext(announce, 0x40),
			"web4 announce p7 clear module 1(0x01) → broadcast(0x00) ISO-TP invalid (reserved PCI type 4)"},
		{"web4 raw", ext(short, 1, 2, 3, 4, 5, 6, 7, 8),
			"web4 telemetry-short p6 enc/exchange module 31(0x1F) → pack(0x40) raw"},
		{"web4 FD SF escape", fdSF,
			"web4 witness p3 clear unregistered(0xFF) → pack 1(0x41) ISO-TP SF len=10"},
		{"unknown standard", bus.Frame{ID: 0x123}, "unknown"},
		{"unknown extended", ext(0x1FFFFFFF), "unknown (canid: not a Web4 identifier: profile bit 16 set (not profile v1))"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Frame(tc.f)
			if d.Summary != tc.want {
				t.Errorf("got  %q\nwant %q", d.Summary, tc.want)
			}
		})
	}
}

func TestLegacyFrames(t *testing.T) {
	// 0x502 status 1 from module 3, sequence 2.
	st := ext(0x502<<18|2<<8|3, 0x13, 100, 200, 12, 0, 0x80, 0, 0)
	d := Frame(st)
	if d.Protocol != ProtoLegacy || d.Legacy == nil || *d.Legacy.ModuleID != 3 || *d.Legacy.Seq != 2 || d.Legacy.MsgID != "0x502" {
		t.Fatalf("got %+v", d)
	}
	if !strings.HasPrefix(d.Summary, "legacy CAN2 ") || !strings.Contains(d.Summary, "module=0x03 seq=2") {
		t.Errorf("summary %q", d.Summary)
	}
	app := Frame(bus.Frame{ID: 0x505, Len: 1}) // 0x405 keep-alive of pack 1
	if app.Protocol != ProtoLegacy || app.Legacy.Pack == nil || *app.Legacy.Pack != 1 {
		t.Errorf("got %+v", app)
	}
}

func TestErrorFrames(t *testing.T) {
	if got := Error(0x40).Summary; got != "error frame class=0x40 bus-off" {
		t.Errorf("got %q", got)
	}
	if got := Error(0x88 | 1<<20).Summary; got != "error frame class=0x100088 protocol-violation,bus-error,0x100000" {
		t.Errorf("got %q", got)
	}
}

func TestNodeNames(t *testing.T) {
	for a, want := range map[uint8]string{0: "broadcast", 1: "module 1", 0x1F: "module 31", 0x40: "pack", 0x41: "pack 1", 0x60: "app", 0xFF: "unregistered", 0x20: "node"} {
		if got := NodeName(a); got != want {
			t.Errorf("0x%02X: %q, want %q", a, got, want)
		}
	}
}

func TestJSONShape(t *testing.T) {
	command := canid.New(canid.TypeCommand, true, canid.LevelPairing, canid.AddrPack, canid.AddrApp).Encode()
	b, err := json.Marshal(Frame(ext(command, 0x21, 1)))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"protocol":"web4","web4":{"type":"command","type_code":8,"priority":1,"encrypted":true,"level":"pairing","src":96,"src_name":"app","dst":64,"dst_name":"pack","framing":"isotp","isotp":{"kind":"CF","seq":1}},"summary":"web4 command p1 enc/pairing app(0x60) → pack(0x40) ISO-TP CF sn=1"}`
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
}

func FuzzFrame(f *testing.F) {
	f.Add(uint32(0x1C800001), true, false, []byte{0x10, 0xD2, 1, 2, 3, 4, 5, 6})
	f.Add(uint32(0x502<<18|3), true, false, []byte{0x13, 100})
	f.Add(uint32(0x410), false, false, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(uint32(0x1C800001), true, true, make([]byte, 64))
	f.Fuzz(func(t *testing.T, id uint32, extended, fd bool, data []byte) {
		fr := bus.Frame{ID: id, Extended: extended, FD: fd}
		if len(data) > 64 {
			data = data[:64]
		}
		fr.Len = uint8(copy(fr.Data[:], data))
		if fr.Validate() != nil {
			return
		}
		if d := Frame(fr); d.Summary == "" {
			t.Fatal("empty summary")
		}
	})
}
