package fwxfer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
)

func TestCodecGolden(t *testing.T) {
	cases := []struct {
		m    Msg
		want string
	}{
		{Msg{Kind: KindOffer, Xfer: 0x0102, Size: 0x1000, Chunk: 1024, Hash: [32]byte{0xAA, 31: 0xBB}, Sig: []byte{0xD2, 0x84}},
			"01" + "0102" + "00001000" + "0400" + "aa" + "000000000000000000000000000000000000000000000000000000000000" + "bb" + "0002" + "d284"},
		{Msg{Kind: KindChunk, Xfer: 1, Offset: 0x400, Data: []byte{1, 2, 3}}, "02" + "0001" + "00000400" + "010203"},
		{Msg{Kind: KindCommit, Xfer: 1}, "03" + "0001"},
		{Msg{Kind: KindAbort, Xfer: 1, Reason: 9}, "04" + "0001" + "09"},
		{Msg{Kind: KindAck, Xfer: 1, Status: StatusOutOfOrder, Next: 0x800}, "81" + "0001" + "01" + "00000800"},
	}
	for _, c := range cases {
		b, err := Append(nil, &c.m)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(b); got != c.want {
			t.Errorf("kind %02X:\n got %s\nwant %s", c.m.Kind, got, c.want)
		}
		m, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := Append(nil, &m)
		if !bytes.Equal(b, b2) {
			t.Errorf("kind %02X does not round-trip", c.m.Kind)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{"", "01", "0100", "05 0001", "02 0001 00000000", "03 0001 00", "81 0001 00 000000",
		"01 0001 00001000 0000" + "00000000000000000000000000000000000000000000000000000000000000000000" + "0000",  // chunk 0
		"01 0001 00001000 0400" + "0000000000000000000000000000000000000000000000000000000000000000" + "0005 d2"} { // short sig
		b, err := hex.DecodeString(stripSpaces(in))
		if err != nil {
			t.Fatal(in, err)
		}
		if _, err := Parse(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func stripSpaces(s string) string { return string(bytes.ReplaceAll([]byte(s), []byte(" "), nil)) }

// FuzzParse: any bytes parse or fail with ErrMalformed; what parses re-encodes to the same bytes.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0101020000100004000000000000000000000000000000000000000000000000000000000000000000000002d284",
		"02000100000400010203", "030001", "04000109", "8100010100000800"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out, err := Append(nil, &m)
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoding %x: %x %v", b, out, err)
		}
	})
}

func sha(b []byte) [32]byte { return sha256.Sum256(b) }
