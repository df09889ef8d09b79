package suites

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"
)

// Run runs every registered spec once, in this process, with the given configuration; it
// reports whether they all passed. A process can call it once (Ginkgo's rule).
func Run(t GinkgoTestingT, c Config, suite types.SuiteConfig, reporter types.ReporterConfig) bool {
	configure(c)
	gomega.RegisterFailHandler(Fail)
	// Gomega's default of 1 s for Eventually is a budget for an idle machine; a device that
	// reacts to a frame on a shared, loaded CI host (or on a rig whose bus is a kernel inside
	// User-Mode Linux) can take longer without anything being wrong. Specs that bound a
	// reaction more tightly say so with WithTimeout; latency is judged by the perf specs.
	gomega.SetDefaultEventuallyTimeout(eventuallyTimeout)
	return RunSpecs(t, "hilrun suites on rig "+c.Rig.Name, suite, reporter)
}

// eventuallyTimeout is how long an Eventually waits unless the spec says otherwise.
const eventuallyTimeout = 10 * time.Second
