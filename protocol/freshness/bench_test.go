package freshness

import (
	"testing"
)

func BenchmarkSealClassic(b *testing.B) {
	c, _ := NewCounter(NewMemStore(0), 1<<20)
	s, _ := NewSigner(telKey, c, Classic())
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Seal(telID, []byte{1, 2, 3}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenClassic(b *testing.B) {
	m, _ := newMAC(telKey)
	v, _ := NewVerifier(telKey, Classic(), 0, DefaultPolicy())
	var ctr uint64
	b.ReportAllocs()
	for b.Loop() {
		f := SealWith(m, Classic(), telID.Encode(), ctr, []byte{1, 2, 3})
		ctr++
		if _, _, err := v.Open(&f, t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWindowAccept(b *testing.B) {
	w, _ := NewWindow(DefaultWindow)
	var c uint64
	b.ReportAllocs()
	for b.Loop() {
		c += 3
		w.Accept(c)
		w.Accept(c - 1)
	}
}
