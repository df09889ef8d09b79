package emu

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRecordGoldenBytes(t *testing.T) {
	fd := bus.Frame{ID: 0x1ABCDEF, Extended: true, FD: true, BRS: true, Len: 12}
	copy(fd.Data[:], []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	remote := std(0x7FF)
	remote.Remote, remote.Len = true, 2
	cases := []struct {
		name string
		f    bus.Frame
		want string
	}{
		{"standard", std(0x123, 0xAB, 0xCD), "23010000 02000000 abcd000000000000"},
		{"extended", ext(0x18DAF110, 1, 2, 3, 4, 5, 6, 7, 8), "10f1da98 08000000 0102030405060708"},
		{"remote", remote, "ff070040 02000000 0000000000000000"},
		{"fd", fd, "efcdab81 0c050000 0102030405060708090a0b0c" + strings.Repeat("00", 52)},
	}
	for _, c := range cases {
		got := AppendFrame(nil, &c.f)
		if want := unhex(t, c.want); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %x\nwant %x", c.name, got, want)
		}
		var m Message
		if err := DecodeRecord(got, &m); err != nil || m.Frame != c.f {
			t.Errorf("%s: decoded %v, %v", c.name, m.Frame, err)
		}
	}
	if got, want := AppendErrorRecord(nil, ErrClassBusOff), unhex(t, "40000020 08000000 0000000000000000"); !bytes.Equal(got, want) {
		t.Errorf("bus-off record %x", got)
	}
}

func TestStampedStream(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	var buf []byte
	buf = AppendMessage(buf, true, &Message{Time: at, Frame: std(0x10, 1)})
	buf = AppendMessage(buf, true, &Message{Time: at, ErrClass: ErrClassRestarted})
	want := unhex(t, "15cd853dfe9c9717 10000000 01000000 0100000000000000"+
		"15cd853dfe9c9717 00010020 08000000 0000000000000000")
	if !bytes.Equal(buf, want) {
		t.Fatalf("got %x", buf)
	}
	rd := NewReader(bytes.NewReader(buf), true)
	m, err := rd.Next()
	if err != nil || !m.Time.Equal(at) || m.Frame != std(0x10, 1) {
		t.Errorf("first: %+v %v", m, err)
	}
	m, err = rd.Next()
	if err != nil || m.ErrClass != ErrClassRestarted {
		t.Errorf("second: %+v %v", m, err)
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Errorf("end: %v", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	cases := []struct {
		name string
		rec  string
	}{
		{"standard id too wide", "00080000 00000000 0000000000000000"},
		{"classic length 9", "01000000 09000000 0000000000000000"},
		{"error with EFF", "400000a0 08000000 0000000000000000"},
		{"error without class", "00000020 08000000 0000000000000000"},
		{"fd length 9", "01000000 09040000" + strings.Repeat("00", 64)},
		{"fd unknown flag", "01000000 08140000" + strings.Repeat("00", 64)},
		{"fd remote", "01000040 08040000" + strings.Repeat("00", 64)},
	}
	for _, c := range cases {
		rd := NewReader(bytes.NewReader(unhex(t, c.rec)), false)
		_, err := rd.Next()
		var we *WireError
		if !errors.As(err, &we) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	// A stream that ends inside a record.
	for _, s := range []string{"01000000 08", "01000000 08040000 00"} {
		_, err := NewReader(bytes.NewReader(unhex(t, s)), false).Next()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut %q: %v", s, err)
		}
	}
}

func TestHandshakeGoldenBytes(t *testing.T) {
	hello := AppendHello(nil, "pack")
	if want := unhex(t, "484c5242 01000400 7061636b"); !bytes.Equal(hello, want) {
		t.Errorf("hello %x", hello)
	}
	v, name, err := ReadHello(bytes.NewReader(hello))
	if err != nil || v != 1 || name != "pack" {
		t.Errorf("read hello: %d %q %v", v, name, err)
	}
	w := Welcome{Version: 1, FD: true, Nominal: 500_000, Data: 2_000_000}
	wb := AppendWelcome(nil, w)
	if want := unhex(t, "484c5242 01000100 20a10700 80841e00"); !bytes.Equal(wb, want) {
		t.Errorf("welcome %x", wb)
	}
	if got, err := ReadWelcome(bytes.NewReader(wb)); err != nil || got != w {
		t.Errorf("read welcome: %+v %v", got, err)
	}
	for _, bad := range []string{"484c5243 01000000", "484c5242 01004100", "484c5242 01000300 2f2f2f"} {
		if _, _, err := ReadHello(bytes.NewReader(unhex(t, bad))); !errors.Is(err, ErrMalformed) {
			t.Errorf("hello %s: %v", bad, err)
		}
	}
}

func FuzzWire(f *testing.F) {
	f.Add(byte(0), AppendFrame(nil, &bus.Frame{ID: 0x123, Len: 2}))
	fd := bus.Frame{ID: 0x1FFFFFFF, Extended: true, FD: true, BRS: true, ESI: true, Len: 64}
	f.Add(byte(1), AppendMessage(nil, true, &Message{Time: time.Unix(1, 2), Frame: fd}))
	f.Add(byte(1), AppendMessage(nil, true, &Message{ErrClass: ErrClassBusOff}))
	f.Add(byte(2), AppendHello(nil, "node-1"))
	f.Add(byte(3), AppendWelcome(nil, Welcome{Version: 1, FD: true, Nominal: 500_000}))
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		switch mode % 4 {
		case 0, 1:
			stamped := mode%4 == 1
			small := func(b []byte) *bufio.Reader { return bufio.NewReaderSize(bytes.NewReader(b), 128) }
			rd := NewReader(small(data), stamped)
			for {
				m, err := rd.Next()
				if err != nil {
					if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrMalformed) {
						t.Fatalf("untyped error %v", err)
					}
					return
				}
				if m.ErrClass == 0 {
					if err := m.Frame.Validate(); err != nil {
						t.Fatalf("decoded an invalid frame %v: %v", m.Frame, err)
					}
				}
				again, err := NewReader(small(AppendMessage(nil, stamped, &m)), stamped).Next()
				if err != nil || again != m {
					t.Fatalf("round trip %+v -> %+v, %v", m, again, err)
				}
			}
		case 2:
			_, name, err := ReadHello(bytes.NewReader(data))
			if err == nil && len(name) > maxNameLen {
				t.Fatalf("name of %d bytes", len(name))
			}
		case 3:
			w, err := ReadWelcome(bytes.NewReader(data))
			if err == nil {
				if got, _ := ReadWelcome(bytes.NewReader(AppendWelcome(nil, w))); got != w {
					t.Fatalf("round trip %+v -> %+v", w, got)
				}
			}
		}
	})
}
