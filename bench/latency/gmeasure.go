package latency

import (
	"strings"

	"github.com/onsi/gomega/gmeasure"
)

// Record adds s to the recorder and, when exp is not nil, records its measured duration in the
// Ginkgo experiment under the sample's key, so a spec's gmeasure report and the latency report
// hold the same numbers.
func (r *Recorder) Record(exp *gmeasure.Experiment, s Sample) {
	if exp != nil {
		exp.RecordDuration(s.Key(), s.Measured)
	}
	r.Add(s)
}

// FromExperiment turns every duration measurement of a gmeasure experiment into samples that
// carry the measured duration only (no window, floor or compute): for suites that time with
// gmeasure alone. A measurement named "operation/variant" keeps its variant.
func FromExperiment(exp *gmeasure.Experiment) []Sample {
	var out []Sample
	for _, m := range exp.Measurements {
		if m.Type != gmeasure.MeasurementTypeDuration {
			continue
		}
		op, variant, _ := strings.Cut(m.Name, "/")
		for _, d := range m.Durations {
			out = append(out, Sample{Operation: op, Variant: variant, Measured: d})
		}
	}
	return out
}
