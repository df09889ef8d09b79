package capture

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
)

func benchRecord() Record {
	return Record{Iface: "can2", Received: bus.Received{Time: t0, Frame: frame(0x1E800001, true, 1, 2, 3, 4, 5, 6, 7, 8)}}
}

func BenchmarkCandumpWrite(b *testing.B) {
	w := NewCandumpWriter(io.Discard)
	rec := benchRecord()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		rec.Time = t0.Add(time.Duration(i) * time.Microsecond)
		if err := w.WriteRecord(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPcapWrite(b *testing.B) {
	w, _ := NewPcapWriter(io.Discard)
	rec := benchRecord()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := w.WriteRecord(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func benchRead(b *testing.B, file []byte, open func(io.Reader) Reader) {
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r := open(bytes.NewReader(file))
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// benchFile is 10,000 extended 8-byte frames in the given writer's format.
func benchFile(b *testing.B, mk func(io.Writer) Writer) []byte {
	var buf bytes.Buffer
	w := mk(&buf)
	rec := benchRecord()
	for i := 0; i < 10000; i++ {
		w.WriteRecord(rec)
	}
	w.Flush()
	return buf.Bytes()
}

func BenchmarkCandumpRead10k(b *testing.B) {
	file := benchFile(b, func(w io.Writer) Writer { return NewCandumpWriter(w) })
	benchRead(b, file, func(r io.Reader) Reader { return NewCandumpReader(r) })
}

func BenchmarkPcapRead10k(b *testing.B) {
	file := benchFile(b, func(w io.Writer) Writer { pw, _ := NewPcapWriter(w); return pw })
	benchRead(b, file, func(r io.Reader) Reader { return NewPcapReader(r, "can2") })
}
