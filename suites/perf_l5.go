package suites

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gmeasure"

	"github.com/modbatt/hilrun/protocol/message"
)

// L5 command latency with every device charging its modelled MCU cost (the rig's profiles),
// measured at the app: from handing the command to the link engine to holding the verified
// ACK. Measurement names are "<budget op>/<variant>", as bench/latency reads them.
var _ = Describe("L5 command latency at the modelled MCU cost", Ordered, Label("perf"), func() {
	sys := rigUp("perf-l5")
	var exp *gmeasure.Experiment
	BeforeAll(func(ctx SpecContext) {
		m := sys().Modules[0]
		_, err := sys().App.BindPack(ctx)
		Expect(err).NotTo(HaveOccurred())
		_, err = sys().App.PairPack(ctx, pairingContext)
		Expect(err).NotTo(HaveOccurred())
		_, err = sys().App.BindModule(ctx, m.EntityID())
		Expect(err).NotTo(HaveOccurred())
		_, err = sys().App.PairModule(ctx, pairingContext, m.EntityID())
		Expect(err).NotTo(HaveOccurred())
		exp = gmeasure.NewExperiment("L5 command and ACK")
		AddReportEntry(exp.Name, exp)
	}, NodeTimeout(3*time.Minute))

	budget := func() time.Duration {
		sheet, err := sys().Rig.LoadBudgets()
		Expect(err).NotTo(HaveOccurred())
		if sheet == nil {
			return 0
		}
		b, ok := sheet.Find("l5-command-ack")
		if !ok {
			return 0
		}
		return b.Target.Std()
	}

	measure := func(ctx SpecContext, name string, target uint8) {
		exp.Sample(func(int) {
			t0 := time.Now()
			ack, err := sys().App.Command(ctx, target, chargeEnable())
			d := time.Since(t0)
			Expect(err).NotTo(HaveOccurred())
			Expect(ack.Status).To(Equal(message.StatusOK))
			exp.RecordDuration(name, d)
		}, gmeasure.SamplingConfig{N: 20})
	}

	It("answers a command to the pack within the L5 budget", func(ctx SpecContext) {
		measure(ctx, "l5-command-ack/app-pack", sys().Pack.Addr())
		if b := budget(); b > 0 {
			Expect(exp.GetStats("l5-command-ack/app-pack").DurationFor(gmeasure.StatMedian)).To(BeNumerically("<", b))
		}
	}, NodeTimeout(time.Minute))

	It("answers a command to a module through the pack within the L5 budget", func(ctx SpecContext) {
		measure(ctx, "l5-command-ack/app-module", sys().Modules[0].Rig.ModuleID)
		if b := budget(); b > 0 {
			Expect(exp.GetStats("l5-command-ack/app-module").DurationFor(gmeasure.StatMedian)).To(BeNumerically("<", b))
		}
	}, NodeTimeout(time.Minute))
})
