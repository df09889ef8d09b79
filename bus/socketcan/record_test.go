package socketcan

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/modbatt/hilrun/bus"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func pad(s string, n int) []byte {
	b := mustHex(s)
	return append(b, make([]byte, n-len(b))...)
}

// Golden records as the kernel lays them out on x86 (can_id little-endian).
var recordCases = []struct {
	name string
	rec  []byte
	f    bus.Frame
}{
	{"standard", mustHex("2301000003000000112233" + "0000000000"), bus.Frame{ID: 0x123, Len: 3, Data: [64]byte{0x11, 0x22, 0x33}}},
	{"extended", mustHex("f140da98080000000102030405060708"), bus.Frame{ID: 0x18DA40F1, Extended: true, Len: 8, Data: [64]byte{1, 2, 3, 4, 5, 6, 7, 8}}},
	{"remote", mustHex("21030040040000000000000000000000"), bus.Frame{ID: 0x321, Remote: true, Len: 4}},
	{"fd-brs", pad("403412800c050000"+"0102030405060708090a0b0c", FDRecordLen), bus.Frame{ID: 0x00123440, Extended: true, FD: true, BRS: true, Len: 12, Data: [64]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}},
	{"fd-esi", pad("5604000000060000", FDRecordLen), bus.Frame{ID: 0x456, FD: true, ESI: true}},
}

func TestMarshalRecord(t *testing.T) {
	for _, c := range recordCases {
		t.Run(c.name, func(t *testing.T) {
			var buf [FDRecordLen]byte
			n, err := MarshalRecord(buf[:], &c.f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf[:n], c.rec) {
				t.Errorf("MarshalRecord(%v) =\n%x\nwant\n%x", c.f, buf[:n], c.rec)
			}
		})
	}
}

func TestUnmarshalRecord(t *testing.T) {
	for _, c := range recordCases {
		t.Run(c.name, func(t *testing.T) {
			r, err := UnmarshalRecord(c.rec)
			if err != nil {
				t.Fatal(err)
			}
			if r.IsError || r.Frame != c.f {
				t.Errorf("UnmarshalRecord = %+v, want %v", r, c.f)
			}
		})
	}
}

func TestUnmarshalRecordErrorFrame(t *testing.T) {
	r, err := UnmarshalRecord(mustHex("40000020080000000000000000000000"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.IsError || !r.Error.BusOff() || r.Error.Restarted() {
		t.Errorf("got %+v, want a bus-off report", r)
	}
}

func TestUnmarshalRecordOversizeFD(t *testing.T) {
	rec := pad("230100000d040000"+"01020304050607080910111213", FDRecordLen)
	r, err := UnmarshalRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Oversize || r.Frame.Len != 16 || r.Frame.Data[12] != 0x13 || r.Frame.Data[13] != 0 {
		t.Errorf("got %+v, want 13 bytes padded to 16", r)
	}
}

func TestUnmarshalRecordRejects(t *testing.T) {
	for name, rec := range map[string][]byte{
		"empty":              nil,
		"short":              make([]byte, 15),
		"between":            make([]byte, 40),
		"classic len 9":      mustHex("23010000090000000000000000000000"),
		"standard id 0x800":  mustHex("00080000010000000000000000000000"),
		"fd len 65":          pad("2301000041", FDRecordLen),
		"fd remote":          pad("23010040", FDRecordLen),
		"error in fd record": pad("40000020", FDRecordLen),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := UnmarshalRecord(rec)
			var re *RecordError
			if !errors.As(err, &re) || !errors.Is(err, ErrMalformed) {
				t.Errorf("UnmarshalRecord = %v, want a *RecordError wrapping ErrMalformed", err)
			}
		})
	}
}

func TestMarshalRecordRejectsInvalid(t *testing.T) {
	var buf [FDRecordLen]byte
	f := bus.Frame{ID: 0x800, Len: 1}
	var fe *bus.FrameError
	if _, err := MarshalRecord(buf[:], &f); !errors.As(err, &fe) {
		t.Errorf("MarshalRecord(11-bit ID 0x800) = %v, want *bus.FrameError", err)
	}
	f = bus.Frame{ID: 1, FD: true, Len: 8}
	if _, err := MarshalRecord(buf[:16], &f); err == nil {
		t.Error("MarshalRecord(FD into 16 bytes) succeeded")
	}
}

func FuzzUnmarshalRecord(f *testing.F) {
	for _, c := range recordCases {
		f.Add(c.rec)
	}
	f.Add(mustHex("40000020080000000000000000000000"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := UnmarshalRecord(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if r.IsError {
			return
		}
		if err := r.Frame.Validate(); err != nil {
			t.Fatalf("decoded an invalid frame: %v", err)
		}
		var buf [FDRecordLen]byte
		n, err := MarshalRecord(buf[:], &r.Frame)
		if err != nil {
			t.Fatalf("re-encode %v: %v", r.Frame, err)
		}
		back, err := UnmarshalRecord(buf[:n])
		if err != nil || back.Frame != r.Frame {
			t.Fatalf("round trip %v -> %x -> %v, %v", r.Frame, buf[:n], back.Frame, err)
		}
	})
}

func BenchmarkUnmarshalRecord(b *testing.B) {
	rec := recordCases[1].rec
	for b.Loop() {
		if _, err := UnmarshalRecord(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalRecord(b *testing.B) {
	f := recordCases[1].f
	var buf [FDRecordLen]byte
	for b.Loop() {
		if _, err := MarshalRecord(buf[:], &f); err != nil {
			b.Fatal(err)
		}
	}
}
