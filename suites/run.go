package suites

import (
	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"
)

// Run runs every registered spec once, in this process, with the given configuration; it
// reports whether they all passed. A process can call it once (Ginkgo's rule).
func Run(t GinkgoTestingT, c Config, suite types.SuiteConfig, reporter types.ReporterConfig) bool {
	configure(c)
	gomega.RegisterFailHandler(Fail)
	return RunSpecs(t, "hilrun suites on rig "+c.Rig.Name, suite, reporter)
}
