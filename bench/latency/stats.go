package latency

import (
	"math"
	"slices"
	"time"
)

// Stats summarises durations. Percentiles are nearest-rank: the p-th percentile of n sorted
// values is the value at rank ⌈p·n/100⌉ (1-based), always one of the measured values, so a p99
// over fewer than 100 samples is the maximum.
type Stats struct {
	Count int           `json:"count"`
	Min   time.Duration `json:"min_ns"`
	Mean  time.Duration `json:"mean_ns"`
	P50   time.Duration `json:"p50_ns"`
	P95   time.Duration `json:"p95_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"`
}

// Summarize computes Stats over ds (not modified). The mean is rounded to the nanosecond.
func Summarize(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum float64
	for _, d := range s {
		sum += float64(d)
	}
	return Stats{
		Count: len(s),
		Min:   s[0],
		Mean:  time.Duration(math.Round(sum / float64(len(s)))),
		P50:   rank(s, 50),
		P95:   rank(s, 95),
		P99:   rank(s, 99),
		Max:   s[len(s)-1],
	}
}

// rank is the nearest-rank percentile of sorted values.
func rank(sorted []time.Duration, p int) time.Duration {
	n := len(sorted)
	r := (p*n + 99) / 100 // ⌈p·n/100⌉
	if r < 1 {
		r = 1
	}
	return sorted[r-1]
}

// Statistic names a field of Stats a budget is checked against.
type Statistic string

// Statistics a budget may name.
const (
	StatP50  Statistic = "p50"
	StatP95  Statistic = "p95"
	StatP99  Statistic = "p99"
	StatMax  Statistic = "max"
	StatMean Statistic = "mean"
)

// Of returns the named statistic; ok is false for a name Stats does not have.
func (st Statistic) Of(s Stats) (d time.Duration, ok bool) {
	switch st {
	case StatP50:
		return s.P50, true
	case StatP95:
		return s.P95, true
	case StatP99, "":
		return s.P99, true
	case StatMax:
		return s.Max, true
	case StatMean:
		return s.Mean, true
	}
	return 0, false
}
