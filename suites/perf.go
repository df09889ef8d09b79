package suites

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gmeasure"

	"github.com/modbatt/hilrun/legacy"
)

// Latency of the legacy status poll on the module bus, from sending the request to seeing
// the last answer (wall time: the emulated bus runs as fast as possible, so its timestamps
// are not wall time).
var _ = Describe("Legacy status poll latency", Ordered, Label("perf"), func() {
	sys := rigUp("perf-legacy-poll", inProcessOnly, packOff)

	It("answers a status request after the firmware's 10 ms answer delay, well within the 100 ms poll period", func(ctx SpecContext) {
		Expect(sys().Modules).NotTo(BeEmpty())
		m := sys().Modules[0]
		id := m.Rig.ModuleID
		mb := newModuleBus(sys(), m.Rig.Buses[0])
		c := m.Config()
		mb.send(ctx, &legacy.Registration{ModuleID: id, Manufacturer: c.Manufacturer, Part: c.Part, UniqueID: c.UniqueID}, legacy.ModuleUnregistered)
		Eventually(m.ModuleID).WithTimeout(2 * time.Second).Should(Equal(id))

		exp := gmeasure.NewExperiment("legacy status poll")
		AddReportEntry(exp.Name, exp)
		exp.Sample(func(int) {
			mark := mb.mark()
			t0 := time.Now()
			mb.send(ctx, &legacy.StatusRequest{ModuleID: id}, id)
			mb.await(ctx, mark, legacy.IDCellComm1, id)
			exp.RecordDuration("request to last answer", time.Since(t0))
		}, gmeasure.SamplingConfig{N: 20})
		st := exp.GetStats("request to last answer")
		Expect(st.DurationFor(gmeasure.StatMedian)).To(BeNumerically(">=", c.StatusDelay), "the firmware answers after its delay")
		Expect(st.DurationFor(gmeasure.StatMedian)).To(BeNumerically("<", 100*time.Millisecond))
	})
})
