package slcan

import (
	"bytes"
	"testing"
)

// FuzzLines feeds arbitrary bytes, cut at an arbitrary point, through the splitter and both
// parsers: nothing panics, and every line that parses formats back to an equivalent line.
func FuzzLines(f *testing.F) {
	for _, s := range []string{
		"t1232AABB\r", "T1FFFFFFF81122334455667788EA5F\r", "r1234\r", "R123456788\r",
		"B10000000F" + hexCount(64) + "\r", "d0019000102030405060708090A0B\r", "V1013\rN1234\r\a",
		"S6\rZ1\rO\r", "F88\r", "z\rZ\r", "\r\n", "t12", "M00000000\rmFFFFFFFF\r", "s031C\ry01020304\r",
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		var s Splitter
		k := min(int(cut), len(data))
		s.Feed(data[:k])
		check(t, &s)
		s.Feed(data[k:])
		check(t, &s)
	})
}

func check(t *testing.T, s *Splitter) {
	for {
		tok, ok, err := s.Next()
		if !ok {
			return
		}
		if err != nil || tok.Bell {
			continue
		}
		line := bytes.Clone(tok.Line)
		if c, err := ParseCommand(line); err == nil {
			out, err := AppendCommand(nil, &c)
			if err != nil {
				t.Fatalf("command %q parsed to %+v but does not format: %v", line, c, err)
			}
			c2, err := ParseCommand(out[:len(out)-1])
			if err != nil || c2 != c {
				t.Fatalf("command %q -> %q -> %+v, %v", line, out, c2, err)
			}
		}
		if r, err := ParseReply(line); err == nil {
			out, err := AppendReply(nil, &r)
			if err != nil {
				t.Fatalf("reply %q parsed to %+v but does not format: %v", line, r, err)
			}
			if r.Kind == ReplyTxAck {
				continue
			}
			r2, err := ParseReply(out[:len(out)-1])
			if err != nil || r2 != r {
				t.Fatalf("reply %q -> %q -> %+v, %v", line, out, r2, err)
			}
		}
	}
}
