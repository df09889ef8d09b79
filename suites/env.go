package suites

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bench/rig"
)

// Config is what a run of the suites needs to know.
type Config struct {
	Rig       *rig.Rig
	ReportDir string // captures of every bring-up are written under it
	Images    *framework.Images
	Logger    *slog.Logger
	// Programs runs the pack and the modules as the built programs (framework.Options.Programs).
	Programs bool
}

// config is set by Run before the specs start; Ginkgo's spec tree is process-wide, so the
// configuration of the one run in a process is too.
var config struct {
	sync.Mutex
	c   Config
	seq int
}

func configure(c Config) {
	config.Lock()
	defer config.Unlock()
	if c.Images == nil {
		c.Images = &framework.Images{}
	}
	config.c = c
}

func current() (Config, int) {
	config.Lock()
	defer config.Unlock()
	config.seq++
	return config.c, config.seq
}

// rigUp brings the rig up before the first spec of the enclosing (Ordered) container and
// tears it down after its last; it returns a handle the specs read the system from.
// Options are func(*framework.Options) or inProcessOnly.
func rigUp(name string, opts ...any) func() *framework.System {
	var sys *framework.System
	var mods []func(*framework.Options)
	hooks, wire := false, false
	for _, o := range opts {
		switch o := o.(type) {
		case func(*framework.Options):
			mods = append(mods, o)
		case inProcessMarker:
			hooks = true
		case emulatedBusMarker:
			wire = true
		default:
			panic(fmt.Sprintf("rigUp: option of type %T", o))
		}
	}
	BeforeAll(func(ctx SpecContext) {
		c, n := current()
		if hooks && c.Programs {
			Skip("needs the devices' in-process hooks (counters, fault injection, device clocks); on this run the pack and the modules are separate programs")
		}
		if hooks && c.Rig != nil && framework.HasHardware(c.Rig) {
			Skip("needs the devices' in-process hooks (counters, fault injection, device clocks); rig " + c.Rig.Name + " has real devices")
		}
		if wire && c.Rig != nil {
			for _, b := range c.Rig.Buses {
				if !framework.InProcessBus(b) {
					Skip("injects faults on the bus itself; bus " + b.Name + " of rig " + c.Rig.Name + " is reached through " + b.Transport.Kind + ", not in-process")
				}
			}
		}
		Expect(c.Rig).NotTo(BeNil(), "no rig configured: run the suites through `hilrun run` or `go test ./suites/`")
		o := framework.Options{Rig: c.Rig, Name: fmt.Sprintf("%02d-%s", n, name),
			ReportDir: c.ReportDir, Images: c.Images, Logger: c.Logger}
		for _, f := range mods {
			f(&o)
		}
		o.Programs = c.Programs
		s, err := framework.Up(ctx, o)
		if err != nil {
			Fail(fmt.Sprintf("bring-up of rig %s: %v", c.Rig.Name, err))
		}
		sys = s
		DeferCleanup(func() {
			Expect(sys.Err()).NotTo(HaveOccurred(), "a device stopped while the rig was up")
			Expect(sys.Down()).To(Succeed(), "teardown")
			for _, p := range sys.Captures() {
				AddReportEntry("capture", p, ReportEntryVisibilityFailureOrVerbose)
			}
			for b, n := range sys.CapturesTruncated() {
				AddReportEntry("capture truncated", fmt.Sprintf("bus %s: %d frames past the capture limit were not written", b, n))
			}
			// Ginkgo keeps every container's closures for the whole run: without this, each
			// system that has been up (its probes' frames above all) would stay in memory.
			sys = nil
		})
	}, NodeTimeout(5*time.Minute))
	return func() *framework.System { return sys }
}

// wait bounds a spec step that waits on the bus.
func wait(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 5*time.Second)
}

// packOff leaves the pack powered off: the bench itself drives the module bus.
func packOff(o *framework.Options) { o.Off = append(o.Off, "pack") }

type inProcessMarker struct{}

type emulatedBusMarker struct{}

// emulatedBuses marks a container that injects faults on the buses themselves: it is
// skipped on rigs whose buses are not in-process (vcan, real adapters, socketcand).
var emulatedBuses emulatedBusMarker

// inProcessOnly marks a container whose specs need the devices' in-process hooks: it is
// skipped, before any bring-up, when the devices run as separate programs.
var inProcessOnly inProcessMarker

// functional runs the devices without modelled crypto cost (behaviour, not latency).
func functional(o *framework.Options) { o.ZeroCost = true }
