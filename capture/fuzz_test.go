package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"time"
)

// maxRecords bounds a fuzz iteration; the readers resume after bad records, so a loop that never
// reached io.EOF would be a bug the bound turns into a failure.
const maxRecords = 1 << 16

func FuzzCandumpReader(f *testing.F) {
	var buf bytes.Buffer
	w := NewCandumpWriter(&buf)
	for _, r := range sampleRecords("vcan0") {
		w.WriteRecord(r)
	}
	w.Flush()
	f.Add(buf.Bytes())
	f.Add([]byte("(1700000000.5) vcan0 1F334455#1122334455667788 R\r\n(1.0) c 123#R4 T\n"))
	f.Add([]byte("(2.000000) can1 123#1122334455667788_C\n(3) can1 123##511\n(4.0) x 20000080#\n"))
	f.Add([]byte("(1.0) can0 123#11.22\n\n\ngarbage\n(1.0123456789) a 1#"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewCandumpReader(bytes.NewReader(data))
		for i := 0; ; i++ {
			if i > maxRecords {
				t.Fatal("reader does not reach EOF")
			}
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				continue
			}
			// Whatever the reader accepts, the writer writes and the reader reads back the same.
			line, err := AppendCandump(nil, rec)
			if err != nil {
				t.Fatalf("accepted %+v but cannot write it: %v", rec, err)
			}
			back, err := ParseCandumpLine(bytes.TrimSuffix(line, []byte{'\n'}))
			if err != nil {
				t.Fatalf("cannot read back %q: %v", line, err)
			}
			rec.Time = rec.Time.Truncate(time.Microsecond)
			if !recordsEqual(back, rec) {
				t.Fatalf("round trip of %q:\n got %+v\nwant %+v", line, back, rec)
			}
		}
	})
}

func FuzzPcapReader(f *testing.F) {
	var buf bytes.Buffer
	w, _ := NewPcapWriter(&buf)
	for _, r := range sampleRecords("can0") {
		w.WriteRecord(r)
	}
	w.Flush()
	f.Add(buf.Bytes())
	le, be := binary.LittleEndian, binary.BigEndian
	classic := []byte{0x80, 0, 3, 0x21, 3, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0}
	f.Add(pcapFile(be, magicMicro, 227, classic, classic[:9]))
	f.Add(pcapFile(le, magicMicro, 227, classic[:5], append(classic[:8:8], make([]byte, 64)...)))
	f.Add(pcapFile(le, magicNano, 1, classic))
	f.Add(buf.Bytes()[:40])
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewPcapReader(bytes.NewReader(data), "can0")
		for i := 0; ; i++ {
			if i > maxRecords {
				t.Fatal("reader does not reach EOF")
			}
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				continue
			}
			pkt, err := AppendSocketCAN(nil, rec)
			if err != nil {
				t.Fatalf("accepted %+v but cannot write it: %v", rec, err)
			}
			back, err := ParseSocketCAN(pkt)
			if err != nil {
				t.Fatalf("cannot read back %x: %v", pkt, err)
			}
			if back.Frame != rec.Frame || back.Error != rec.Error {
				t.Fatalf("round trip of %x:\n got %+v\nwant %+v", pkt, back, rec)
			}
		}
	})
}
