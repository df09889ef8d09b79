package socketcand

import (
	"testing"
	"time"
)

// FuzzElements: arbitrary bytes through the splitter and the parser never panic, and every
// element that parses writes back to one that parses to the same message.
func FuzzElements(f *testing.F) {
	for _, s := range []string{
		"< hi >< ok >", "< open can0 >", "< rawmode >", "< frame 123 1700000000.123456 11223344 >",
		"< rtr 7FF 1.000001 4 >", "< fdframe 1FFFFFFF 05 1.5 000102030405060708090A0B >",
		"< send 1AAAAAAA 2 1 F1 >", "< sendrtr 123 0 >", "< fdsend 123 1 12 1 2 3 4 5 6 7 8 9 a b c >",
		"< error unknown command >", "< echo >", "garbage", "< send 123 2 11 >",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Splitter
		s.Feed(data)
		for {
			elem, ok, err := s.Next()
			if err != nil || !ok {
				return
			}
			m, err := Parse(elem)
			if err != nil {
				continue
			}
			out, err := Append(nil, &m)
			if err != nil {
				t.Fatalf("%q parsed to %+v but does not write: %v", elem, m, err)
			}
			m2, err := Parse(out)
			if err != nil {
				t.Fatalf("%q -> %q does not parse: %v", elem, out, err)
			}
			m.Time = m.Time.Truncate(time.Microsecond)
			if !sameMessage(m, m2) {
				t.Fatalf("%q -> %q -> %+v, want %+v", elem, out, m2, m)
			}
		}
	})
}
