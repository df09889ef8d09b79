package suites

import (
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bench/perf"
)

// The sign-off run of `hilrun bench` with few samples: every operation measured on the bus
// clock beside its wire floor and modelled compute, the latency report written. The budgets'
// verdicts are the report's (and `hilrun bench` exits on them); this spec fails only when the
// run could not measure.
var _ = Describe("Performance sign-off", Ordered, Label("perf", "sign-off"), func() {
	It("measures commands (to two modules in turn), telemetry, binding, pairing, L6, L7 and the L3 handshake at the rig's profiles and writes the latency report", func(ctx SpecContext) {
		c, _ := current()
		if c.Programs {
			Skip("needs the devices' meters in-process; on this run the pack and the modules are separate programs")
		}
		dir := filepath.Join(c.ReportDir, "latency")
		res, err := perf.Run(ctx, perf.Options{Rig: c.Rig, ReportDir: dir, Images: c.Images, Logger: c.Logger,
			Samples: 10, Telemetry: 2, Rare: 1, Recovery: -1, Modules: 2, Spin: time.Millisecond})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Report.WriteFiles(dir)).To(Succeed())
		for _, p := range res.Report.Properties() {
			AddReportEntry(p.Name, p.Value)
		}
		AddReportEntry("latency report", filepath.Join(dir, "latency.html"))
		measured := map[string]bool{}
		for _, o := range res.Report.Operations {
			Expect(o.Verdict.Status).NotTo(BeEmpty(), o.Key)
			if o.Measured.Count > 0 {
				measured[o.Operation] = true
			}
		}
		for _, op := range []string{"l5-command-ack", "l5-telemetry", "binding-module", "pairing-module", "l3-handshake", "l6-validation", "l7-validation"} {
			Expect(measured).To(HaveKey(op))
		}
	}, NodeTimeout(5*time.Minute))
})

// A soak of the rig in real time (rigs/emulated-full.yaml for the full pack): bus load, poll
// cycles, missed slot deadlines and the bench's CPU. Only on request (label filter "soak").
var _ = Describe("Soak", Label("perf", "soak"), func() {
	It("polls every module in its slots for 60 s in real time", func(ctx SpecContext) {
		if !strings.Contains(GinkgoLabelFilter(), "soak") {
			Skip("the soak runs only when asked for: --label-filter soak")
		}
		c, _ := current()
		if c.Programs {
			Skip("needs the buses in-process")
		}
		res, err := perf.Soak(ctx, perf.SoakOptions{Rig: c.Rig, ReportDir: filepath.Join(c.ReportDir, "soak"), Images: c.Images,
			Logger: c.Logger, Duration: 60 * time.Second, Spin: time.Millisecond}, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		var b strings.Builder
		res.Write(&b)
		AddReportEntry("soak", b.String())
		Expect(res.Slots).To(BeNumerically(">", 0))
		// A late slot on a loaded host is the host's; it is reported, and `hilrun bench --soak`
		// exits 1 on it. A module that does not answer is the devices'.
		AddReportEntry("slot deadlines missed", res.SlotLate)
		Expect(res.Unanswered).To(BeZero(), "status requests without an answer")
	}, NodeTimeout(5*time.Minute))
})
