package slcan

import (
	"errors"
	"testing"

	"github.com/modbatt/hilrun/bus"
)

func frame(id uint32, ext bool, data ...byte) bus.Frame {
	f := bus.Frame{ID: id, Extended: ext, Len: uint8(len(data))}
	copy(f.Data[:], data)
	return f
}

func fdFrame(id uint32, ext, brs bool, n int) bus.Frame {
	f := bus.Frame{ID: id, Extended: ext, FD: true, BRS: brs, Len: uint8(n)}
	for i := range n {
		f.Data[i] = byte(i)
	}
	return f
}

// Golden lines: what each frame looks like on the wire, both directions.
var frameLines = []struct {
	line string
	f    bus.Frame
}{
	{"t1230", frame(0x123, false)},
	{"t7FF81122334455667788", frame(0x7FF, false, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88)},
	{"T1FFFFFFF2AABB", frame(0x1FFFFFFF, true, 0xAA, 0xBB)},
	{"T000000000", frame(0, true)},
	{"r1234", bus.Frame{ID: 0x123, Remote: true, Len: 4}},
	{"R123456788", bus.Frame{ID: 0x12345678, Extended: true, Remote: true, Len: 8}},
	{"d0019" + "000102030405060708090A0B", fdFrame(1, false, false, 12)},
	{"B10000000F" + hexCount(64), fdFrame(0x10000000, true, true, 64)},
	{"b7FF0", fdFrame(0x7FF, false, true, 0)},
}

func hexCount(n int) string {
	var b []byte
	for i := range n {
		b = append(b, hexUpper[byte(i)>>4], hexUpper[byte(i)&0xF])
	}
	return string(b)
}

func TestFrameGolden(t *testing.T) {
	for _, tc := range frameLines {
		c := Command{Op: OpTransmit, Frame: tc.f}
		got, err := AppendCommand(nil, &c)
		if err != nil || string(got) != tc.line+"\r" {
			t.Errorf("AppendCommand(%v) = %q, %v; want %q", tc.f, got, err, tc.line+"\r")
		}
		pc, err := ParseCommand([]byte(tc.line))
		if err != nil || pc.Op != OpTransmit || pc.Frame != tc.f {
			t.Errorf("ParseCommand(%q) = %+v, %v", tc.line, pc.Frame, err)
		}
		r := Reply{Kind: ReplyFrame, Frame: tc.f, Stamped: true, Stamp: 0xEA5F}
		got, err = AppendReply(nil, &r)
		if err != nil || string(got) != tc.line+"EA5F\r" {
			t.Errorf("AppendReply = %q, %v", got, err)
		}
		pr, err := ParseReply(got[:len(got)-1])
		if err != nil || pr.Kind != ReplyFrame || pr.Frame != tc.f || !pr.Stamped || pr.Stamp != 59999 {
			t.Errorf("ParseReply(%q) = %+v, %v", got, pr, err)
		}
	}
}

func TestParseLowerCaseHex(t *testing.T) {
	c, err := ParseCommand([]byte("T1abcdef02beef"))
	if err != nil || c.Frame != frame(0x1ABCDEF0, true, 0xBE, 0xEF) {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestCommandsGolden(t *testing.T) {
	for _, tc := range []struct {
		line string
		c    Command
	}{
		{"", Command{Op: OpEmpty}},
		{"S6", Command{Op: OpBitrate, Arg: 6}},
		{"S9", Command{Op: OpBitrate, Arg: 9}},
		{"Y2", Command{Op: OpDataBitrate, Arg: 2}},
		{"s031C", Command{Op: OpTiming, Text: "031C"}},
		{"y01020304", Command{Op: OpDataTiming, Text: "01020304"}},
		{"O", Command{Op: OpOpen}},
		{"L", Command{Op: OpListen}},
		{"C", Command{Op: OpClose}},
		{"V", Command{Op: OpVersion}},
		{"v", Command{Op: OpFirmware}},
		{"N", Command{Op: OpSerial}},
		{"F", Command{Op: OpStatus}},
		{"Z1", Command{Op: OpTimestamps, Arg: 1}},
		{"Z0", Command{Op: OpTimestamps}},
		{"M00000000", Command{Op: OpAcceptCode}},
		{"mFFFFFFFF", Command{Op: OpAcceptMask, Arg: 0xFFFFFFFF}},
	} {
		got, err := ParseCommand([]byte(tc.line))
		if err != nil || got != tc.c {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", tc.line, got, err, tc.c)
		}
		b, err := AppendCommand(nil, &tc.c)
		if err != nil || string(b) != tc.line+"\r" {
			t.Errorf("AppendCommand(%+v) = %q, %v", tc.c, b, err)
		}
	}
}

func TestRepliesGolden(t *testing.T) {
	for _, tc := range []struct {
		wire string
		r    Reply
	}{
		{"\r", Reply{Kind: ReplyOK}},
		{"\a", Reply{Kind: ReplyError}},
		{"z\r", Reply{Kind: ReplyTxAck}},
		{"Z\r", Reply{Kind: ReplyTxAck, Frame: bus.Frame{Extended: true}}},
		{"V1013\r", Reply{Kind: ReplyVersion, Text: "1013"}},
		{"vSTM32\r", Reply{Kind: ReplyFirmware, Text: "STM32"}},
		{"NA123\r", Reply{Kind: ReplySerial, Text: "A123"}},
		{"F88\r", Reply{Kind: ReplyStatus, Status: StatusBusError | StatusOverrun}},
	} {
		b, err := AppendReply(nil, &tc.r)
		if err != nil || string(b) != tc.wire {
			t.Errorf("AppendReply(%+v) = %q, %v; want %q", tc.r, b, err, tc.wire)
		}
		if tc.r.Kind == ReplyError {
			continue
		}
		got, err := ParseReply([]byte(tc.wire[:len(tc.wire)-1]))
		want := tc.r
		want.Frame = bus.Frame{} // the ack letter is not parsed back into a frame
		if err != nil || got != want {
			t.Errorf("ParseReply(%q) = %+v, %v", tc.wire, got, err)
		}
	}
}

func TestMalformed(t *testing.T) {
	for _, line := range []string{
		"t12", "t1239", "t12G0", "t8000", "t1231AA" + "X", "t1232AA", "t1231AAB", "t1231AA12345",
		"T2000000000", "T1234567", "r123", "r1239", "d123G", "S", "SA", "S12", "Y6", "Z2", "Ox",
		"M1234", "s12", "sGGGG", "?", "\x00", "t1231AA\xff\xff\xff\xff",
	} {
		_, err := ParseCommand([]byte(line))
		var le *LineError
		if !errors.As(err, &le) || !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseCommand(%q) = %v, want a *LineError", line, err)
		}
	}
	for _, line := range []string{"V", "F1", "FGG", "x", "N\x01", "t123"} {
		if _, err := ParseReply([]byte(line)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseReply(%q) = %v", line, err)
		}
	}
	// A timestamp is an adapter's business, not the host's.
	if _, err := ParseCommand([]byte("t1230ABCD")); !errors.Is(err, ErrMalformed) {
		t.Errorf("stamped transmit accepted: %v", err)
	}
}

func TestAppendRejectsBadFrames(t *testing.T) {
	for _, f := range []bus.Frame{
		{ID: 0x800},
		{ID: 1, Len: 9},
		{ID: 1, FD: true, Len: 13},
		{ID: 1, FD: true, Remote: true},
	} {
		if _, err := AppendCommand(nil, &Command{Op: OpTransmit, Frame: f}); err == nil {
			t.Errorf("AppendCommand accepted %+v", f)
		}
	}
}

func TestBitrateCodes(t *testing.T) {
	for bps, want := range map[int]int{10000: 0, 500000: 6, 800000: 7, 1000000: 8, 83300: 9} {
		if n, ok := BitrateCode(bps); !ok || n != want {
			t.Errorf("BitrateCode(%d) = %d, %v", bps, n, ok)
		}
	}
	if _, ok := BitrateCode(750000); ok {
		t.Error("750k has no Sn code in the Lawicel table")
	}
	if n, ok := DataBitrateCode(2000000); !ok || n != 2 {
		t.Errorf("DataBitrateCode(2M) = %d, %v", n, ok)
	}
}

func BenchmarkParseReplyFrame(b *testing.B) {
	line := []byte("T1FFFFFFF81122334455667788EA5F")
	for b.Loop() {
		if _, err := ParseReply(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendCommand(b *testing.B) {
	c := Command{Op: OpTransmit, Frame: frame(0x1FFFFFFF, true, 1, 2, 3, 4, 5, 6, 7, 8)}
	buf := make([]byte, 0, MaxLine+1)
	for b.Loop() {
		buf, _ = AppendCommand(buf[:0], &c)
	}
}
