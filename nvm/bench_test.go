package nvm

import (
	"encoding/binary"
	"path/filepath"
	"testing"
)

// A device's typical store: identity, binding, four pairings, a few counters (≈ 1 KiB).
func benchStore(b *testing.B, s *Store) {
	b.Helper()
	m := map[string][]byte{"id": fill(24, 1), "bind.key": fill(32, 2), "bind.secret": fill(32, 3)}
	for i := 0; i < 4; i++ {
		p := "pair." + string(rune('0'+i))
		m[p+".kab"], m[p+".kba"], m[p+".meta"] = fill(32, 4), fill(32, 5), fill(120, 6)
		m["ctr."+p] = make([]byte, 8)
	}
	if err := s.PutMany(m); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkCounterReserveMem(b *testing.B) {
	s := OpenMem()
	benchStore(b, s)
	c := s.CounterStore("ctr.pair.0")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.Reserve(uint64(i+1) * 256); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCounterReserveFile includes the two fsyncs per update on the test machine's disk.
func BenchmarkCounterReserveFile(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "dev.nvm"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchStore(b, s)
	c := s.CounterStore("ctr.pair.0")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.Reserve(uint64(i+1) * 256); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	f := NewMemFile(nil)
	s, err := OpenFile(f, Options{})
	if err != nil {
		b.Fatal(err)
	}
	benchStore(b, s)
	img := f.Bytes()
	b.SetBytes(int64(binary.Size(img)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := OpenFile(NewMemFile(img), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
