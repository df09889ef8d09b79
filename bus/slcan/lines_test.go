package slcan

import (
	"errors"
	"strings"
	"testing"
)

type tok struct {
	line string
	bell bool
	bad  bool
}

func collect(s *Splitter) []tok {
	var out []tok
	for {
		t, ok, err := s.Next()
		if !ok {
			return out
		}
		out = append(out, tok{string(t.Line), t.Bell, err != nil})
	}
}

func TestSplitterReassembles(t *testing.T) {
	stream := "z\rt1232AABB\r\aV1013\r\n\rF00\r"
	want := []tok{{"z", false, false}, {"t1232AABB", false, false}, {"", true, false}, {"V1013", false, false}, {"", false, false}, {"F00", false, false}}
	// Every way of cutting the stream in two, and one byte at a time.
	for cut := 0; cut <= len(stream); cut++ {
		var s Splitter
		s.Feed([]byte(stream[:cut]))
		got := collect(&s)
		s.Feed([]byte(stream[cut:]))
		got = append(got, collect(&s)...)
		if !equalToks(got, want) {
			t.Fatalf("cut %d: %+v", cut, got)
		}
	}
	var s Splitter
	var got []tok
	for i := range len(stream) {
		s.Feed([]byte{stream[i]})
		got = append(got, collect(&s)...)
	}
	if !equalToks(got, want) {
		t.Fatalf("bytewise: %+v", got)
	}
}

func equalToks(a, b []tok) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSplitterOverlong(t *testing.T) {
	var s Splitter
	s.Feed([]byte(strings.Repeat("A", 300)))
	s.Feed([]byte(strings.Repeat("B", 300) + "\at1230\r"))
	_, ok, err := s.Next()
	if !ok || !errors.Is(err, ErrMalformed) {
		t.Fatalf("overlong: ok=%v err=%v", ok, err)
	}
	got := collect(&s)
	if !equalToks(got, []tok{{"", true, false}, {"t1230", false, false}}) {
		t.Fatalf("after overlong: %+v", got)
	}
	// An overlong line that arrives whole is reported too.
	s.Feed([]byte(strings.Repeat("C", MaxLine+1) + "\rO\r"))
	if _, ok, err := s.Next(); !ok || err == nil {
		t.Fatal("whole overlong line accepted")
	}
	if got := collect(&s); !equalToks(got, []tok{{"O", false, false}}) {
		t.Fatalf("%+v", got)
	}
}
