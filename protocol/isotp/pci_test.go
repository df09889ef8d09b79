package isotp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/protocol/canid"
)

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i + 1)
	}
	return b
}

func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

var (
	cmdID  = canid.New(canid.TypeCommand, false, 0, canid.AddrPack, 0x01) // module 0x01 → pack
	cmdRaw = cmdID.Encode()
)

func TestIdentifiers(t *testing.T) {
	if cmdRaw != 0x04804001 || cmdID.Reply().Encode() != 0x04800140 {
		t.Fatalf("ids %08X %08X", cmdRaw, cmdID.Reply().Encode())
	}
}

func TestGoldenEncoding(t *testing.T) {
	classicPad := Format{Pad: true, PadByte: 0xCC}
	classic := Format{}
	fd := Format{FD: true, BRS: true, TxDL: 64, Pad: true, PadByte: 0xCC}
	fdNoPad := Format{FD: true, TxDL: 64, PadByte: 0xAA}
	sf := func(fm Format, d []byte) bus.Frame {
		f, err := fm.Single(cmdRaw, d)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	ff := func(fm Format, size int) bus.Frame { f, _ := fm.First(cmdRaw, size, seq(size)); return f }
	cf := func(fm Format, sn uint8, d []byte) bus.Frame { f, _ := fm.Consecutive(cmdRaw, sn, d); return f }
	tests := []struct {
		name string
		f    bus.Frame
		fd   bool
		want string
	}{
		{"SF classic padded", sf(classicPad, seq(3)), false, "03010203CCCCCCCC"},
		{"SF classic unpadded", sf(classic, seq(3)), false, "03010203"},
		{"SF classic 7", sf(classic, seq(7)), false, "0701020304050607"},
		{"SF FD short form padded", sf(fd, seq(5)), true, "050102030405CCCC"},
		{"SF FD short form unpadded", sf(fdNoPad, seq(5)), true, "050102030405"},
		{"SF FD escape 10", sf(fd, seq(10)), true, "000A0102030405060708090A"},
		{"SF FD escape 20 padded to 24", sf(fd, seq(20)), true, "00140102030405060708090A0B0C0D0E0F1011121314CCCC"},
		{"FF classic 210", ff(classicPad, 210), false, "10D2010203040506"},
		{"FF classic 4095", ff(classic, 4095), false, "1FFF010203040506"},
		{"FF classic escape 5000", ff(classic, 5000), false, "1000000013880102"},
		{"FF FD 100", ff(fd, 100), true, "1064" + hex.EncodeToString(seq(62))},
		{"FF FD escape 5000", ff(fd, 5000), true, "100000001388" + hex.EncodeToString(seq(58))},
		{"CF full", cf(classicPad, 1, seq(9)), false, "2101020304050607"},
		{"CF SN wraps to 4 bits", cf(classic, 0x10, seq(7)), false, "2001020304050607"},
		{"CF last padded", cf(classicPad, 0xF, seq(3)), false, "2F010203CCCCCCCC"},
		{"CF last unpadded", cf(classic, 0x5, seq(3)), false, "25010203"},
		{"CF FD last padded to 12", cf(fd, 2, seq(10)), true, "220102030405060708090ACC"},
		{"CF FD unpadded still a valid FD length", cf(fdNoPad, 3, seq(9)), true, "23010203040506070809AAAA"},
		{"FC CTS padded", classicPad.FlowControl(cmdRaw, ContinueToSend, 8, 0xF5), false, "3008F5CCCCCCCCCC"},
		{"FC WAIT", classic.FlowControl(cmdRaw, Wait, 0, 0), false, "310000"},
		{"FC OVFLW", classic.FlowControl(cmdRaw, Overflow, 0, 0), false, "320000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.f.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(tc.f.Payload()); !strings.EqualFold(got, tc.want) {
				t.Errorf("got  %s\nwant %s", strings.ToUpper(got), tc.want)
			}
			if tc.f.FD != tc.fd || tc.f.ID != cmdRaw || !tc.f.Extended {
				t.Errorf("frame header %+v", tc.f)
			}
		})
	}
}

func frameOf(fd bool, b []byte) bus.Frame {
	f := bus.Frame{ID: cmdRaw, Extended: true, FD: fd, Len: uint8(len(b))}
	copy(f.Data[:], b)
	return f
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		fd   bool
		in   string
		want PDU // Data compared separately
		data string
		bad  bool
	}{
		{name: "SF", in: "03010203CCCCCCCC", want: PDU{Type: Single, Length: 3}, data: "010203"},
		{name: "SF unpadded", in: "0211 22", want: PDU{Type: Single, Length: 2}, data: "1122"},
		{name: "SF_DL 0", in: "00010203CCCCCCCC", bad: true},
		{name: "SF_DL past frame", in: "0511 22 33", bad: true},
		{name: "SF_DL 8 classic", in: "0811223344556677", bad: true},
		{name: "SF FD escape", fd: true, in: "000A0102030405060708090A", want: PDU{Type: Single, Length: 10, Escape: true}, data: "0102030405060708090A"},
		{name: "SF FD escape too long", fd: true, in: "000B0102030405060708090A", bad: true},
		{name: "SF FD escape with SF_DL ≤ 7", fd: true, in: "00070102030405060708CCCC", bad: true},
		{name: "SF FD > 8 without escape", fd: true, in: "050102030405CCCCCCCCCCCC", bad: true},
		{name: "FF", in: "10D2010203040506", want: PDU{Type: First, Length: 210}, data: "010203040506"},
		{name: "FF short frame", in: "10D20102030405", bad: true},
		{name: "FF_DL 7 fits an SF", in: "1007010203040506", bad: true},
		{name: "FF_DL 8", in: "1008010203040506", want: PDU{Type: First, Length: 8}, data: "010203040506"},
		{name: "FF escape", in: "1000000013880102", want: PDU{Type: First, Length: 5000, Escape: true}, data: "0102"},
		{name: "FF escape ≤ 4095", in: "1000000000100102", bad: true},
		{name: "FF FD fits SF", fd: true, in: "103E" + strings.Repeat("00", 62), bad: true},
		{name: "FF FD 63", fd: true, in: "103F" + strings.Repeat("00", 62), want: PDU{Type: First, Length: 63}, data: strings.Repeat("00", 62)},
		{name: "CF", in: "2A0102", want: PDU{Type: Consecutive, SN: 0xA}, data: "0102"},
		{name: "FC", in: "3008F5", want: PDU{Type: FlowControl, BS: 8, STmin: 0xF5}},
		{name: "FC reserved status parses", in: "3700 00", want: PDU{Type: FlowControl, Status: 7}},
		{name: "FC short", in: "3008", bad: true},
		{name: "reserved PCI", in: "4000000000000000", bad: true},
		{name: "empty", in: "", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := frameOf(tc.fd, hx(tc.in))
			p, err := Parse(&f)
			if tc.bad {
				if !errors.Is(err, ErrInvalidFrame) {
					t.Fatalf("err %v, want ErrInvalidFrame", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p.Data, hx(tc.data)) {
				t.Errorf("data %X want %s", p.Data, tc.data)
			}
			p.Data, tc.want.Data = nil, nil
			if !reflect.DeepEqual(p, tc.want) {
				t.Errorf("got %+v want %+v", p, tc.want)
			}
		})
	}
	remote := bus.Frame{ID: cmdRaw, Extended: true, Remote: true, Len: 8}
	if _, err := Parse(&remote); !errors.Is(err, ErrInvalidFrame) {
		t.Errorf("remote: %v", err)
	}
}

func TestSTmin(t *testing.T) {
	enc := []struct {
		d time.Duration
		b uint8
	}{
		{0, 0}, {50 * time.Microsecond, 0xF1}, {100 * time.Microsecond, 0xF1}, {101 * time.Microsecond, 0xF2},
		{900 * time.Microsecond, 0xF9}, {901 * time.Microsecond, 0x01}, {time.Millisecond, 0x01},
		{10 * time.Millisecond, 0x0A}, {127 * time.Millisecond, 0x7F}, {time.Second, 0x7F},
	}
	for _, tc := range enc {
		if got := EncodeSTmin(tc.d); got != tc.b {
			t.Errorf("EncodeSTmin(%v) = %#x, want %#x", tc.d, got, tc.b)
		}
	}
	dec := []struct {
		b uint8
		d time.Duration
	}{
		{0, 0}, {0x01, time.Millisecond}, {0x7F, 127 * time.Millisecond}, {0x80, 127 * time.Millisecond},
		{0xF0, 127 * time.Millisecond}, {0xF1, 100 * time.Microsecond}, {0xF9, 900 * time.Microsecond},
		{0xFA, 127 * time.Millisecond}, {0xFF, 127 * time.Millisecond},
	}
	for _, tc := range dec {
		if got := DecodeSTmin(tc.b); got != tc.d {
			t.Errorf("DecodeSTmin(%#x) = %v, want %v", tc.b, got, tc.d)
		}
	}
}

func TestFrameCounts(t *testing.T) {
	tests := []struct{ n, classic, fd int }{
		{1, 1, 1}, {7, 1, 1}, {8, 2, 1}, {16, 3, 1}, {62, 9, 1}, {63, 10, 2}, {125, 18, 2}, {126, 19, 3},
		{210, 31, 4}, {512, 74, 9}, {1024, 147, 17}, {4095, 586, 66}, {4096, 586, 66},
	}
	for _, tc := range tests {
		if got := Frames(tc.n, false); got != tc.classic {
			t.Errorf("Frames(%d, classic) = %d, want %d", tc.n, got, tc.classic)
		}
		if got := Frames(tc.n, true); got != tc.fd {
			t.Errorf("Frames(%d, fd) = %d, want %d", tc.n, got, tc.fd)
		}
	}
	// The brief's figure: a 210-byte message is 32 classic frames with its one flow control.
	if got := Frames(210, false) + FlowControls(210, false, 0); got != 32 {
		t.Errorf("210 bytes: %d frames, want 32", got)
	}
	fcs := []struct{ n, bs, want int }{{7, 0, 0}, {8, 0, 1}, {210, 0, 1}, {210, 8, 4}, {210, 30, 1}, {210, 29, 2}, {210, 1, 30}}
	for _, tc := range fcs {
		if got := FlowControls(tc.n, false, tc.bs); got != tc.want {
			t.Errorf("FlowControls(%d, bs %d) = %d, want %d", tc.n, tc.bs, got, tc.want)
		}
	}
}
