package isotp

import (
	"errors"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/protocol/canid"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{"03010203CCCCCCCC", "10D2010203040506", "2101020304050607", "3008F5",
		"000A0102030405060708090A", "1000000013880102", "1007010203040506", "00", ""} {
		f.Add(false, hx(s))
		f.Add(true, hx(s))
	}
	f.Fuzz(func(t *testing.T, fd bool, b []byte) {
		fr := bus.Frame{ID: cmdRaw, Extended: true, FD: fd}
		fr.Len = uint8(min(len(b), 255))
		copy(fr.Data[:], b)
		p, err := Parse(&fr)
		if err != nil {
			if !errors.Is(err, ErrInvalidFrame) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(p.Data) > int(fr.Len) {
			t.Fatalf("data %d beyond frame %d", len(p.Data), fr.Len)
		}
		switch p.Type {
		case Single:
			if int(p.Length) != len(p.Data) || p.Length == 0 {
				t.Fatalf("SF_DL %d with %d bytes", p.Length, len(p.Data))
			}
			// A valid SF re-encodes to the same data.
			fm := Format{FD: fd || p.Length > 7, TxDL: 64}
			g, err := fm.Single(cmdRaw, p.Data)
			if err != nil {
				t.Fatal(err)
			}
			q, err := Parse(&g)
			if err != nil || string(q.Data) != string(p.Data) {
				t.Fatalf("re-encoded SF: %v", err)
			}
		case First:
			if p.Length <= MaxClassicSF {
				t.Fatalf("FF_DL %d", p.Length)
			}
		}
	})
}

// FuzzReassemble feeds a node an arbitrary sequence of frames from a few senders, with time
// jumps, and checks it never exceeds its limits.
func FuzzReassemble(f *testing.F) {
	// Record: ctrl byte (bit0 FD, bits1-2 source, bit3 tick, bits4-7 length/4), then data.
	rec := func(ctrl byte, data string) []byte { return append([]byte{ctrl, byte(len(hx(data)))}, hx(data)...) }
	var good []byte
	good = append(good, rec(0, "1014010203040506")...)
	good = append(good, rec(0, "2107080910111213")...)
	good = append(good, rec(0, "2214151617181920")...)
	f.Add(good)
	f.Add(append(rec(0, "1FFF010203040506"), rec(8, "2101")...))
	f.Add(append(rec(1, "100000001388"+"0102030405060708"), rec(1, "2101")...))
	f.Add(append(rec(2, "1020010203040506"), rec(4, "1020010203040506")...))
	f.Add(rec(0, "300000"))
	f.Fuzz(fuzzReassembleBody)
}

func fuzzReassembleBody(t *testing.T, in []byte) {
	const maxMsg, maxSessions = 300, 2
	if len(in) > 1024 { // ~100 frames: longer inputs add time per execution, not coverage
		in = in[:1024]
	}
	c := ProfileV1FD()
	c.MaxMessage, c.MaxSessions = maxMsg, maxSessions
	if len(in) > 0 && in[0]&0x80 != 0 { // sometimes withhold the CTS behind a WAIT
		c.RxWaits = 1
	}
	n, err := NewNode(packAddr, c)
	if err != nil {
		t.Fatal(err)
	}
	// The node also has a transmission running so FCs have something to hit.
	mod := canid.New(canid.TypeCommand, false, 0, 0x01, packAddr)
	now := t0
	if _, err := n.Send(Message{ID: mod, Data: make([]byte, 100)}, now); err != nil {
		t.Fatal(err)
	}
	for len(in) >= 2 {
		ctrl, l := in[0], int(in[1])
		in = in[2:]
		l = min(l, len(in), 64)
		fr := bus.Frame{Extended: true, FD: ctrl&1 != 0}
		src := []uint8{0x01, 0x02, 0x03, 0x04}[ctrl>>1&3]
		fr.ID = canid.New(canid.TypeCommand, false, 0, packAddr, src).Encode()
		if !fr.FD && l > 8 {
			l = 8
		}
		if fr.FD {
			l = bus.FDPadLen(l)
			l = min(l, len(in))
			if _, ok := bus.FDLenToDLC(l); !ok {
				l = 8
				if len(in) < 8 {
					break
				}
			}
		}
		fr.Len = uint8(l)
		copy(fr.Data[:], in[:l])
		in = in[l:]
		var out Output
		if ctrl&8 != 0 {
			now = now.Add(time.Duration(ctrl>>4) * 100 * time.Millisecond)
			out = n.Tick(now)
		} else {
			out, _ = n.HandleFrame(fr, now)
		}
		for _, m := range out.Messages {
			if len(m.Data) > maxMsg || len(m.Data) == 0 {
				t.Fatalf("message of %d bytes", len(m.Data))
			}
		}
		for _, g := range out.Frames {
			if err := g.Validate(); err != nil {
				t.Fatal(err)
			}
		}
		if rx, tx := n.Sessions(); rx > maxSessions || tx > 1 {
			t.Fatalf("sessions %d/%d", rx, tx)
		}
		for _, r := range n.rx {
			if len(r.buf) > r.size || r.size > maxMsg {
				t.Fatalf("reception holds %d of %d", len(r.buf), r.size)
			}
		}
	}
}
