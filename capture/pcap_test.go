package capture

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPcapGoldenBytes(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewPcapWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1700000000, 123456789)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Write("can0", bus.Received{Time: at, Frame: frame(0x12345678, true, 0xAA, 0xBB)}))
	must(w.Write("can0", bus.Received{Time: at, Frame: bus.Frame{ID: 0x123, Remote: true, Len: 2}}))
	must(w.Write("can0", bus.Received{Time: at, Frame: fdFrame(0x456, false, true, false, 12)}))
	must(w.Close())
	want := unhex(t, `
		4d3cb2a1 0200 0400 00000000 00000000 00000400 e3000000
		00f15365 15cd5b07 10000000 10000000
		92345678 02 00 0000 aabb000000000000
		00f15365 15cd5b07 10000000 10000000
		40000123 02 00 0000 0000000000000000
		00f15365 15cd5b07 48000000 48000000
		00000456 0c 05 0000 01080f161d242b323940474e`+strings.Repeat("00", 52))
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("got\n%x\nwant\n%x", buf.Bytes(), want)
	}
}

// pcapFile builds a pcap file by hand in either byte order and either resolution.
func pcapFile(order binary.AppendByteOrder, magic uint32, linkType uint32, packets ...[]byte) []byte {
	var b []byte
	b = order.AppendUint32(b, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = order.AppendUint32(b, 65535)
	b = order.AppendUint32(b, linkType)
	for i, p := range packets {
		b = order.AppendUint32(b, uint32(100+i))
		b = order.AppendUint32(b, 250)
		b = order.AppendUint32(b, uint32(len(p)))
		b = order.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

func TestPcapReadsBothOrdersAndResolutions(t *testing.T) {
	classic := unhex(t, "80000321 03 00 0000 010203 0000000000")
	short := unhex(t, "00000100 01 00 0000 ff") // a writer that cut the padding
	fdNoFDF := append(unhex(t, "00000456 10 01 0000"), make([]byte, 64)...)
	for _, tc := range []struct {
		name  string
		order binary.AppendByteOrder
		magic uint32
		sub   time.Duration
	}{
		{"le-micro", binary.LittleEndian, magicMicro, 250 * time.Microsecond},
		{"be-micro", binary.BigEndian, magicMicro, 250 * time.Microsecond},
		{"le-nano", binary.LittleEndian, magicNano, 250},
		{"be-nano", binary.BigEndian, magicNano, 250},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewPcapReader(bytes.NewReader(pcapFile(tc.order, tc.magic, 227, classic, short, fdNoFDF)), "can7")
			want := []bus.Frame{
				frame(0x321, true, 1, 2, 3),
				frame(0x100, false, 0xFF),
				{ID: 0x456, FD: true, BRS: true, Len: 16},
			}
			for i, w := range want {
				rec, err := r.Next()
				if err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				if rec.Frame != w || rec.Iface != "can7" || !rec.Time.Equal(time.Unix(int64(100+i), 0).Add(tc.sub)) {
					t.Errorf("packet %d: got %+v", i, rec)
				}
			}
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("want EOF, got %v", err)
			}
		})
	}
}

func TestPcapErrors(t *testing.T) {
	le := binary.LittleEndian
	good := unhex(t, "00000123 01 00 0000 11 00000000000000")
	file := pcapFile(le, magicNano, 227, good)
	tests := []struct {
		name     string
		in       []byte
		want     error
		resumes  bool // a good packet follows and is read
		atPacket int
	}{
		{"empty", nil, ErrTruncated, false, 0},
		{"short header", file[:10], ErrTruncated, false, 0},
		{"bad magic", append([]byte("GARBAGE!"), file[8:]...), ErrBadMagic, false, 0},
		{"link type", pcapFile(le, magicNano, 1, good), ErrLinkType, false, 0},
		{"cut packet header", file[:fileHdrLen+7], ErrTruncated, false, 1},
		{"cut packet data", file[:len(file)-3], ErrTruncated, false, 1},
		{"huge caplen", func() []byte {
			b := bytes.Clone(file)
			le.PutUint32(b[fileHdrLen+8:], 1<<30)
			return b
		}(), ErrBadLength, false, 1},
		{"frame header short", pcapFile(le, magicNano, 227, good[:5], good), ErrBadLength, true, 1},
		{"length beyond data", pcapFile(le, magicNano, 227, unhex(t, "00000123 05 00 0000 1122"), good), ErrBadLength, true, 1},
		{"classic length 9", pcapFile(le, magicNano, 227, unhex(t, "00000123 09 00 0000 112233445566778899"), good), ErrBadFrame, true, 1},
		{"FD remote", pcapFile(le, magicNano, 227, unhex(t, "40000123 00 04 0000"), good), ErrBadFrame, true, 1},
		{"wide standard id", pcapFile(le, magicNano, 227, unhex(t, "00000923 00 00 0000"), good), ErrBadFrame, true, 1},
		{"error with EFF", pcapFile(le, magicNano, 227, unhex(t, "a0000004 00 00 0000"), good), ErrBadFrame, true, 1},
		{"caplen over origlen", func() []byte {
			b := pcapFile(le, magicNano, 227, good, good)
			le.PutUint32(b[fileHdrLen+12:], 4)
			return b
		}(), ErrBadLength, true, 1},
		{"nanoseconds out of range", func() []byte {
			b := pcapFile(le, magicNano, 227, good, good)
			le.PutUint32(b[fileHdrLen+4:], 1e9)
			return b
		}(), ErrBadLength, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewPcapReader(bytes.NewReader(tc.in), "x")
			_, err := r.Next()
			var oe *OffsetError
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrBadRecord) || !errors.As(err, &oe) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if oe.Record != tc.atPacket {
				t.Errorf("error at packet %d, want %d", oe.Record, tc.atPacket)
			}
			rec, err := r.Next()
			if tc.resumes {
				if err != nil || rec.Frame.ID != 0x123 {
					t.Errorf("after the bad packet: %+v %v", rec, err)
				}
			} else if err != io.EOF {
				t.Errorf("after a fatal error: %v, want EOF", err)
			}
		})
	}
}

func TestPcapErrorRecordRoundTrip(t *testing.T) {
	rec := Record{Iface: "c", Error: true, Received: bus.Received{Frame: bus.Frame{ID: 0x40, Len: 8, Data: [64]byte{0, 0, 0, 0, 0, 0, 0, 0x10}}}}
	b, err := AppendSocketCAN(nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "20000040 08 00 0000 0000000000000010"); !bytes.Equal(b, want) {
		t.Errorf("got %x", b)
	}
	got, err := ParseSocketCAN(b)
	if err != nil || !got.Error || got.Frame != rec.Frame {
		t.Errorf("got %+v %v", got, err)
	}
}
