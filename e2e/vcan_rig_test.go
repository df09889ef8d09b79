package e2e

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bus/socketcan"
	"github.com/modbatt/hilrun/capture"
	"github.com/modbatt/hilrun/internal/guestkernel"
)

func TestMain(m *testing.M) { os.Exit(guestkernel.Main(m)) }

// vcanFilter is the label filter of the vcan rig's run in User-Mode Linux on every commit:
// bring-up through the kernel's vcan (every device on its own SocketCAN socket, announced,
// registered, its boot report matched at the app) and qualification of the flashed images.
// User-Mode Linux handles every system call of the guest through the host, so on a host busy
// with the rest of the tests a binding flow there can miss the protocol's 1 s ISO-TP and 2 s
// ACK deadlines; the L5 flows on vcan run natively in CI's vcan job, and here with
// HILRUN_VCAN_FILTER='!perf&&!soak&&!update' and HILRUN_VCAN_TIMEOUT=40m on a quiet machine.
// No spaces: the filter travels on a kernel command line.
const vcanFilter = "(smoke||qualification)&&!update"

// TestVCANRigUML runs `hilrun run --rig rigs/vcan.yaml` for real: inside User-Mode Linux,
// whose kernel has vcan, with vcan0 and vcan1 made by the guest and the same emulated devices
// attached to them through SocketCAN. The host's own kernel needs no CAN. The hilrun binary
// and the images are built on the host (compiling inside the guest is slow); the report
// comes back through a shared directory.
func TestVCANRigUML(t *testing.T) {
	if testing.Short() {
		t.Skip("boots User-Mode Linux and runs the suites on the vcan rig")
	}
	root, err := framework.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	share := t.TempDir()
	if d := os.Getenv("HILRUN_VCAN_KEEP"); d != "" {
		share = d // keep the report, the captures and run.log for a look afterwards
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(share, "hilrun"), "./cmd/hilrun")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/hilrun: %v\n%s", err, out)
	}
	im := &framework.Images{OutDir: filepath.Join(share, "images"), ModuleDir: root}
	for _, n := range []string{"firmware", "gateway"} {
		if _, err := im.Get(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	filter := vcanFilter
	if f := os.Getenv("HILRUN_VCAN_FILTER"); f != "" {
		filter = f // e.g. smoke, to try the harness quickly
	}
	timeout := 10 * time.Minute
	if d, err := time.ParseDuration(os.Getenv("HILRUN_VCAN_TIMEOUT")); err == nil {
		timeout = d
	}
	res := guestkernel.RunTest(t, guestkernel.Spec{
		Kind:    guestkernel.UML,
		Test:    "^TestGuestVCANRig$",
		Modules: []string{"can", "can-raw", "can-dev", "vcan"},
		Timeout: timeout,
		Memory:  "1G",
		Share:   share,
		Env: map[string]string{
			"HILRUN_VCAN_RIG":     filepath.Join(root, "rigs", "vcan.yaml"),
			"HILRUN_VCAN_FILTER":  filter,
			"HILRUN_VCAN_GODEBUG": os.Getenv("HILRUN_VCAN_GODEBUG"),
		},
	})
	report := filepath.Join(share, "report")
	if sum, err := os.ReadFile(filepath.Join(report, "summary.txt")); err == nil {
		t.Logf("hilrun run on the vcan rig inside %s (%v from boot to power-off):\n%s", guestkernel.UML, res.Elapsed.Round(time.Second), sum)
	}

	// Every spec the filter selects ran, and none failed.
	var suites junitSuites
	b, err := os.ReadFile(filepath.Join(report, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, &suites); err != nil {
		t.Fatal(err)
	}
	passed := 0
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			switch {
			case c.Failure != nil || c.Error != nil:
				t.Errorf("failed on the vcan rig: %s", c.Name)
			case c.Skipped == nil:
				passed++
			}
		}
	}
	if passed < 8 {
		t.Errorf("%d specs passed on the vcan rig", passed)
	}

	// The captures were taken on the kernel interfaces and read back.
	caps, _ := filepath.Glob(filepath.Join(report, "captures", "*.log"))
	if len(caps) == 0 {
		t.Fatal("no captures")
	}
	frames := 0
	for _, p := range caps {
		r, err := capture.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := r.Next(); err != nil {
				break
			}
			frames++
		}
		r.Close()
	}
	t.Logf("%d candump captures, %d frames", len(caps), frames)
	if frames < 200 {
		t.Errorf("only %d frames captured on vcan0/vcan1", frames)
	}
}

type junitSuites struct {
	Suites []struct {
		Cases []struct {
			Name    string    `xml:"name,attr"`
			Failure *struct{} `xml:"failure"`
			Error   *struct{} `xml:"error"`
			Skipped *struct{} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// TestGuestVCANRig is the guest side: it makes the rig's vcan interfaces and runs hilrun.
func TestGuestVCANRig(t *testing.T) {
	guestkernel.Only(t, guestkernel.UML)
	share := os.Getenv("HILRUN_GUEST_SHARE")
	for _, name := range []string{"vcan0", "vcan1"} {
		if err := socketcan.CreateVCAN(name, false); err != nil {
			t.Fatalf("vcan %s: %v", name, err)
		}
	}
	var out bytes.Buffer
	cmd := exec.Command(filepath.Join(share, "hilrun"), "run", "--rig", os.Getenv("HILRUN_VCAN_RIG"),
		"--images", filepath.Join(share, "images"), "--report-dir", filepath.Join(share, "report"),
		"--label-filter", os.Getenv("HILRUN_VCAN_FILTER"))
	cmd.Dir = share
	if g := os.Getenv("HILRUN_VCAN_GODEBUG"); g != "" {
		cmd.Env = append(os.Environ(), "GODEBUG="+g)
	}
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	os.WriteFile(filepath.Join(share, "run.log"), out.Bytes(), 0o644)
	if err != nil {
		lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
		t.Fatalf("hilrun run on the vcan rig: %v\n%s", err, strings.Join(lines[max(0, len(lines)-60):], "\n"))
	}
}
