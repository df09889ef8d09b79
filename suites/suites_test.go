package suites

import (
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bench/rig"
)

// TestSuites runs the suites under `go test` on the rig HILRUN_RIG names (default: the
// emulated rig), with captures under HILRUN_REPORT_DIR (default: a temporary directory);
// HILRUN_PROGRAMS=1 runs the pack and the modules as the built programs.
// Ginkgo's own flags (-ginkgo.label-filter, -ginkgo.junit-report …) apply.
func TestSuites(t *testing.T) {
	path := os.Getenv("HILRUN_RIG")
	if path == "" {
		path = filepath.Join("..", "rigs", "emulated.yaml")
	}
	r, err := rig.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("HILRUN_REPORT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	RegisterFailHandler(Fail)
	suite, reporter := GinkgoConfiguration()
	if !testing.Verbose() {
		reporter.Succinct = true
	}
	Run(t, Config{Rig: r, ReportDir: dir, Programs: os.Getenv("HILRUN_PROGRAMS") == "1"}, suite, reporter)
}
