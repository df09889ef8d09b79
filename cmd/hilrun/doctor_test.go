package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.bug.st/serial/enumerator"
)

// fakeSys builds a small /sys tree: a PEAK adapter as can0 (USB, peak_usb), a vcan0, an
// Ethernet interface, and the vcan module loaded.
func fakeSys(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, rel string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	usb := "devices/pci0000:00/usb1/1-1"
	write(usb+"/idVendor", "0c72")
	write(usb+"/idProduct", "000c")
	write(usb+"/1-1:1.0/bInterfaceNumber", "00")
	write("bus/usb/drivers/peak_usb/uevent", "")
	link("../../../../../bus/usb/drivers/peak_usb", usb+"/1-1:1.0/driver")
	write("class/net/can0/type", "280")
	write("class/net/can0/operstate", "up")
	link("../../../"+usb+"/1-1:1.0", "class/net/can0/device")
	write("class/net/vcan0/type", "280")
	write("class/net/vcan0/operstate", "unknown")
	write("class/net/eth0/type", "1")
	write("class/net/eth0/operstate", "up")
	write("module/vcan/refcnt", "1")
	return root
}

const fakeIPJSON = `[{"ifindex":1,"ifname":"eth0","linkinfo":{}},
{"ifindex":5,"ifname":"can0","operstate":"UP","linkinfo":{"info_kind":"can","info_data":{"state":"ERROR-ACTIVE","bittiming":{"bitrate":500000,"sample_point":"0.875"}}}},
{"ifindex":6,"ifname":"vcan0","linkinfo":{"info_kind":"vcan"}}]`

type fakeRun struct {
	calls []string
	fail  map[string]error
}

func (f *fakeRun) run(_ context.Context, name string, args ...string) ([]byte, error) {
	cmd := name + " " + strings.Join(args, " ")
	f.calls = append(f.calls, cmd)
	for prefix, err := range f.fail {
		if strings.HasPrefix(cmd, prefix) {
			return []byte("Error: " + err.Error() + "\n"), err
		}
	}
	switch {
	case strings.HasPrefix(cmd, "ip -details -json link show"):
		return []byte(fakeIPJSON), nil
	case strings.Contains(cmd, "import can"):
		return []byte("4.1.0\n"), nil
	}
	return nil, nil
}

func newFakeProbe(t *testing.T, fr *fakeRun) *doctorProbe {
	rigs := t.TempDir()
	os.WriteFile(filepath.Join(rigs, "emulated.yaml"), []byte("name: emulated\nbuses: []\n"), 0o644)
	os.WriteFile(filepath.Join(rigs, "broken.yaml"), []byte("name: [unclosed\n"), 0o644)
	mods := t.TempDir()
	os.MkdirAll(filepath.Join(mods, "6.1.0-test", "kernel", "drivers", "net", "can"), 0o755)
	os.WriteFile(filepath.Join(mods, "6.1.0-test", "kernel", "drivers", "net", "can", "vcan.ko.xz"), nil, 0o644)
	return &doctorProbe{
		sysRoot: fakeSys(t), modRoot: mods, rigsDir: rigs, release: "6.1.0-test",
		euid: 1000, tryVCAN: true, run: fr.run, ifaceName: "hrdoctest",
		lookPath: func(name string) (string, error) {
			if name == "qemu-system-x86_64" {
				return "", errors.New("not found")
			}
			return "/usr/bin/" + name, nil
		},
		serialFn: func() ([]*enumerator.PortDetails, error) {
			return []*enumerator.PortDetails{
				{Name: "/dev/ttyACM0", IsUSB: true, VID: "16D0", PID: "117E", Product: "CANable"},
				{Name: "/dev/ttyUSB0", IsUSB: true, VID: "0403", PID: "6001"},
				{Name: "/dev/ttyACM1", IsUSB: true, VID: "2341", PID: "0043"},
				{Name: "/dev/ttyS0"},
			}, nil
		},
	}
}

func TestDoctorReport(t *testing.T) {
	fr := &fakeRun{}
	rep := newFakeProbe(t, fr).report(context.Background())

	if len(rep.CAN) != 2 {
		t.Fatalf("CAN interfaces: %+v", rep.CAN)
	}
	can0, vcan0 := rep.CAN[0], rep.CAN[1]
	if can0.Name != "can0" || can0.OperState != "up" || can0.Bitrate != 500000 || can0.CANState != "ERROR-ACTIVE" ||
		can0.Driver != "peak_usb" || can0.USB != "0c72:000c" || !strings.Contains(can0.Adapter, "PCAN-USB") {
		t.Errorf("can0: %+v", can0)
	}
	if vcan0.Name != "vcan0" || vcan0.Kind != "vcan" || vcan0.Driver != "" || vcan0.USB != "" {
		t.Errorf("vcan0: %+v", vcan0)
	}

	wantCAN := map[string]string{"/dev/ttyACM0": "yes", "/dev/ttyUSB0": "maybe", "/dev/ttyACM1": "no"}
	if len(rep.Serial) != 3 {
		t.Fatalf("serial: %+v", rep.Serial)
	}
	for _, s := range rep.Serial {
		if wantCAN[s.Name] != s.CAN {
			t.Errorf("%s: CAN %q, want %q", s.Name, s.CAN, wantCAN[s.Name])
		}
	}
	if rep.Serial[0].USB != "16d0:117e" {
		t.Errorf("vid:pid not normalised: %q", rep.Serial[0].USB)
	}

	if !rep.VCAN.Loaded || !rep.VCAN.Available || !strings.HasSuffix(rep.VCAN.Module, "vcan.ko.xz") ||
		!strings.Contains(rep.VCAN.Probe, "needs root") {
		t.Errorf("vcan: %+v", rep.VCAN)
	}
	for _, c := range fr.calls {
		if strings.Contains(c, "link add") {
			t.Errorf("non-root doctor tried %q", c)
		}
	}

	found := map[string]bool{}
	for _, tool := range rep.Tools {
		found[tool.Name] = tool.Found
	}
	if !found["python-can"] || !found["tshark"] || found["qemu"] || !found["can-utils"] {
		t.Errorf("tools: %+v", rep.Tools)
	}

	if len(rep.Rigs.Files) != 2 || rep.Rigs.Files[0].Name != "broken.yaml" || rep.Rigs.Files[0].Parses ||
		!rep.Rigs.Files[1].Parses || rep.Rigs.Note != "" {
		t.Errorf("rigs: %+v", rep.Rigs)
	}
}

func TestDoctorVCANProbeAsRoot(t *testing.T) {
	fr := &fakeRun{}
	p := newFakeProbe(t, fr)
	p.euid = 0
	if v := p.vcan(context.Background()); !strings.HasPrefix(v.Probe, "ok") {
		t.Errorf("probe: %+v", v)
	}
	want := []string{"ip link add dev hrdoctest type vcan", "ip link del dev hrdoctest"}
	if strings.Join(fr.calls, "|") != strings.Join(want, "|") {
		t.Errorf("calls %q", fr.calls)
	}

	fr = &fakeRun{fail: map[string]error{"ip link add": errors.New("Unknown device type.")}}
	p = newFakeProbe(t, fr)
	p.euid, p.sysRoot, p.modRoot = 0, t.TempDir(), t.TempDir()
	v := p.vcan(context.Background())
	if v.Available || !strings.Contains(v.Probe, "Unknown device type") || !strings.Contains(v.Verdict, "emulated bus") {
		t.Errorf("failed probe: %+v", v)
	}
	if len(fr.calls) != 1 {
		t.Errorf("deleted after a failed add: %q", fr.calls)
	}
}

// Without ip the interfaces are still listed, with the bitrate unknown.
func TestDoctorWithoutIP(t *testing.T) {
	fr := &fakeRun{fail: map[string]error{"ip -details": errors.New("exec: \"ip\": not found")}}
	rep := newFakeProbe(t, fr).report(context.Background())
	if len(rep.CAN) != 2 || rep.CAN[0].Bitrate != 0 || !strings.Contains(rep.CANNote, "bitrate unknown") {
		t.Errorf("%+v %q", rep.CAN, rep.CANNote)
	}
}

func TestDoctorCommand(t *testing.T) {
	sys := fakeSys(t)
	emptyRigs := t.TempDir()
	code, out, errs := runCLI(t, "doctor", "--sys", sys, "--rigs", emptyRigs, "--no-probe")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"can0", "vcan0", "PEAK PCAN-USB", "rig checks arrive with the rig format", "Peers"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "eth0") {
		t.Errorf("non-CAN interface listed:\n%s", out)
	}
	code, out, _ = runCLI(t, "doctor", "--json", "--sys", sys, "--rigs", emptyRigs, "--no-probe")
	var rep doctorReport
	if code != exitOK || json.Unmarshal([]byte(out), &rep) != nil || len(rep.CAN) != 2 || rep.Rigs.Files == nil {
		t.Fatalf("json (exit %d): %s", code, out)
	}
}
