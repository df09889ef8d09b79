package rig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEveryRigFileLoads(t *testing.T) {
	files, err := filepath.Glob("../../rigs/*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("rig files: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if b, err := r.LoadBudgets(); err != nil || b == nil {
				t.Fatalf("budgets: %v", err)
			}
		})
	}
	sheets, _ := filepath.Glob("../../rigs/budgets/*.yaml")
	if _, err := os.Stat("../latency/testdata/budgets.yaml"); err == nil {
		sheets = append(sheets, "../latency/testdata/budgets.yaml") // the latency report reads the same format
	}
	for _, f := range sheets {
		if _, err := LoadBudgets(f); err != nil {
			t.Error(err)
		}
	}
}

func TestDefaultRigShape(t *testing.T) {
	r, err := Load("../../rigs/emulated.yaml")
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]int{}
	for _, d := range r.Devices {
		roles[d.Role]++
		if d.Role == RolePack || d.Role == RoleModule {
			if d.Flash.Method != FlashEmulated {
				t.Errorf("%s: flash %q", d.Name, d.Flash.Method)
			}
		}
	}
	if roles[RoleModule] != 4 || roles[RolePack] != 1 || roles[RoleApp] != 1 || roles[RoleAuthority] != 1 {
		t.Errorf("roles %v", roles)
	}
	for _, b := range r.Buses {
		if b.Bitrate != 500000 || b.FD || b.Transport.Kind != TransportEmulated {
			t.Errorf("bus %+v", b)
		}
	}
	m, _ := r.Device("module-3")
	if a, ok := m.Address(); !ok || a != 0x03 {
		t.Errorf("module-3 address %#x %v", a, ok)
	}
	p, _ := r.Device("pack")
	if a, _ := p.Address(); a != 0x40 {
		t.Errorf("pack address %#x", a)
	}
	full, err := Load("../../rigs/emulated-full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range full.Devices {
		if d.Role == RoleModule {
			n++
		}
	}
	if n != MaxModules {
		t.Errorf("emulated-full has %d modules", n)
	}
	b, _ := r.LoadBudgets()
	if l3, ok := b.Find("l3-handshake"); !ok || l3.Target.Std().Milliseconds() != 50 {
		t.Errorf("l3 budget %+v", l3)
	}
}

// base is a valid rig that each case below breaks in one way.
const base = `
name: t
buses:
  - {name: can1, bitrate: 500000, transport: {kind: emulated}}
  - {name: can2, bitrate: 500000, transport: {kind: emulated}}
devices:
  - {name: app, role: app, buses: [can1]}
  - {name: pack, role: pack, image: gateway, flash: {method: emulated}, buses: [can1, can2], profile: stm32wb55}
  - {name: m1, role: module, image: firmware, flash: {method: emulated}, module_id: 1, buses: [can2]}
  - {name: m2, role: module, image: firmware, flash: {method: emulated}, module_id: 2, buses: [can2]}
  - {name: auth, role: authority}
power: {kind: emulated}
authority: {kind: emulated}
`

func TestBaseIsValid(t *testing.T) {
	if _, err := Parse([]byte(base)); err != nil {
		t.Fatal(err)
	}
}

func TestValidationErrors(t *testing.T) {
	dev := func(i int, old, new string) func(string) string {
		return func(s string) string {
			lines := strings.Split(s, "\n")
			n := -1
			for j, l := range lines {
				if strings.HasPrefix(l, "  - {name: ") && strings.Contains(s[strings.Index(s, "devices:"):], l) && j > strings.Count(s[:strings.Index(s, "devices:")], "\n") {
					n++
					if n == i {
						if !strings.Contains(l, old) {
							panic(fmt.Sprintf("device %d has no %q", i, old))
						}
						lines[j] = strings.Replace(l, old, new, 1)
					}
				}
			}
			return strings.Join(lines, "\n")
		}
	}
	rep := func(old, new string) func(string) string {
		return func(s string) string {
			if !strings.Contains(s, old) {
				panic("no " + old)
			}
			return strings.Replace(s, old, new, 1)
		}
	}
	add := func(extra string) func(string) string { return func(s string) string { return s + extra } }
	cases := []struct {
		name string
		edit func(string) string
		path string
		msg  string
	}{
		{"unknown top field", add("colour: blue\n"), "colour", "unknown field"},
		{"unknown nested field", dev(1, "flash: {method: emulated}", "flash: {method: emulated, prot: x}"), "devices[1].flash.prot", "unknown field"},
		{"typo suggestion", dev(2, "module_id: 1", "modul_id: 1"), "devices[2].modul_id", `did you mean "module_id"`},
		{"type error", rep("bitrate: 500000, transport: {kind: emulated}}\n  - {name: can2", "bitrate: fast, transport: {kind: emulated}}\n  - {name: can2"), "buses[0].bitrate", "cannot unmarshal"},
		{"stm32 port", dev(1, "flash: {method: emulated}", "flash: {method: stm32-uart}"), "devices[1].flash.port", "required for method stm32-uart"},
		{"stm32 relative port", dev(1, "flash: {method: emulated}", "flash: {method: stm32-uart, port: ttyUSB0}"), "devices[1].flash.port", "absolute"},
		{"stm32 baud", dev(1, "flash: {method: emulated}", "flash: {method: stm32-uart, port: /dev/x, baud: 1234}"), "devices[1].flash.baud", "serial speed"},
		{"stm32 unaligned", dev(1, "flash: {method: emulated}", "flash: {method: stm32-uart, port: /dev/x, address: 0x08000002}"), "devices[1].flash.address", "aligned"},
		{"param of other method", dev(1, "flash: {method: emulated}", "flash: {method: emulated, port: /dev/x}"), "devices[1].flash.port", "not used by method emulated"},
		{"command tool", dev(1, "flash: {method: emulated}", "flash: {method: command}"), "devices[1].flash.tool", "required"},
		{"command template", dev(1, "flash: {method: emulated}", `flash: {method: command, tool: x, args: ["{{.Image"]}`), "devices[1].flash.args[0]", "bad template"},
		{"command timeout", dev(1, "flash: {method: emulated}", "flash: {method: command, tool: x, timeout: soon}"), "devices[1].flash.timeout", "duration"},
		{"can via missing", dev(2, "flash: {method: emulated}", "flash: {method: can}"), "devices[2].flash.via", "required"},
		{"can via unknown", dev(2, "flash: {method: emulated}", "flash: {method: can, via: nope}"), "devices[2].flash.via", "no device"},
		{"can via not pack", dev(2, "flash: {method: emulated}", "flash: {method: can, via: app}"), "devices[2].flash.via", "not a pack"},
		{"can on pack", dev(1, "flash: {method: emulated}", "flash: {method: can, via: pack}"), "devices[1].flash.method", "only modules"},
		{"unknown method", dev(1, "method: emulated", "method: jtag"), "devices[1].flash.method", "unknown method"},
		{"method missing", dev(1, "flash: {method: emulated}, ", ""), "devices[1].flash.method", "required"},
		{"app flashed", dev(0, "role: app,", "role: app, flash: {method: emulated},"), "devices[0].flash.method", "not flashed"},
		{"duplicate name", dev(3, "name: m2", "name: m1"), "devices[3].name", "duplicate device name"},
		{"duplicate module id", dev(3, "module_id: 2", "module_id: 1"), "devices[3].node_id", "already used"},
		{"duplicate node id", dev(0, "role: app,", "role: app, node_id: 0x40,"), "devices[1].node_id", "already used"},
		{"reserved node id", dev(0, "role: app,", "role: app, node_id: 0xFF,"), "devices[0].node_id", "reserved"},
		{"module id zero", dev(2, "module_id: 1", "module_id: 0"), "devices[2].module_id", "outside 0x01–0x1F"},
		{"module id high", dev(2, "module_id: 1", "module_id: 0x20"), "devices[2].module_id", "outside 0x01–0x1F"},
		{"module id on app", dev(0, "role: app,", "role: app, module_id: 3,"), "devices[0].module_id", "only modules"},
		{"pack id range", dev(1, "role: pack,", "role: pack, pack_id: 40,"), "devices[1].pack_id", "out of range"},
		{"wrong image", dev(1, "image: gateway", "image: firmware"), "devices[1].image", "gateway"},
		{"app image", dev(0, "role: app,", "role: app, image: firmware,"), "devices[0].image", "no image"},
		{"unknown role", dev(0, "role: app", "role: tester"), "devices[0].role", "unknown role"},
		{"bad profile", dev(1, "profile: stm32wb55", "profile: z80"), "devices[1].profile", "z80"},
		{"no such bus", dev(2, "buses: [can2]", "buses: [can3]"), "devices[2].buses[0]", `no bus named "can3"`},
		{"no bus", dev(2, ", buses: [can2]", ""), "devices[2].buses", "required"},
		{"authority on bus", dev(4, "role: authority", "role: authority, buses: [can1]"), "devices[4].buses", "never on CAN"},
		{"duplicate unique id", func(s string) string {
			return dev(3, "module_id: 2", "module_id: 2, unique_id: 7")(dev(2, "module_id: 1", "module_id: 1, unique_id: 7")(s))
		}, "devices[3].unique_id", "duplicate"},
		{"cells", dev(2, "module_id: 1", "module_id: 1, cells: 100"), "devices[2].cells", "out of range"},
		{"bad bitrate", rep("bitrate: 500000", "bitrate: 300000"), "buses[0].bitrate", "not a CAN bitrate"},
		{"data bitrate without fd", rep("bitrate: 500000,", "bitrate: 500000, data_bitrate: 2000000,"), "buses[0].data_bitrate", "without fd"},
		{"bad data bitrate", rep("bitrate: 500000,", "bitrate: 500000, fd: true, data_bitrate: 7000000,"), "buses[0].data_bitrate", "not a CAN FD data bitrate"},
		{"data below nominal", rep("bitrate: 500000,", "bitrate: 1000000, fd: true, data_bitrate: 500000,"), "buses[0].data_bitrate", "below"},
		{"duplicate bus", rep("name: can2, bitrate", "name: can1, bitrate"), "buses[1].name", "duplicate bus"},
		{"no transport kind", rep("transport: {kind: emulated}", "transport: {}"), "buses[0].transport.kind", "required"},
		{"unknown transport", rep("kind: emulated}", "kind: usb}"), "buses[0].transport.kind", "unknown transport"},
		{"socketcan interface", rep("kind: emulated}", "kind: socketcan}"), "buses[0].transport.interface", "required"},
		{"socketcan bad name", rep("kind: emulated}", "kind: socketcan, interface: a/b}"), "buses[0].transport.interface", "not a network interface"},
		{"slcan port", rep("kind: emulated}", "kind: slcan}"), "buses[0].transport.port", "required"},
		{"socketcand host", rep("kind: emulated}", "kind: socketcand, channel: vcan0}"), "buses[0].transport.host", "required"},
		{"socketcand bad host", rep("kind: emulated}", "kind: socketcand, host: nohost, channel: vcan0}"), "buses[0].transport.host", "host:port"},
		{"socketcand channel", rep("kind: emulated}", "kind: socketcand, host: 127.0.0.1:29536}"), "buses[0].transport.channel", "required"},
		{"transport field of other kind", rep("kind: emulated}", "kind: emulated, interface: can0}"), "buses[0].transport.interface", "not used by transport emulated"},
		{"emulated bad address", rep("kind: emulated}", "kind: emulated, address: 'ftp:x'}"), "buses[0].transport.address", ""},
		{"serve without address", rep("kind: emulated}", "kind: emulated, serve: true}"), "buses[0].transport.serve", "address"},
		{"power kind", rep("power: {kind: emulated}", "power: {kind: magic}"), "power.kind", "unknown power kind"},
		{"relay port", rep("power: {kind: emulated}", "power: {kind: serial-relay, on: 'a', off: 'b', channels: {pack: 1}}"), "power.port", "required"},
		{"relay channel device", rep("power: {kind: emulated}", "power: {kind: serial-relay, port: /dev/x, on: 'a', off: 'b', channels: {nobody: 1}}"), "power.channels.nobody", "no device"},
		{"relay template", rep("power: {kind: emulated}", "power: {kind: serial-relay, port: /dev/x, on: '{{', off: 'b', channels: {pack: 1}}"), "power.on", "bad template"},
		{"power command", rep("power: {kind: emulated}", "power: {kind: command}"), "power.command", "required"},
		{"authority url", rep("authority: {kind: emulated}", "authority: {kind: url}"), "authority.url", "required"},
		{"authority bad url", rep("authority: {kind: emulated}", "authority: {kind: url, url: 'ftp://x'}"), "authority.url", "http"},
		{"authority kind", rep("authority: {kind: emulated}", "authority: {}"), "authority.kind", "required"},
		{"capture format", add("capture: {formats: [wav]}\n"), "capture.formats[0]", "unknown format"},
		{"capture bus", add("capture: {buses: [can9]}\n"), "capture.buses[0]", "no bus"},
		{"budgets suffix", add("budgets: sheet.txt\n"), "budgets", ".yaml"},
		{"name", rep("name: t\n", "name: 'a b'\n"), "name", "letters"},
		{"too many modules", func(s string) string {
			var b strings.Builder
			for i := 3; i <= 32; i++ {
				fmt.Fprintf(&b, "  - {name: x%d, role: module, image: firmware, flash: {method: emulated}, module_id: %d, buses: [can2]}\n", i, min(i, 31))
			}
			return strings.Replace(s, "  - {name: auth", b.String()+"  - {name: auth", 1)
		}, "devices", "at most 31"},
		{"two authorities", add2Devices("  - {name: auth2, role: authority}\n"), "devices", "at most one"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.edit(base)))
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("want *Error, got %v", err)
			}
			for _, p := range e.Problems {
				if p.Path == c.path && strings.Contains(p.Msg, c.msg) {
					return
				}
			}
			t.Fatalf("no problem at %s containing %q in:\n%v", c.path, c.msg, err)
		})
	}
}

func add2Devices(extra string) func(string) string {
	return func(s string) string {
		return strings.Replace(s, "power:", strings.TrimSuffix(extra, "\n")+"\npower:", 1)
	}
}

func TestProblemsAreCollected(t *testing.T) {
	bad := strings.NewReplacer("bitrate: 500000, transport", "bitrate: 1, transport",
		"flash: {method: emulated}, module_id: 1", "flash: {method: stm32-uart}, module_id: 0",
		"power: {kind: emulated}", "power: {kind: x}",
		"role: app,", "role: app, colour: red,").Replace(base)
	_, err := Parse([]byte(bad))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatal(err)
	}
	for _, p := range []string{"devices[0].colour", "buses[0].bitrate", "buses[1].bitrate", "devices[2].flash.port", "devices[2].module_id", "power.kind"} {
		if !e.Has(p) {
			t.Errorf("missing %s in %v", p, err)
		}
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "[1, 2]", "name: [", "\t\tx", "a: *b", strings.Repeat("x", MaxFileSize+1)} {
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%.20q: %v", in, err)
		}
	}
}

func TestLoadChecksBudgetFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.yaml")
	if err := os.WriteFile(p, []byte(base+"budgets: missing.yaml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	var e *Error
	if !errors.As(err, &e) || !e.Has("budgets") || e.File != p {
		t.Fatalf("%v", err)
	}
}

func TestBudgetErrors(t *testing.T) {
	cases := []struct{ in, path string }{
		{"name: x\nbitrate: 500000\nbudgets: [{op: a, target: 5}]\n", "budgets[0].target"},
		{"name: x\nbitrate: 500000\nbudgets: [{op: a, target: 5ms, per: hour}]\n", "budgets[0].per"},
		{"name: x\nbitrate: 500000\nbudgets: [{op: a, target: 5ms}, {op: a, target: 1ms}]\n", "budgets[1].op"},
		{"name: x\nbitrate: 500000\nbudgets: [{op: a, target: 5ms, max: 1}]\n", "budgets[0].max"},
		{"name: x\nbudgets: [{op: a, target: 5ms}]\n", "bitrate"},
		{"name: x\nbitrate: 500000\nbudgets: [{op: a, target: 5ms, statistic: p42}]\n", "budgets[0].statistic"},
	}
	for _, c := range cases {
		_, err := ParseBudgets([]byte(c.in))
		var e *Error
		if !errors.As(err, &e) || !e.Has(c.path) {
			t.Errorf("%q: want problem at %s, got %v", c.in, c.path, err)
		}
	}
}

type fakeEnv struct {
	ifaces, devices, tools map[string]bool
	pty                    bool
}

var errMissing = errors.New("missing")

func (f fakeEnv) check(m map[string]bool, k string) error {
	if m[k] {
		return nil
	}
	return errMissing
}
func (f fakeEnv) Interface(n string) error { return f.check(f.ifaces, n) }
func (f fakeEnv) Device(p string) error    { return f.check(f.devices, p) }
func (f fakeEnv) Tool(n string) error      { return f.check(f.tools, n) }
func (f fakeEnv) Dial(h string) error      { return errMissing }
func (f fakeEnv) PTY() error {
	if f.pty {
		return nil
	}
	return errMissing
}

func TestCanRunHere(t *testing.T) {
	load := func(name string) *Rig {
		r, err := Load("../../rigs/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if err := load("emulated.yaml").CanRunHere(fakeEnv{}); err != nil {
		t.Errorf("emulated: %v", err)
	}
	err := load("vcan.yaml").CanRunHere(fakeEnv{})
	var ce *CannotRunError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCannotRun) || len(ce.Reasons) != 2 {
		t.Fatalf("vcan: %v", err)
	}
	if ce.Reasons[0].Path != "buses[0].transport.interface" || !strings.Contains(ce.Reasons[0].Need, "vcan0") {
		t.Errorf("reason %v", ce.Reasons[0])
	}
	if err := load("vcan.yaml").CanRunHere(fakeEnv{ifaces: map[string]bool{"vcan0": true, "vcan1": true}}); err != nil {
		t.Errorf("vcan with interfaces: %v", err)
	}
	err = load("lab-pcan.yaml").CanRunHere(fakeEnv{ifaces: map[string]bool{"can0": true}})
	if !errors.As(err, &ce) {
		t.Fatal(err)
	}
	var needs []string
	for _, r := range ce.Reasons {
		needs = append(needs, r.Need)
	}
	want := "CAN interface can1|serial port /dev/ttyUSB0|serial port /dev/ttyUSB1"
	if got := strings.Join(needs, "|"); got != want {
		t.Errorf("lab-pcan needs %s, want %s", got, want)
	}
	err = load("lab-slcan.yaml").CanRunHere(fakeEnv{})
	if !errors.As(err, &ce) || !strings.Contains(ce.Error(), "/dev/ttyACM0") {
		t.Errorf("lab-slcan: %v", err)
	}
}

func TestHostEnv(t *testing.T) {
	var h HostEnv
	if err := h.Interface("lo"); !errors.Is(err, ErrNotCAN) {
		t.Errorf("lo: %v", err)
	}
	if err := h.Interface("nosuchif0"); err == nil {
		t.Error("nosuchif0 exists?")
	}
	if err := h.Tool("sh"); err != nil {
		t.Error(err)
	}
	if err := h.Device("/etc/passwd"); err == nil {
		t.Error("/etc/passwd as a serial port")
	}
	if err := h.PTY(); err != nil {
		t.Logf("no ptys here: %v", err)
	}
}

func TestProblemLines(t *testing.T) {
	_, err := Parse([]byte(strings.Replace(base, "module_id: 2", "module_id: 40", 1)))
	var e *Error
	if !errors.As(err, &e) || len(e.Problems) != 1 {
		t.Fatal(err)
	}
	// base starts with a newline: the fourth device is on line 10.
	if p := e.Problems[0]; p.Path != "devices[3].module_id" || p.Line != 10 {
		t.Fatalf("%s at line %d", p, p.Line)
	}
	if !strings.Contains(e.Error(), "line 10: devices[3].module_id: 0x28 outside 0x01–0x1F") {
		t.Fatal(e.Error())
	}
}
