package bus

import (
	"testing"
	"time"
)

func TestDurationMatchesPublishedFigures(t *testing.T) {
	t500 := Timing{Nominal: 500_000}
	fd := Timing{Nominal: 500_000, Data: 2_000_000}
	ext8 := Frame{ID: 0x1234567, Extended: true, Len: 8}
	std8 := Frame{ID: 0x123, Len: 8}
	fd64 := Frame{ID: 0x1234567, Extended: true, FD: true, BRS: true, Len: 64}
	cases := []struct {
		name string
		t    Timing
		f    Frame
		s    Stuffing
		want time.Duration
	}{
		{"extended 8 unstuffed", t500, ext8, Unstuffed, 262 * time.Microsecond},
		{"extended 8 worst", t500, ext8, WorstCase, 320 * time.Microsecond},
		{"standard 8 unstuffed", t500, std8, Unstuffed, 222 * time.Microsecond},
		{"standard 8 worst", t500, std8, WorstCase, 270 * time.Microsecond},
		{"fd 64 unstuffed", fd, fd64, Unstuffed, 372500 * time.Nanosecond},
		{"fd 64 worst", fd, fd64, WorstCase, 453500 * time.Nanosecond},
	}
	for _, c := range cases {
		if got := c.t.Duration(&c.f, c.s); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestExactStuffingBetweenBounds(t *testing.T) {
	tm := Timing{Nominal: 500_000}
	for _, f := range []Frame{
		{ID: 0, Extended: true, Len: 8},                                      // all zero: much stuffing
		{ID: 0x15555555, Extended: true, Len: 8, Data: [64]byte{0x55, 0x55}}, // alternating: little
		{ID: 0x7FF, Len: 8, Data: [64]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
	} {
		lo, hi := tm.Duration(&f, Unstuffed), tm.Duration(&f, WorstCase)
		if got := tm.Duration(&f, Exact); got < lo || got > hi {
			t.Errorf("%v: exact %v outside [%v, %v]", f, got, lo, hi)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []Frame{
		{ID: 0x800, Len: 1},
		{ID: 0x20000000, Extended: true},
		{ID: 1, FD: true, Remote: true},
		{ID: 1, Len: 9},
		{ID: 1, FD: true, Len: 9},
		{ID: 1, BRS: true},
	}
	for _, f := range bad {
		if err := f.Validate(); err == nil {
			t.Errorf("%+v: want error", f)
		}
	}
	good := []Frame{{ID: 0x7FF, Len: 8}, {ID: 0x1FFFFFFF, Extended: true, FD: true, BRS: true, Len: 64}}
	for _, f := range good {
		if err := f.Validate(); err != nil {
			t.Errorf("%v: %v", f, err)
		}
	}
}

func TestString(t *testing.T) {
	f := Frame{ID: 0x123, Len: 2, Data: [64]byte{0xAB, 0x01}}
	if got := f.String(); got != "123#AB01" {
		t.Errorf("got %q", got)
	}
	f = Frame{ID: 0x1ABCDEF, Extended: true, FD: true, BRS: true, Len: 1, Data: [64]byte{0xFF}}
	if got := f.String(); got != "01ABCDEF##1FF" {
		t.Errorf("got %q", got)
	}
}

func TestStringAndPayloadOfInvalidLength(t *testing.T) {
	f := Frame{ID: 0x123, Len: 200}
	if got := len(f.Payload()); got != MaxFDLen {
		t.Fatalf("payload of Len 200 has %d bytes", got)
	}
	_ = f.String() // must not panic
	if f.Validate() == nil {
		t.Fatal("Len 200 validated")
	}
}
