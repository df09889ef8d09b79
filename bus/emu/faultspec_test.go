package emu

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestParseFaults(t *testing.T) {
	cases := []struct {
		spec string
		want []Fault
	}{
		{"", nil},
		{"drop", []Fault{{Kind: Drop}}},
		{"drop:id=0x123/0x7FF,p=0.1,count=5;delay:id=0x100,d=2ms", []Fault{
			{Kind: Drop, Value: 0x123, Mask: 0x7FF, P: 0.1, Count: 5},
			{Kind: Delay, Value: 0x100, Mask: 0x1FFFFFFF, Delay: 2 * time.Millisecond},
		}},
		{" corrupt : bits=3 , ext=1 ; dup:from=pack ; error:p=1", []Fault{
			{Kind: Corrupt, Bits: 3, Fmt: ExtendedOnly},
			{Kind: Duplicate, From: "pack"},
			{Kind: Error},
		}},
		{"busoff:from=module-3,recover=10ms,count=1;duplicate:ext=0", []Fault{
			{Kind: BusOff, From: "module-3", Recovery: 10 * time.Millisecond, Count: 1},
			{Kind: Duplicate, Fmt: StandardOnly},
		}},
		{"drop:id=0x00010000/0x00030000", []Fault{{Kind: Drop, Value: 0x10000, Mask: 0x30000}}},
	}
	for _, c := range cases {
		got, err := ParseFaults(c.spec)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q:\n got %+v, %v\nwant %+v", c.spec, got, err, c.want)
			continue
		}
		again, err := ParseFaults(FormatFaults(got))
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("%q: round trip through %q: %+v, %v", c.spec, FormatFaults(got), again, err)
		}
	}
}

func TestParseFaultsRejects(t *testing.T) {
	cases := []struct {
		spec string
		rule int
	}{
		{"explode", 1},
		{"drop;;drop", 2},
		{"drop:id", 1},
		{"drop:id=0x20000000", 1},
		{"drop:id=0x123/0x0F0", 1}, // value outside the mask
		{"drop:p=0", 1},
		{"drop:p=1.5", 1},
		{"drop:p=NaN", 1},
		{"drop:count=0", 1},
		{"drop:count=-1", 1},
		{"drop:d=1ms", 1}, // d belongs to delay
		{"delay", 1},      // delay needs d
		{"delay:d=-1ms", 1},
		{"corrupt:bits=513", 1},
		{"drop:from=a b", 1},
		{"drop:ext=2", 1},
		{"drop:p=0.5,p=0.5", 1},
		{"drop:x=1", 1},
		{"drop;delay:d=1ms;busoff:recover=0s", 3},
	}
	for _, c := range cases {
		_, err := ParseFaults(c.spec)
		var se *SpecError
		if !errors.As(err, &se) || !errors.Is(err, ErrBadFault) || se.Rule != c.rule {
			t.Errorf("%q: %v", c.spec, err)
		}
	}
}

func FuzzParseFaults(f *testing.F) {
	for _, s := range []string{
		"drop:id=0x123/0x7FF,p=0.1,count=5;delay:id=0x100,d=2ms",
		"corrupt:bits=3,ext=1;dup:from=pack;error:p=1",
		"busoff:from=m3,recover=10ms,count=1",
		"drop:id=0b101/0o7",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		rules, err := ParseFaults(spec)
		if err != nil {
			if !errors.Is(err, ErrBadFault) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, r := range rules {
			if err := r.Validate(); err != nil {
				t.Fatalf("parsed an invalid rule %+v: %v", r, err)
			}
		}
		again, err := ParseFaults(FormatFaults(rules))
		if err != nil || !reflect.DeepEqual(again, rules) && len(rules) > 0 {
			t.Fatalf("round trip %q -> %q: %+v, %v", spec, FormatFaults(rules), again, err)
		}
	})
}
