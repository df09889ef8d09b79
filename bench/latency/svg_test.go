package latency

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestHistogramExtremes(t *testing.T) {
	for _, tc := range []struct {
		name string
		ds   []time.Duration
	}{
		{"one", []time.Duration{time.Millisecond}},
		{"equal", []time.Duration{5, 5, 5}},
		{"huge and close", []time.Duration{math.MaxInt64 - 1000, math.MaxInt64}},
		{"zero", []time.Duration{0, 0}},
	} {
		o := &Operation{Key: tc.name, Measured: Summarize(tc.ds), Budget: &Budget{Target: YAMLDuration(time.Millisecond)}}
		for _, d := range tc.ds {
			o.Samples = append(o.Samples, Sample{Measured: d})
		}
		svg := histogramSVG(o)
		if !strings.HasPrefix(svg, "<svg") || !strings.HasSuffix(svg, "</svg>") {
			t.Errorf("%s: %q", tc.name, svg)
		}
	}
	if histogramSVG(&Operation{}) != "" {
		t.Error("a row without samples has a histogram")
	}
}
