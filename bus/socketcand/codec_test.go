package socketcand

import (
	"errors"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
)

var t0 = time.Unix(1700000000, 123456000)

func fr(id uint32, ext bool, data ...byte) bus.Frame {
	f := bus.Frame{ID: id, Extended: ext, Len: uint8(len(data))}
	copy(f.Data[:], data)
	return f
}

// Golden elements, as socketcand writes and reads them.
func TestGolden(t *testing.T) {
	fd := bus.Frame{ID: 0x1FFFFFFF, Extended: true, FD: true, BRS: true, Len: 12}
	fd.Data[11] = 0xEE
	for _, tc := range []struct {
		elem string
		m    Message
	}{
		{"< hi >", Message{Kind: KindHi}},
		{"< ok >", Message{Kind: KindOK}},
		{"< echo >", Message{Kind: KindEcho}},
		{"< rawmode >", Message{Kind: KindRawMode}},
		{"< bcmmode >", Message{Kind: KindBCMMode}},
		{"< open can0 >", Message{Kind: KindOpen, Text: "can0"}},
		{"< error unknown command >", Message{Kind: KindError, Text: "unknown command"}},
		{"< frame 123 1700000000.123456 11223344 >", Message{Kind: KindFrame, Frame: fr(0x123, false, 0x11, 0x22, 0x33, 0x44), Time: t0}},
		{"< frame 1AAAAAAA 1700000000.123456  >", Message{Kind: KindFrame, Frame: fr(0x1AAAAAAA, true), Time: t0}},
		{"< frame 00000001 1700000000.123456 FF >", Message{Kind: KindFrame, Frame: fr(1, true, 0xFF), Time: t0}},
		{"< rtr 7FF 1700000000.123456 4 >", Message{Kind: KindFrame, Frame: bus.Frame{ID: 0x7FF, Remote: true, Len: 4}, Time: t0}},
		{"< fdframe 1FFFFFFF 05 1700000000.123456 0000000000000000000000EE >", Message{Kind: KindFrame, Frame: fd, Time: t0}},
		{"< send 123 0 >", Message{Kind: KindSend, Frame: fr(0x123, false)}},
		{"< send 1AAAAAAA 2 01 F1 >", Message{Kind: KindSend, Frame: fr(0x1AAAAAAA, true, 1, 0xF1)}},
		{"< sendrtr 00000123 2 >", Message{Kind: KindSend, Frame: bus.Frame{ID: 0x123, Extended: true, Remote: true, Len: 2}}},
		{"< fdsend 1FFFFFFF 5 12 00 00 00 00 00 00 00 00 00 00 00 EE >", Message{Kind: KindSend, Frame: fd}},
	} {
		got, err := Parse([]byte(tc.elem))
		if err != nil || !sameMessage(got, tc.m) {
			t.Errorf("Parse(%q) = %+v, %v", tc.elem, got, err)
		}
		b, err := Append(nil, &tc.m)
		if err != nil || string(b) != tc.elem {
			t.Errorf("Append(%+v) = %q, %v; want %q", tc.m, b, err, tc.elem)
		}
	}
}

func sameMessage(a, b Message) bool {
	return a.Kind == b.Kind && a.Frame == b.Frame && a.Text == b.Text && a.Time.Equal(b.Time)
}

// What other writers send: python-can's unpadded identifiers and one-digit bytes, spaced data.
func TestLenientForms(t *testing.T) {
	for _, tc := range []struct {
		elem string
		f    bus.Frame
	}{
		{"< send 1ABCDE 3 a b c >", fr(0x1ABCDE, true, 0xA, 0xB, 0xC)},
		{"< send 7FF 1 0 >", fr(0x7FF, false, 0)},
		{"< send 42 2 ff 1 >", fr(0x42, false, 0xFF, 1)},
		{"<send 123 1 AA>", fr(0x123, false, 0xAA)},
		{"< frame 123 5.5 11 22 33 44 >", fr(0x123, false, 0x11, 0x22, 0x33, 0x44)},
	} {
		m, err := Parse([]byte(tc.elem))
		if err != nil || m.Frame != tc.f {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.elem, m.Frame, err, tc.f)
		}
	}
}

func TestMalformed(t *testing.T) {
	for _, e := range []string{
		"", "<", "< >", "hi", "< hi", "< hi there >", "< open >", "< open a b >", "< open 12345678901234567 >",
		"< send >", "< send 123 >", "< send 123 2 11 >", "< send 123 9 1 2 3 4 5 6 7 8 9 >", "< send 800000000 0 >",
		"< send 3FFFFFFF 0 >", "< send xyz 0 >", "< send 123 1 100 >", "< send 123 -1 >", "< sendrtr 123 9 >",
		"< sendrtr 123 1 1 >", "< fdsend 123 1 13 >", "< fdsend 123 8 0 >", "< fdsend 123 >",
		"< frame 123 >", "< frame 123 1 >", "< frame 123 1.x >", "< frame 123 1.0 ABC >", "< frame 123 1.0 112233445566778899 >",
		"< rtr 123 1.0 >", "< fdframe 123 01 1.0 112233445566778899 >", "< ok \x01 >",
	} {
		_, err := Parse([]byte(e))
		var ee *ElementError
		if !errors.As(err, &ee) || !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %v, want an *ElementError", e, err)
		}
	}
	if m, err := Parse([]byte("< subscribe 0 0 123 >")); err != nil || m.Kind != KindOther || m.Text != "subscribe 0 0 123" {
		t.Errorf("other command: %+v %v", m, err)
	}
}

func TestSplitter(t *testing.T) {
	stream := "< hi >< ok >\n < frame 123 1.000000 AA >"
	for cut := 0; cut <= len(stream); cut++ {
		var s Splitter
		var got []string
		take := func() {
			for {
				e, ok, err := s.Next()
				if err != nil {
					t.Fatalf("cut %d: %v", cut, err)
				}
				if !ok {
					return
				}
				got = append(got, string(e))
			}
		}
		s.Feed([]byte(stream[:cut]))
		take()
		if cut < len(stream) && cut > 0 && !s.Partial() && stream[cut-1] != '>' && stream[cut-1] != ' ' && stream[cut-1] != '\n' {
			t.Fatalf("cut %d: no partial element reported", cut)
		}
		s.Feed([]byte(stream[cut:]))
		take()
		if len(got) != 3 || got[2] != "< frame 123 1.000000 AA >" {
			t.Fatalf("cut %d: %q", cut, got)
		}
	}
	for _, g := range []string{"x< hi >", "< hi >GET / HTTP/1.0\r\n", "<" + string(make([]byte, MaxElement+1))} {
		var s Splitter
		s.Feed([]byte(g))
		var err error
		for range 3 {
			if _, _, err = s.Next(); err != nil {
				break
			}
		}
		if !errors.Is(err, ErrGarbage) {
			t.Errorf("%q: %v, want ErrGarbage", g, err)
		}
	}
}

func BenchmarkParseFrame(b *testing.B) {
	e := []byte("< frame 1AAAAAAA 1700000000.123456 1122334455667788 >")
	for b.Loop() {
		if _, err := Parse(e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	m := Message{Kind: KindFrame, Frame: fr(0x1AAAAAAA, true, 1, 2, 3, 4, 5, 6, 7, 8), Time: t0}
	var buf []byte
	for b.Loop() {
		buf, _ = Append(buf[:0], &m)
	}
}
