package capture

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
)

// frame builds a frame from its fields and payload.
func frame(id uint32, ext bool, data ...byte) bus.Frame {
	f := bus.Frame{ID: id, Extended: ext, Len: uint8(len(data))}
	copy(f.Data[:], data)
	return f
}

func fdFrame(id uint32, ext, brs, esi bool, n int) bus.Frame {
	f := bus.Frame{ID: id, Extended: ext, FD: true, BRS: brs, ESI: esi, Len: uint8(n)}
	for i := 0; i < n; i++ {
		f.Data[i] = byte(i*7 + 1)
	}
	return f
}

var t0 = time.Unix(1700000000, 123456000).UTC()

// sampleRecords covers every kind of record both formats carry.
func sampleRecords(iface string) []Record {
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 1001 * time.Microsecond) }
	recs := []Record{
		{Received: bus.Received{Frame: frame(0x123, false, 0x11, 0x22, 0x33)}},
		{Received: bus.Received{Frame: frame(0x12345678, true, 1, 2, 3, 4, 5, 6, 7, 8)}},
		{Received: bus.Received{Frame: frame(0x7FF, false)}},
		{Received: bus.Received{Frame: frame(0x001, true)}},
		{Received: bus.Received{Frame: bus.Frame{ID: 0x321, Remote: true}}},
		{Received: bus.Received{Frame: bus.Frame{ID: 0x1ABCDEF0, Extended: true, Remote: true, Len: 4}}},
		{Received: bus.Received{Frame: fdFrame(0x456, false, true, false, 12)}},
		{Received: bus.Received{Frame: fdFrame(0x1C28FF01, true, false, true, 64)}},
		{Received: bus.Received{Frame: fdFrame(0x1C28FF01, true, true, true, 0)}},
		{Received: bus.Received{Frame: fdFrame(0x100, false, false, false, 7)}},
		{Received: bus.Received{Frame: bus.Frame{ID: 0x40, Len: 8, Data: [64]byte{0, 0, 0, 0, 0, 0, 0, 0}}}, Error: true},
	}
	for i := range recs {
		recs[i].Iface = iface
		recs[i].Time = at(i)
	}
	return recs
}

func TestRoundTripThroughFiles(t *testing.T) {
	for _, name := range []string{"can1.log", "can1.pcap"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			w, err := Create(path)
			if err != nil {
				t.Fatal(err)
			}
			want := sampleRecords("can1")
			for _, r := range want {
				if err := w.WriteRecord(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got := readAll(t, path)
			if len(got) != len(want) {
				t.Fatalf("read %d records, wrote %d", len(got), len(want))
			}
			for i := range want {
				if !recordsEqual(got[i], want[i]) {
					t.Errorf("record %d:\n got %+v\nwant %+v", i, got[i], want[i])
				}
			}
		})
	}
}

func readAll(t *testing.T, path string) []Record {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
}

func recordsEqual(a, b Record) bool {
	return a.Iface == b.Iface && a.Error == b.Error && a.Frame == b.Frame && a.Time.Equal(b.Time)
}

func TestCandumpGoldenLines(t *testing.T) {
	var buf bytes.Buffer
	w := NewCandumpWriter(&buf)
	for _, r := range sampleRecords("vcan0") {
		if err := w.WriteRecord(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := `(1700000000.123456) vcan0 123#112233
(1700000000.124457) vcan0 12345678#0102030405060708
(1700000000.125458) vcan0 7FF#
(1700000000.126459) vcan0 00000001#
(1700000000.127460) vcan0 321#R
(1700000000.128461) vcan0 1ABCDEF0#R4
(1700000000.129462) vcan0 456##101080F161D242B323940474E
(1700000000.130463) vcan0 1C28FF01##201080F161D242B323940474E555C636A71787F868D949BA2A9B0B7BEC5CCD3DAE1E8EFF6FD040B121920272E353C434A51585F666D747B828990979EA5ACB3BA
(1700000000.131464) vcan0 1C28FF01##3
(1700000000.132465) vcan0 100##001080F161D242B
(1700000000.133466) vcan0 20000040#0000000000000000
`
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestCandumpReadsOtherWriters(t *testing.T) {
	// Lines as can-utils and python-can write them, with the variations the reader must accept.
	in := "(1700000000.000001) can0 123#DEADBEEF\r\n" +
		"\n" +
		"(1700000000.5) vcan0 1F334455#1122334455667788 R  \n" +
		"(0.000000) can1 123#R T\n" +
		"(1.000000) can1 123#11.22.33\n" +
		"(2.000000) can1 123#1122334455667788_C\n" +
		"(3.000000) can1 123##511\n" +
		"(4.000000) can1 20000080#\n" +
		"(5.123456789) can1 7#01\n" +
		"(6) can1 1234#"
	want := []Record{
		{Iface: "can0", Received: bus.Received{Time: time.Unix(1700000000, 1000), Frame: frame(0x123, false, 0xDE, 0xAD, 0xBE, 0xEF)}},
		{Iface: "vcan0", Received: bus.Received{Time: time.Unix(1700000000, 5e8), Frame: frame(0x1F334455, true, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88)}},
		{Iface: "can1", Received: bus.Received{Time: time.Unix(0, 0), Frame: bus.Frame{ID: 0x123, Remote: true}}},
		{Iface: "can1", Received: bus.Received{Time: time.Unix(1, 0), Frame: frame(0x123, false, 0x11, 0x22, 0x33)}},
		{Iface: "can1", Received: bus.Received{Time: time.Unix(2, 0), Frame: frame(0x123, false, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88)}},
		{Iface: "can1", Received: bus.Received{Time: time.Unix(3, 0), Frame: bus.Frame{ID: 0x123, FD: true, BRS: true, Len: 1, Data: [64]byte{0x11}}}},
		{Iface: "can1", Received: bus.Received{Time: time.Unix(4, 0), Frame: bus.Frame{ID: 0x80}}, Error: true},
		{Iface: "can1", Received: bus.Received{Time: time.Unix(5, 123456789), Frame: frame(0x7, false, 0x01)}},
		{Iface: "can1", Received: bus.Received{Time: time.Unix(6, 0), Frame: frame(0x1234, true)}},
	}
	r := NewCandumpReader(bytes.NewBufferString(in))
	for i, w := range want {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !recordsEqual(got, w) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, got, w)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
}

func TestCandumpRejectsGarbage(t *testing.T) {
	tests := []struct {
		line string
		want error
	}{
		{"hello world", ErrSyntax},
		{"(1.0) can0", ErrSyntax},
		{"(1.0) can0 123#11 X", ErrSyntax},
		{"1.0 can0 123#11", ErrSyntax},
		{"(1.x) can0 123#11", ErrSyntax},
		{"(-1.0) can0 123#11", ErrSyntax},
		{"(1.0123456789) can0 123#11", ErrSyntax},
		{"(1.0) can0 123", ErrSyntax},
		{"(1.0) can0 #11", ErrSyntax},
		{"(1.0) can0 123456789#11", ErrSyntax},
		{"(1.0) can0 12G#11", ErrSyntax},
		{"(1.0) can0 123#112", ErrSyntax},
		{"(1.0) can0 123#zz", ErrSyntax},
		{"(1.0) can0 123#112233445566778899", ErrSyntax},
		{"(1.0) can0 123#R9", ErrSyntax},
		{"(1.0) can0 123#R11", ErrSyntax},
		{"(1.0) can0 123##", ErrSyntax},
		{"(1.0) can0 123##G11", ErrSyntax},
		{"(1.0) can0 123###80:00:00#11", ErrSyntax},
		{"(1.0) can0 123#11_C", ErrSyntax},
		{"(1.0) can0 123#1122334455667788_3", ErrSyntax},
		{"(1.0) can0 800#11", ErrBadFrame},
		{"(1.0) can0 9FFFFFFF#11", ErrBadFrame},
		{"(1.0) can0 123##0112233445566778899", ErrBadFrame}, // 9 bytes: not an FD length
		{"(1.0) can0 A0000001#", ErrBadFrame},
	}
	for _, tc := range tests {
		_, err := ParseCandumpLine([]byte(tc.line))
		if !errors.Is(err, tc.want) || !errors.Is(err, ErrBadRecord) {
			t.Errorf("%q: got %v, want %v", tc.line, err, tc.want)
		}
	}
}

func TestCandumpReportsLineAndGoesOn(t *testing.T) {
	in := "(1.0) can0 123#11\n\n(2.0) can0 garbage\n(3.0) can0 124#22\n" + string(bytes.Repeat([]byte("x"), 5000)) + "\n(4.0) can0 125#33\n"
	r := NewCandumpReader(bytes.NewBufferString(in))
	var ids []uint32
	var lines []int
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		var le *LineError
		if errors.As(err, &le) {
			lines = append(lines, le.Line)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.Frame.ID)
	}
	if len(ids) != 3 || ids[0] != 0x123 || ids[1] != 0x124 || ids[2] != 0x125 {
		t.Errorf("ids %X", ids)
	}
	if len(lines) != 2 || lines[0] != 3 || lines[1] != 5 {
		t.Errorf("error lines %v, want [3 5]", lines)
	}
}

func TestWritersRejectBadInput(t *testing.T) {
	var buf bytes.Buffer
	cw := NewCandumpWriter(&buf)
	pw, err := NewPcapWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []Writer{cw, pw} {
		if err := w.Write("", bus.Received{}); !errors.Is(err, ErrBadInterface) {
			t.Errorf("%T empty iface: %v", w, err)
		}
		if err := w.Write("can 0", bus.Received{}); !errors.Is(err, ErrBadInterface) {
			t.Errorf("%T iface with space: %v", w, err)
		}
		if err := w.Write("can0", bus.Received{Frame: bus.Frame{ID: 0x800}}); !errors.Is(err, ErrBadFrame) {
			t.Errorf("%T bad frame: %v", w, err)
		}
		if err := w.WriteRecord(Record{Iface: "can0", Error: true, Received: bus.Received{Frame: bus.Frame{Len: 9}}}); !errors.Is(err, ErrBadFrame) {
			t.Errorf("%T bad error record: %v", w, err)
		}
	}
	if err := pw.Write("can0", bus.Received{}); err != nil {
		t.Fatal(err)
	}
	if err := pw.Write("can1", bus.Received{}); !errors.Is(err, ErrOneInterface) {
		t.Errorf("second interface in pcap: %v", err)
	}
}

func TestCreateAndOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Create(filepath.Join(dir, "x.txt")); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("Create .txt: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing.log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open missing: %v", err)
	}
	if _, err := Open(dir); err == nil {
		t.Error("Open accepted a directory")
	}
	// A pcap file is recognised by its magic whatever its name.
	path := filepath.Join(dir, "bus.log")
	f, _ := os.Create(path)
	pw, _ := NewPcapWriter(f)
	pw.Write("can0", bus.Received{Time: t0, Frame: frame(0x10, false, 1)})
	pw.Close()
	f.Close()
	recs := readAll(t, path)
	if len(recs) != 1 || recs[0].Frame.ID != 0x10 || recs[0].Iface != "bus" {
		t.Errorf("got %+v", recs)
	}
}

func TestTimesBefore1970AreZero(t *testing.T) {
	line, err := AppendCandump(nil, Record{Iface: "c", Received: bus.Received{Frame: frame(1, false)}})
	if err != nil || string(line) != "(0.000000) c 001#\n" {
		t.Errorf("got %q %v", line, err)
	}
}
