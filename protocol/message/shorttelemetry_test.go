package message

import (
	"bytes"
	"errors"
	"testing"
)

func TestShortTelemetry(t *testing.T) {
	m := ShortTelemetry{{SignalCurrent, 0xFF83}} // −12.5 A
	b, err := m.Encode(ShortPayloadSize)
	if err != nil || !bytes.Equal(b, []byte{0x02, 0xFF, 0x83}) {
		t.Fatalf("classic: %x %v", b, err)
	}
	fd := ShortTelemetry{{SignalCellMin, 3702}, {SignalCellMax, 3721}, {SignalTempMax, 268}}
	b, err = fd.Encode(22) // 32-byte FD frame
	if err != nil || len(b) != 22 {
		t.Fatal(err)
	}
	got, err := DecodeShortTelemetry(b)
	if err != nil || len(got) != 3 || got[2] != fd[2] {
		t.Fatalf("fd: %v %v", got, err)
	}
	for _, c := range []struct {
		in   []byte
		want error
	}{
		{[]byte{0x02, 0x00}, ErrSize},
		{[]byte{0x09, 0x00, 0x01}, ErrInvalid},
		{[]byte{0x00, 0x00, 0x00}, ErrMissingField},
		{[]byte{0x01, 0x00, 0x01, 0x00, 0x00, 0x01}, ErrMalformed},
	} {
		if _, err := DecodeShortTelemetry(c.in); !errors.Is(err, c.want) {
			t.Errorf("%x: %v, want %v", c.in, err, c.want)
		}
	}
	if _, err := (ShortTelemetry{{SignalSOC, 1}, {SignalSOC, 2}}).Encode(3); !errors.Is(err, ErrSize) {
		t.Fatal(err)
	}
}

func FuzzDecodeShortTelemetry(f *testing.F) {
	f.Add([]byte{0x02, 0xFF, 0x83})
	f.Add([]byte{0x04, 0x0e, 0x76, 0x05, 0x0e, 0x89, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, p []byte) {
		m, err := DecodeShortTelemetry(p)
		if err != nil {
			return
		}
		again, err := m.Encode(len(p))
		if err != nil || !bytes.Equal(again, p) {
			t.Fatalf("%x re-encodes to %x (%v)", p, again, err)
		}
	})
}
