package latency

import (
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	msd := func(vs ...int) []time.Duration {
		var ds []time.Duration
		for _, v := range vs {
			ds = append(ds, time.Duration(v)*time.Millisecond)
		}
		return ds
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[99-i] = i + 1 // 100 … 1: order must not matter
	}
	twenty := make([]int, 20)
	for i := range twenty {
		twenty[i] = i + 1
	}
	tests := []struct {
		name string
		in   []time.Duration
		want Stats
	}{
		{"empty", nil, Stats{}},
		{"one", msd(7), Stats{1, ms7, ms7, ms7, ms7, ms7, ms7}},
		{"1..100", msd(hundred...), Stats{100, 1 * m, 50500 * time.Microsecond, 50 * m, 95 * m, 99 * m, 100 * m}},
		// ⌈0.5·20⌉ = 10, ⌈0.95·20⌉ = 19, ⌈0.99·20⌉ = 20.
		{"1..20", msd(twenty...), Stats{20, 1 * m, 10500 * time.Microsecond, 10 * m, 19 * m, 20 * m, 20 * m}},
		{"ties", msd(3, 1, 3, 3), Stats{4, 1 * m, 2500 * time.Microsecond, 3 * m, 3 * m, 3 * m, 3 * m}},
		{"negative", []time.Duration{-5, 5}, Stats{2, -5, 0, -5, 5, 5, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summarize(tt.in); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

const (
	m   = time.Millisecond
	ms7 = 7 * time.Millisecond
)

func TestStatisticOf(t *testing.T) {
	s := Stats{Count: 3, Min: 1, Mean: 2, P50: 3, P95: 4, P99: 5, Max: 6}
	for st, want := range map[Statistic]time.Duration{"": 5, StatP50: 3, StatP95: 4, StatP99: 5, StatMax: 6, StatMean: 2} {
		if got, ok := st.Of(s); !ok || got != want {
			t.Errorf("%q: %v %v, want %v", st, got, ok, want)
		}
	}
	if _, ok := Statistic("p90").Of(s); ok {
		t.Error("p90 accepted")
	}
}

func BenchmarkSummarize(b *testing.B) {
	ds := make([]time.Duration, 10_000)
	for i := range ds {
		ds[i] = time.Duration(i*7919%10_000) * time.Microsecond
	}
	b.ReportAllocs()
	for b.Loop() {
		Summarize(ds)
	}
}
