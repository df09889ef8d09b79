package legacy

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/modbatt/hilrun/bus"
)

// golden pins each message's wire form (candump compact syntax) to hand-computed bytes.
var golden = []struct {
	msg    Message
	module uint8  // module bus: EID module field
	seq    uint16 // module bus: EID sequence
	pack   uint8  // app bus
	wire   string
}{
	{&Announcement{FirmwareBuild: 0x0123, Manufacturer: 2, Part: 3, UniqueID: 0xDEADBEEF}, 0xFF, 0, 0, "140000FF#23010203EFBEADDE"},
	{&Hardware{MaxChargeA: 50, MaxDischargeA: 100, MaxChargeEndV: 58.4, HWVersion: 0x0102}, 5, 0, 0, "14040005#F401E803D0160201"},
	{&Status1{State: StateOn, Status: 2, SOC: 87.5, SOH: 99, CellCount: 94, Current: -12.5, Voltage: 52.5}, 5, 0, 0, "14080005#23AFC65E8F7DAC0D"},
	{&Status2{MinCellV: 3.2, MaxCellV: 3.35, AvgCellV: 3.275, TotalV: 307.8}, 5, 3, 0, "140C0305#800C160DCB0C2850"},
	{&Status3{MinTemp: 20, MaxTemp: 25.5, AvgTemp: 22.25}, 1, 0, 0, "14100001#6F1D951F501E0000"},
	{&CellDetail{CellID: 7, CellCount: 94, Temp: 24, Voltage: 3.301, SOC: 50, SOH: 100}, 2, 0, 0, "14140002#075EFF1EE50C64C8"},
	{&TimeRequest{}, 5, 0, 0, "14180005#"},
	{&CellComm1{FewestCellMsgs: 10, MostCellMsgs: 12, I2CErrors: 0x0102, FramingErrors: 3, FirstI2CFault: 0xFF}, 5, 0, 0, "141C0005#0A0C020103FF0000"},
	{&CellComm2{Timeouts: 1, ChecksumErrors: 2, Overruns: 3, Responding: 94}, 5, 0, 0, "14200005#0100020003005E00"},
	{&Registration{ModuleID: 5, ControllerID: 1, Manufacturer: 2, Part: 3, UniqueID: 0xDEADBEEF}, 0xFF, 0, 0, "144000FF#05010203EFBEADDE"},
	{&HardwareRequest{ModuleID: 5}, 5, 0, 0, "14440005#05"},
	{&StatusRequest{ModuleID: 5}, 5, 0, 0, "14480005#05"},
	{&StateChange{ModuleID: 5, State: StatePrecharge, HVBusV: 400}, 5, 0, 0, "14500005#0502A00F"},
	{&CellDetailRequest{ModuleID: 5, CellID: 12}, 5, 0, 0, "14540005#050C000000000000"},
	{&SetTime{Marker: 0xA5, Epoch: 1700000000}, 5, 0, 0, "14580005#A500F15365"},
	{&MaxState{State: StateOn}, 0, 0, 0, "145C0000#03"},
	{&Deregister{ModuleID: 5, Reason: 2}, 5, 0, 0, "14600005#0502"},
	{&AnnounceRequest{RequestType: 1}, 0xFF, 0, 0, "147400FF#01"},
	{&AllDeregister{Reason: 0}, 0, 0, 0, "14780000#00"},
	{&AllIsolate{Reason: 4}, 0, 0, 0, "147C0000#04"},

	{&AppCommand{Controls{Contactor: StateOn, Balance: 1, Isolation: 2, HVBusV: 400.05}}, 0, 0, 0, "400#27002E6800000000"},
	{&AppTime{Epoch: 1700000000}, 0, 0, 1, "501#00F1536500000000"},
	{&ModuleCommand{ModuleID: 5, Controls: Controls{Contactor: StateStandby, Isolation: 1, HVBusV: 15}}, 0, 0, 0, "404#051100E803000000"},
	{&KeepAlive{}, 0, 0, 0, "405#0000000000000000"},
	{&ModuleListRequest{}, 0, 0, 1, "506#0000000000000000"},
	{&PackState{State: StateOn, SOH: 98, Status: StatusNormal, Balanced: true, ModuleFault: true, TotalModules: 4, ActiveModules: 3}, 0, 0, 0, "410#D75F040300000000"},
	{&ModuleState{ModuleID: 5, State: StateOn, SOH: 99.5, Status: StatusNormal, Balanced: true, Balancing: true, FaultCode: 0x12, SOC: 80, TotalModules: 4, ActiveModules: 4, CellCount: 94}, 0, 0, 0, "411#051FBF04A004045E"},
	{&ModulePower{ModuleID: 5, Voltage: 52.5, Current: 10}, 0, 0, 0, "412#05AC0DF481000000"},
	{&ModuleCellVoltages{ModuleID: 5, High: 3.35, Low: 3.2, Avg: 3.275}, 0, 0, 0, "413#05160D800CCB0C00"},
	{&ModuleCellTemps{ModuleID: 5, High: 25.5, Low: 20, Avg: 22.25}, 0, 0, 0, "414#05951F6F1D501E00"},
	{&ModuleCellIDs{ModuleID: 5, MaxVoltCell: 10, MinVoltCell: 20, MaxTempCell: 30, MinTempCell: 40}, 0, 0, 0, "415#050A141E28000000"},
	{&ModuleLimits{ModuleID: 5, DischargeLimit: 100, ChargeLimit: 50, ChargeEndV: 58.5}, 0, 0, 0, "416#058893C4893C0F00"},
	{&ModuleList{Modules: 1<<1 | 1<<2 | 1<<5}, 0, 0, 0, "41F#2600000000000000"},
	{&PackPower{Voltage: 400, Current: -25.5}, 0, 0, 0, "421#00000000401F027B"},
	{&PackCells{SOC: 50, High: 3.35, Low: 3.2, Avg: 3.275}, 0, 0, 0, "422#007D160D800CCB0C"},
	{&PackTemps{High: 25.5, Low: 20, Avg: 22.25}, 0, 0, 0, "423#5025A024E8240000"},
	{&PackLimits{DischargeLimit: 200, ChargeLimit: 100, ChargeEndV: 420}, 0, 0, 1, "525#A08CD084D0200000"},
}

func encodeGolden(t *testing.T, i int) bus.Frame {
	t.Helper()
	g := golden[i]
	var f bus.Frame
	var err error
	if g.msg.MsgID().Bus() == BusModule {
		f, err = EncodeModule(g.msg, g.module, g.seq)
	} else {
		f, err = EncodeApp(g.msg, g.pack)
	}
	if err != nil {
		t.Fatalf("%s: encode: %v", g.msg.MsgID(), err)
	}
	return f
}

func TestGoldenEncode(t *testing.T) {
	for i, g := range golden {
		t.Run(g.msg.MsgID().String(), func(t *testing.T) {
			if got := encodeGolden(t, i).String(); got != g.wire {
				t.Errorf("got %s, want %s", got, g.wire)
			}
		})
	}
}

func TestGoldenDecode(t *testing.T) {
	for i, g := range golden {
		t.Run(g.msg.MsgID().String(), func(t *testing.T) {
			d, err := Decode(encodeGolden(t, i))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d.Msg, g.msg) {
				t.Errorf("decoded %+v, want %+v", d.Msg, g.msg)
			}
			wantBus := g.msg.MsgID().Bus()
			if d.Bus != wantBus || d.ModuleID != g.module || d.Seq != g.seq || d.Pack != g.pack {
				t.Errorf("addressing %v module %#x seq %d pack %d", d.Bus, d.ModuleID, d.Seq, d.Pack)
			}
		})
	}
}

func TestEveryMessageHasAGolden(t *testing.T) {
	seen := map[MsgID]bool{}
	for _, g := range golden {
		seen[g.msg.MsgID()] = true
	}
	for _, id := range MsgIDs() {
		if !seen[id] {
			t.Errorf("no golden for %s (0x%03X)", id, uint16(id))
		}
	}
	if len(MsgIDs()) != 37 {
		t.Errorf("%d messages defined, want 37", len(MsgIDs()))
	}
}

// TestScalesRoundTrip checks every raw value of every scaled field survives raw → phys → raw.
func TestScalesRoundTrip(t *testing.T) {
	for _, id := range MsgIDs() {
		for _, f := range fieldsOf(id) {
			if f.sc == nil {
				continue
			}
			for raw := uint64(0); raw <= f.mask(); raw++ {
				v := f.sc.phys(raw)
				back, ok := f.sc.raw(v, f.mask())
				if !ok || back != raw {
					t.Fatalf("%s.%s: raw %d → %v → %d (ok %v)", id, f.name, raw, v, back, ok)
				}
			}
		}
	}
}

// TestRandomPayloadsRoundTrip decodes random payloads, re-encodes them and checks that every
// defined bit survives and nothing else is set.
func TestRandomPayloadsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, id := range MsgIDs() {
		var used uint64
		for _, f := range fieldsOf(id) {
			used |= f.mask() << f.start
		}
		decoded := 0
		for i := 0; i < 2000; i++ {
			var p [8]byte
			for j := range p {
				p[j] = byte(rng.Uint32())
			}
			m, err := UnmarshalPayload(id, p[:])
			if err != nil {
				if !errors.Is(err, ErrValue) {
					t.Fatalf("%s: %v", id, err)
				}
				continue
			}
			decoded++
			out, err := MarshalPayload(m)
			if err != nil {
				t.Fatalf("%s: re-encode %+v: %v", id, m, err)
			}
			if got, want := loadBits(out), loadBits(p[:])&used; got != want {
				t.Fatalf("%s: %X → %X, want %X", id, p, out, want)
			}
		}
		if decoded == 0 {
			t.Errorf("%s: no random payload decoded", id)
		}
	}
}

func TestFieldsDoNotOverlap(t *testing.T) {
	for _, id := range MsgIDs() {
		var used uint64
		end := 0
		for _, f := range fieldsOf(id) {
			bits := f.mask() << f.start
			if int(f.start)+int(f.size) > 64 || used&bits != 0 {
				t.Errorf("%s.%s overlaps or overflows", id, f.name)
			}
			used |= bits
			if e := (int(f.start) + int(f.size) + 7) / 8; e > end {
				end = e
			}
		}
		if s := specs[id]; s.minLen != end || s.encLen < s.minLen {
			t.Errorf("%s: minLen %d encLen %d, fields end at byte %d", id, s.minLen, s.encLen, end)
		}
	}
}

func fieldsOf(id MsgID) []*field {
	m, _ := New(id)
	var l fieldLister
	m.walk(&l)
	return l.fields
}

func TestEncodeRejects(t *testing.T) {
	cases := []struct {
		name string
		do   func() error
		want error
	}{
		{"soc above 127.5", func() error { _, err := MarshalPayload(&Status1{SOC: 128}); return err }, ErrRange},
		{"negative voltage", func() error { _, err := MarshalPayload(&Status1{Voltage: -1}); return err }, ErrRange},
		{"NaN", func() error { _, err := MarshalPayload(&PackPower{Voltage: math.NaN()}); return err }, ErrRange},
		{"+Inf", func() error { _, err := MarshalPayload(&PackPower{Current: math.Inf(1)}); return err }, ErrRange},
		{"current below -655.36", func() error { _, err := MarshalPayload(&Status1{Current: -655.38}); return err }, ErrRange},
		{"state 4", func() error { _, err := MarshalPayload(&Status1{State: 4}); return err }, ErrValue},
		{"state 16 in a nibble", func() error { _, err := MarshalPayload(&StateChange{ModuleID: 1, State: 16}); return err }, ErrRange},
		{"status nibble 16", func() error { _, err := MarshalPayload(&Status1{Status: 16}); return err }, ErrRange},
		{"2-bit balance 4", func() error { _, err := MarshalPayload(&AppCommand{Controls{Balance: 4}}); return err }, ErrRange},
		{"registration module 0", func() error { _, err := MarshalPayload(&Registration{}); return err }, ErrValue},
		{"request module 0x20", func() error { _, err := MarshalPayload(&StatusRequest{ModuleID: 0x20}); return err }, ErrValue},
		{"EID module 0x20", func() error { _, err := EncodeModule(&TimeRequest{}, 0x20, 0); return err }, ErrModuleID},
		{"sequence 1024", func() error { _, err := EncodeModule(&TimeRequest{}, 1, 1024); return err }, ErrSeq},
		{"pack 2", func() error { _, err := EncodeApp(&KeepAlive{}, 2); return err }, ErrPack},
		{"app message on CAN2", func() error { _, err := EncodeModule(&KeepAlive{}, 1, 0); return err }, ErrWrongBus},
		{"module message on CAN1", func() error { _, err := EncodeApp(&TimeRequest{}, 0); return err }, ErrWrongBus},
		{"base 0x520", func() error { _, err := ModuleBusID(0x520, 1, 0); return err }, ErrBase},
		{"base 0x4FF", func() error { _, err := ModuleBusID(0x4FF, 1, 0); return err }, ErrBase},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.do()
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// Half a step beyond the top still rounds onto the top value and is accepted.
	if _, err := MarshalPayload(&Status1{SOC: 127.6}); err != nil {
		t.Errorf("127.6 %% should round to 127.5 %%: %v", err)
	}
	var re *RangeError
	if _, err := MarshalPayload(&PackTemps{High: -300}); !errors.As(err, &re) || re.Signal != "high_temp" || re.Min != -273 {
		t.Errorf("range error detail: %#v", err)
	}
}

func frame(id uint32, ext bool, data ...byte) bus.Frame {
	f := bus.Frame{ID: id, Extended: ext, Len: uint8(len(data))}
	copy(f.Data[:], data)
	return f
}

func TestDecodeRejects(t *testing.T) {
	fd := frame(0x14080005, true, 1, 2, 3, 4, 5, 6, 7, 8)
	fd.FD = true
	rtr := frame(0x14080005, true)
	rtr.Remote = true
	cases := []struct {
		name string
		f    bus.Frame
		want error
	}{
		{"status1 7 bytes", frame(0x14080005, true, 0, 0, 0, 0, 0, 0, 0), ErrLength},
		{"state change 3 bytes", frame(0x14500005, true, 5, 1, 0), ErrLength},
		{"status request empty", frame(0x14480005, true), ErrLength},
		{"pack power 7 bytes", frame(0x421, false, 0, 0, 0, 0, 0, 0, 0), ErrLength},
		{"status1 state 4", frame(0x14080005, true, 4, 0, 0, 0, 0, 0, 0, 0), ErrValue},
		{"max state 5", frame(0x145C0000, true, 5), ErrValue},
		{"state change module 0", frame(0x14500005, true, 0, 1, 0, 0), ErrValue},
		{"module state module 0x20", frame(0x411, false, 0x20, 0, 0, 0, 0, 0, 0, 0), ErrValue},
		{"EID module 0x20", frame(0x14080020, true, 0, 0, 0, 0, 0, 0, 0, 0), ErrModuleID},
		{"undefined base 0x509", frame(0x14240005, true), ErrUnknownMessage},
		{"undefined app 0x407", frame(0x407, false, 1), ErrUnknownMessage},
		{"undefined app 0x52A (pack 1)", frame(0x52A, false), ErrUnknownMessage},
		{"base 0x520", frame(0x520<<18|5, true), ErrNotLegacy},
		{"web4 style id", frame(0x0C004001, true), ErrNotLegacy},
		{"11-bit 0x123", frame(0x123, false), ErrNotLegacy},
		{"11-bit 0x431", frame(0x431, false), ErrNotLegacy},
		{"FD", fd, ErrFrameKind},
		{"remote", rtr, ErrFrameKind},
		{"invalid", bus.Frame{ID: 0x800}, ErrFrameKind},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.f)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// Padding after the last defined field is ignored, as the firmware pads short frames to 8 bytes.
func TestDecodeIgnoresPadding(t *testing.T) {
	d, err := Decode(frame(0x14480005, true, 5, 0xAA, 0xBB, 0, 0, 0, 0, 0))
	if err != nil || d.Msg.(*StatusRequest).ModuleID != 5 {
		t.Fatalf("%+v %v", d, err)
	}
	d, err = Decode(frame(0x14100001, true, 0x6F, 0x1D, 0x95, 0x1F, 0x50, 0x1E))
	if err != nil || d.Msg.(*Status3).AvgTemp != 22.25 {
		t.Fatalf("6-byte status3: %+v %v", d, err)
	}
}

func TestModuleBusIDRoundTrip(t *testing.T) {
	for base := MsgID(BaseFirst); base <= MsgID(BaseLast); base++ {
		for mod := 0; mod < 256; mod++ {
			for _, seq := range []uint16{0, 1, 0x155, 0x2AA, MaxSeq} {
				id, err := ModuleBusID(base, uint8(mod), seq)
				if !ValidModuleAddress(uint8(mod)) {
					if !errors.Is(err, ErrModuleID) {
						t.Fatalf("module %#x accepted: %v", mod, err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				b, m, s, err := SplitModuleBusID(id)
				if err != nil || b != base || m != uint8(mod) || s != seq {
					t.Fatalf("%#x: %v %v %v %v", id, b, m, s, err)
				}
			}
		}
	}
}

func TestAppBusID(t *testing.T) {
	for id := MsgID(AppFirst); id <= MsgID(AppLast); id++ {
		for pack := uint8(0); pack <= MaxPack; pack++ {
			raw, err := AppBusID(id, pack)
			if err != nil {
				t.Fatal(err)
			}
			back, p, err := SplitAppBusID(uint32(raw))
			if err != nil || back != id || p != pack {
				t.Fatalf("%#x pack %d → %#x → %#x %d %v", id, pack, raw, back, p, err)
			}
		}
	}
	if _, err := AppBusID(0x500, 0); !errors.Is(err, ErrNotLegacy) {
		t.Errorf("module-bus base as app ID: %v", err)
	}
}

func BenchmarkDecodeStatus1(b *testing.B) {
	f := frame(0x14080005, true, 0x23, 0xAF, 0xC6, 0x5E, 0x8F, 0x7D, 0xAC, 0x0D)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeStatus1(b *testing.B) {
	m := &Status1{State: StateOn, SOC: 87.5, SOH: 99, CellCount: 94, Current: -12.5, Voltage: 52.5}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeModule(m, 5, 0); err != nil {
			b.Fatal(err)
		}
	}
}
