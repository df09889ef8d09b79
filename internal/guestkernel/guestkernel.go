// Package guestkernel boots a real Linux kernel — User-Mode Linux as an ordinary process, or the
// Debian amd64 kernel under qemu's software emulation — with the running test binary as its init,
// so tests can use kernel CAN (vcan, slcan, can-isotp) and can-utils on a machine whose own kernel
// has none, without root on that kernel.
//
// The host side (RunTest) fetches the Debian kernel packages with apt-get download into a cache
// under os.UserCacheDir, boots the guest with the kernel command line carrying which test to run,
// and reports the guest's exit status and console. The guest side (Main, called from TestMain)
// notices it is init inside a guest, mounts the pseudo file systems, loads the CAN modules, runs
// the selected test and powers the guest off.
//
// A package with guest tests calls Main from its TestMain, starts each guest-side test with Only,
// and has a host-side test call RunTest with a -test.run pattern naming the guest-side tests;
// `go test -run TestKernel -v ./bus/socketcan/` shows a guest's console. The kernel packages are
// unpacked under CacheDir (HILRUN_KERNEL_CACHE overrides it) and reused without asking apt again
// unless HILRUN_KERNEL_REFRESH=1; the first run needs apt lists (apt-get update is tried, which
// needs root) and about 110 MB of downloads. Nothing here needs root on the host kernel.
//
// Facts this relies on: UML exits 0 whatever init does, so the guest writes its exit code into a
// host directory it mounts read-write over hostfs; qemu exits with 2*code+1 when the guest writes
// code to the isa-debug-exit port (0xf4, written through /dev/port); both also print the code on
// the console. Words of the form NAME=value on a kernel command line reach init as environment
// variables. Under qemu's TCG the Debian kernel's IO-APIC timer check can fail on a loaded host,
// hence no_timer_check.
package guestkernel

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Kind names a guest kernel.
type Kind int

// Guest kernels.
const (
	// UML is Debian's user-mode-linux package: a Linux 6.1 kernel that runs as a host process
	// and mounts the host's / read-only (hostfs), so host binaries such as candump work inside.
	// It has vcan, can-raw, can-bcm, can-gw and slcan, but no can-isotp.
	UML Kind = iota + 1
	// Qemu is the Debian linux-image-amd64 kernel under qemu-system-x86_64 -accel tcg, booted from
	// an initramfs holding only the test binary, its shared libraries and the modules. It has
	// can-isotp.
	Qemu
)

func (k Kind) String() string {
	switch k {
	case UML:
		return "uml"
	case Qemu:
		return "qemu"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Environment variables that reach the guest's init through the kernel command line.
const (
	envKind    = "HILRUN_GUEST"         // uml or qemu: set only inside a guest
	envRun     = "HILRUN_GUEST_RUN"     // -test.run pattern
	envBench   = "HILRUN_GUEST_BENCH"   // -test.bench pattern, run with -test.benchtime=1000x
	envModules = "HILRUN_GUEST_MODULES" // comma-separated module paths, in load order
	envOut     = "HILRUN_GUEST_OUT"     // UML: host directory mounted read-write for the result
	envShare   = "HILRUN_GUEST_SHARE"   // UML: another host directory mounted read-write (Spec.Share)
	envRequire = "HILRUN_REQUIRE_INTEROP"
)

// exitMarker precedes the guest test binary's exit code on the console.
const exitMarker = "hilrun-guest-exit="

// Spec says what to run in a guest.
type Spec struct {
	Kind    Kind
	Test    string        // a -test.run pattern selecting the guest-side test(s)
	Bench   string        // a -test.bench pattern of guest-side benchmarks (1000 iterations each)
	Modules []string      // kernel modules by name ("can", "can-raw", "vcan" …) in load order
	Timeout time.Duration // boot, tests and power-off, not the first download (default 3 min)
	Memory  string        // guest memory (default 256M for UML, 512 for qemu)
	// Env is added to the guest test's environment (through the kernel command line: no
	// spaces in values).
	Env map[string]string
	// Share is a host directory a UML guest mounts read-write at the same path, for inputs
	// and results bigger than an exit code (reports, captures). The rest of the host's / is
	// read-only in the guest.
	Share string
}

// Result is what a guest run produced.
type Result struct {
	ExitCode int           // exit code of the test binary inside the guest
	Console  string        // everything the guest wrote to its console
	Elapsed  time.Duration // from starting the kernel to its exit
}

// cmdlineEnv renders environment words for the kernel command line. Values must not contain
// spaces: the kernel splits its command line on them.
func cmdlineEnv(env map[string]string) ([]string, error) {
	var words []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		v := env[k]
		if strings.ContainsAny(v, " \t\n\"") {
			return nil, fmt.Errorf("guestkernel: %s=%q cannot go on a kernel command line", k, v)
		}
		words = append(words, k+"="+v)
	}
	return words, nil
}
