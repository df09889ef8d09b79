package latency

import (
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega/gmeasure"
)

func TestGmeasure(t *testing.T) {
	exp := gmeasure.NewExperiment("perf")
	var r Recorder
	r.Record(exp, Sample{Operation: "l5-command-ack", Variant: "cell-balancing", Measured: 3 * time.Millisecond})
	r.Record(nil, Sample{Operation: "l5-telemetry", Measured: time.Millisecond})
	exp.RecordNote("a note")
	exp.RecordValue("frames", 3)
	if r.Len() != 2 {
		t.Fatalf("recorder holds %d", r.Len())
	}
	ss := FromExperiment(exp)
	if len(ss) != 1 || ss[0].Operation != "l5-command-ack" || ss[0].Variant != "cell-balancing" || ss[0].Measured != 3*time.Millisecond {
		t.Errorf("%+v", ss)
	}
	// Samples without floors or compute are judged, but never signed off.
	rep := Build(ss, Options{Sheet: &Sheet{Budgets: []Budget{{Op: "l5-command-ack", Target: YAMLDuration(20 * time.Millisecond)}}}})
	v := rep.Operations[0].Verdict
	if v.Status != StatusSoftwareOnly || !strings.Contains(v.Reason, "without modelled compute recorded") || !rep.SoftwareOnly() ||
		!strings.Contains(rep.SoftwareMessage(), "no modelled compute") {
		t.Errorf("%+v", v)
	}
}
