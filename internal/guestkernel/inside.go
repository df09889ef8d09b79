package guestkernel

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Inside reports whether this process is the init of a guest kernel started by RunTest.
func Inside() bool { return os.Getpid() == 1 && os.Getenv(envKind) != "" }

// InsideKind returns the kind of guest this process runs in, or 0 on the host.
func InsideKind() Kind {
	if !Inside() {
		return 0
	}
	switch os.Getenv(envKind) {
	case UML.String():
		return UML
	case Qemu.String():
		return Qemu
	}
	return 0
}

// Main runs the package's tests. On the host it is m.Run(); as init of a guest it prepares the
// guest, runs the test RunTest selected, hands the exit code to the host and powers off.
// Call it from TestMain: func TestMain(m *testing.M) { os.Exit(guestkernel.Main(m)) }.
func Main(m *testing.M) int {
	if !Inside() {
		return m.Run()
	}
	code := 1
	if err := prepare(); err != nil {
		fmt.Fprintf(os.Stderr, "hilrun-guest: %v\n", err)
	} else {
		if up, err := os.ReadFile("/proc/uptime"); err == nil {
			fmt.Printf("hilrun-guest: tests start %s s after the kernel did\n", strings.Fields(string(up))[0])
		}
		flag.Parse()
		_ = flag.Set("test.run", os.Getenv(envRun))
		_ = flag.Set("test.v", "true")
		_ = flag.Set("test.timeout", "0") // the host bounds the whole guest (Spec.Timeout)
		if b := os.Getenv(envBench); b != "" {
			_ = flag.Set("test.bench", b)
			_ = flag.Set("test.benchtime", "1000x")
		}
		code = m.Run()
	}
	reportExit(code)
	unix.Sync()
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	return code // not reached: the guest is gone
}

// Only skips t unless it runs inside a guest kernel; guest-side tests start with it.
func Only(t testing.TB, k Kind) {
	t.Helper()
	if InsideKind() != k {
		t.Skipf("runs only as init of a %s guest kernel (the matching host test boots it)", k)
	}
}

func prepare() error {
	os.Setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	mounts := []struct{ src, dir, fstype, data string }{
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"devtmpfs", "/dev", "devtmpfs", ""},
		{"devpts", "/dev/pts", "devpts", "ptmxmode=0666"},
		{"run", "/run", "tmpfs", "mode=0755"},
	}
	for _, mt := range mounts {
		_ = os.MkdirAll(mt.dir, 0o755) // fails on a read-only root, where the directory exists
		err := unix.Mount(mt.src, mt.dir, mt.fstype, 0, mt.data)
		if err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s on %s: %w", mt.fstype, mt.dir, err)
		}
	}
	// /dev/ptmx must be the devpts one so that pty slaves appear under /dev/pts.
	_ = os.Remove("/dev/ptmx")
	_ = os.Symlink("pts/ptmx", "/dev/ptmx")
	tmp := "/run/tmp"
	if err := os.MkdirAll(tmp, 0o1777); err != nil {
		return err
	}
	os.Setenv("TMPDIR", tmp)
	os.Setenv("HOME", tmp)
	for _, k := range []string{envOut, envShare} {
		if dir := os.Getenv(k); dir != "" {
			if err := unix.Mount("none", dir, "hostfs", 0, dir); err != nil {
				return fmt.Errorf("mount host %s: %w", dir, err)
			}
		}
	}
	if err := setLoopbackUp(); err != nil {
		return err
	}
	for _, m := range strings.Split(os.Getenv(envModules), ",") {
		if m == "" {
			continue
		}
		if err := loadModule(m); err != nil {
			return err
		}
	}
	return nil
}

func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("module: %w", err)
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("load module %s: %w", filepath.Base(path), err)
	}
	return nil
}

// setLoopbackUp brings lo up (an ioctl keeps this free of any netlink code).
func setLoopbackUp() error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil // no IPv4 in this kernel: nothing needs lo
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	return nil
}

// reportExit hands the exit code to the host: a file in the shared directory (UML), the
// isa-debug-exit port (qemu exits at once with 2*code+1), and a console line as a fallback.
func reportExit(code int) {
	fmt.Printf("\n%s%d\n", exitMarker, code)
	if out := os.Getenv(envOut); out != "" {
		_ = os.WriteFile(filepath.Join(out, "exit"), []byte(strconv.Itoa(code)+"\n"), 0o644)
	}
	if InsideKind() == Qemu {
		if port, err := os.OpenFile("/dev/port", os.O_WRONLY, 0); err == nil {
			_, _ = port.WriteAt([]byte{byte(code)}, 0xf4)
			port.Close()
		}
	}
}
