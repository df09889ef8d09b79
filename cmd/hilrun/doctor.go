package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"go.bug.st/serial/enumerator"
	"golang.org/x/sys/unix"
	"gopkg.in/yaml.v3"

	"github.com/modbatt/hilrun/internal/peers"
)

// arphrdCAN is the interface type the kernel reports in /sys/class/net/*/type for CAN netdevs.
const arphrdCAN = "280"

// doctorProbe holds everything doctor reads from the machine, so tests can hand it a fake
// /sys tree, fake commands and fake serial ports.
type doctorProbe struct {
	sysRoot   string // normally /sys
	modRoot   string // normally /lib/modules
	rigsDir   string
	release   string // kernel release (uname -r)
	euid      int
	tryVCAN   bool // may try to create and delete a vcan interface (root only)
	run       func(ctx context.Context, name string, args ...string) ([]byte, error)
	lookPath  func(string) (string, error)
	serialFn  func() ([]*enumerator.PortDetails, error)
	ifaceName string // name for the vcan probe
}

type doctorReport struct {
	CAN      []canIface   `json:"can_interfaces"`
	CANNote  string       `json:"can_note,omitempty"`
	Serial   []serialPort `json:"serial_ports"`
	SerialNo string       `json:"serial_note,omitempty"`
	VCAN     vcanReport   `json:"vcan"`
	Tools    []toolReport `json:"tools"`
	Rigs     rigsReport   `json:"rigs"`
}

type canIface struct {
	Name        string `json:"name"`
	OperState   string `json:"operstate"`
	Kind        string `json:"kind,omitempty"`         // can, vcan, vxcan … (from ip)
	CANState    string `json:"can_state,omitempty"`    // ERROR-ACTIVE, BUS-OFF … (from ip)
	Bitrate     int    `json:"bitrate,omitempty"`      // nominal bit/s (from ip)
	DataBitrate int    `json:"data_bitrate,omitempty"` // CAN FD data phase
	Driver      string `json:"driver,omitempty"`
	USB         string `json:"usb,omitempty"` // vid:pid
	Adapter     string `json:"adapter,omitempty"`
}

type serialPort struct {
	Name    string `json:"name"`
	USB     string `json:"usb,omitempty"`
	Serial  string `json:"serial_number,omitempty"`
	Product string `json:"product,omitempty"`
	Adapter string `json:"adapter,omitempty"`
	CAN     string `json:"can"` // yes, maybe, no
}

type vcanReport struct {
	Loaded    bool   `json:"loaded"`           // /sys/module/vcan exists
	Module    string `json:"module,omitempty"` // path of vcan.ko, or "builtin"
	Probe     string `json:"probe"`            // result of the create-and-delete try
	Available bool   `json:"available"`
	Verdict   string `json:"verdict"`
}

type toolReport struct {
	Name    string `json:"name"`
	Found   bool   `json:"found"`
	Path    string `json:"path,omitempty"`
	Version string `json:"version,omitempty"`
	Install string `json:"install"`
}

type rigsReport struct {
	Dir   string    `json:"dir"`
	Files []rigFile `json:"files"`
	Note  string    `json:"note,omitempty"`
}

type rigFile struct {
	Name   string `json:"name"`
	Parses bool   `json:"parses"`
	Error  string `json:"error,omitempty"`
}

// usbAdapter is a USB device a bench might use as a CAN adapter.
type usbAdapter struct {
	vid, pid, name string
	can            string // yes: a CAN adapter; maybe: a USB-serial bridge that may carry slcan
}

var knownAdapters = []usbAdapter{
	{"1d50", "606f", "CANable/candleLight (gs_usb, SocketCAN)", "yes"},
	{"16d0", "117e", "CANable (slcan firmware)", "yes"},
	{"0c72", "000c", "PEAK PCAN-USB (peak_usb, SocketCAN)", "yes"},
	{"0c72", "0012", "PEAK PCAN-USB FD (peak_usb, SocketCAN)", "yes"},
	{"0403", "ffa8", "Lawicel CANUSB (slcan)", "yes"},
	{"04d8", "000a", "USBtin (slcan)", "yes"},
	{"0403", "6001", "FTDI FT232R USB-serial", "maybe"},
	{"0403", "6010", "FTDI FT2232 USB-serial", "maybe"},
	{"0403", "6014", "FTDI FT232H USB-serial", "maybe"},
	{"0403", "6015", "FTDI FT-X USB-serial", "maybe"},
	{"10c4", "ea60", "Silicon Labs CP210x USB-serial", "maybe"},
	{"1a86", "7523", "WCH CH340 USB-serial", "maybe"},
	{"067b", "2303", "Prolific PL2303 USB-serial", "maybe"},
	{"0483", "5740", "STM32 virtual COM port", "maybe"},
}

func lookupAdapter(vid, pid string) (usbAdapter, bool) {
	vid, pid = strings.ToLower(vid), strings.ToLower(pid)
	for _, a := range knownAdapters {
		if a.vid == vid && a.pid == pid {
			return a, true
		}
	}
	return usbAdapter{}, false
}

func runDoctor(ctx context.Context, env *cli, args []string) int {
	fs := newFlags(env, "doctor", "doctor [--json] [--sys DIR] [--rigs DIR] [--no-probe]")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	sysRoot := fs.String("sys", "/sys", "sysfs root to read interfaces and modules from")
	modRoot := fs.String("modules", "/lib/modules", "kernel module tree")
	rigs := fs.String("rigs", "rigs", "directory holding rig files (*.yaml)")
	noProbe := fs.Bool("no-probe", false, "never try to create a vcan interface, even as root")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	p := &doctorProbe{
		sysRoot: *sysRoot, modRoot: *modRoot, rigsDir: *rigs,
		release: kernelRelease(), euid: os.Geteuid(), tryVCAN: !*noProbe,
		run: func(ctx context.Context, name string, args ...string) ([]byte, error) {
			return exec.CommandContext(ctx, name, args...).CombinedOutput()
		},
		lookPath:  exec.LookPath,
		serialFn:  func() ([]*enumerator.PortDetails, error) { return enumerator.GetDetailedPortsList() },
		ifaceName: fmt.Sprintf("hrdoc%x", os.Getpid()&0xFFFFF),
	}
	rep := p.report(ctx)
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(env.stderr, "hilrun doctor:", err)
			return exitFailed
		}
		return exitOK
	}
	rep.print(env.stdout)
	return exitOK
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func (p *doctorProbe) report(ctx context.Context) doctorReport {
	var r doctorReport
	r.CAN, r.CANNote = p.canInterfaces(ctx)
	r.Serial, r.SerialNo = p.serialPorts()
	r.VCAN = p.vcan(ctx)
	r.Tools = p.tools(ctx)
	r.Rigs = p.rigs()
	// Empty lists print as [] rather than null, so scripts can iterate without a check.
	if r.CAN == nil {
		r.CAN = []canIface{}
	}
	if r.Serial == nil {
		r.Serial = []serialPort{}
	}
	if r.Rigs.Files == nil {
		r.Rigs.Files = []rigFile{}
	}
	return r
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// ipLink is the part of `ip -details -json link show` doctor needs.
type ipLink struct {
	IfName   string `json:"ifname"`
	LinkInfo struct {
		InfoKind string `json:"info_kind"`
		InfoData struct {
			State     string `json:"state"`
			BitTiming struct {
				Bitrate int `json:"bitrate"`
			} `json:"bittiming"`
			DataBitTiming struct {
				Bitrate int `json:"bitrate"`
			} `json:"data_bittiming"`
		} `json:"info_data"`
	} `json:"linkinfo"`
}

func (p *doctorProbe) canInterfaces(ctx context.Context) ([]canIface, string) {
	netDir := filepath.Join(p.sysRoot, "class", "net")
	entries, err := os.ReadDir(netDir)
	if err != nil {
		return nil, fmt.Sprintf("cannot read %s: %v", netDir, err)
	}
	var out []canIface
	for _, e := range entries {
		dir := filepath.Join(netDir, e.Name())
		if readTrim(filepath.Join(dir, "type")) != arphrdCAN {
			continue
		}
		c := canIface{Name: e.Name(), OperState: readTrim(filepath.Join(dir, "operstate"))}
		if dev, err := filepath.EvalSymlinks(filepath.Join(dir, "device")); err == nil {
			if drv, err := filepath.EvalSymlinks(filepath.Join(dev, "driver")); err == nil {
				c.Driver = filepath.Base(drv)
			}
			// A USB netdev's device is the USB interface; the device above it has the IDs.
			for _, d := range []string{dev, filepath.Dir(dev)} {
				vid, pid := readTrim(filepath.Join(d, "idVendor")), readTrim(filepath.Join(d, "idProduct"))
				if vid != "" && pid != "" {
					c.USB = vid + ":" + pid
					if a, ok := lookupAdapter(vid, pid); ok {
						c.Adapter = a.name
					}
					break
				}
			}
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return out, "no CAN network interfaces"
	}
	raw, err := p.run(ctx, "ip", "-details", "-json", "link", "show")
	if err != nil {
		return out, "bitrate unknown: ip -details -json link show failed: " + firstLine(raw, err)
	}
	var links []ipLink
	if err := json.Unmarshal(raw, &links); err != nil {
		return out, "bitrate unknown: cannot parse ip's JSON: " + err.Error()
	}
	for i := range out {
		for _, l := range links {
			if l.IfName == out[i].Name {
				info := l.LinkInfo.InfoData
				out[i].Kind = l.LinkInfo.InfoKind
				out[i].CANState = info.State
				out[i].Bitrate = info.BitTiming.Bitrate
				out[i].DataBitrate = info.DataBitTiming.Bitrate
			}
		}
	}
	return out, ""
}

func firstLine(out []byte, err error) string {
	s := strings.TrimSpace(string(out))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return err.Error()
	}
	return s
}

func (p *doctorProbe) serialPorts() ([]serialPort, string) {
	ports, err := p.serialFn()
	if err != nil {
		return nil, "cannot list serial ports: " + err.Error()
	}
	var out []serialPort
	others := 0
	for _, d := range ports {
		if d == nil || d.Name == "" {
			continue
		}
		if !d.IsUSB {
			others++ // on-board UARTs (ttyS*) are never CAN adapters here
			continue
		}
		s := serialPort{Name: d.Name, Serial: d.SerialNumber, Product: d.Product, CAN: "no"}
		if d.VID != "" {
			s.USB = strings.ToLower(d.VID + ":" + d.PID)
			if a, ok := lookupAdapter(d.VID, d.PID); ok {
				s.Adapter, s.CAN = a.name, a.can
			}
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	note := ""
	if others > 0 {
		note = fmt.Sprintf("%d non-USB serial ports not listed", others)
	}
	if len(out) == 0 && note == "" {
		note = "no serial ports"
	}
	return out, note
}

func (p *doctorProbe) vcan(ctx context.Context) vcanReport {
	var v vcanReport
	if _, err := os.Stat(filepath.Join(p.sysRoot, "module", "vcan")); err == nil {
		v.Loaded = true
	}
	if p.release != "" {
		dir := filepath.Join(p.modRoot, p.release)
		for _, ext := range []string{"", ".xz", ".zst", ".gz"} {
			ko := filepath.Join(dir, "kernel", "drivers", "net", "can", "vcan.ko"+ext)
			if _, err := os.Stat(ko); err == nil {
				v.Module = ko
				break
			}
		}
		if b, err := os.ReadFile(filepath.Join(dir, "modules.builtin")); err == nil &&
			strings.Contains(string(b), "drivers/net/can/vcan.ko") {
			v.Module = "builtin"
		}
	}
	switch {
	case !p.tryVCAN:
		v.Probe = "not tried (--no-probe)"
	case p.euid != 0:
		v.Probe = "not tried (needs root)"
	default:
		v.Probe = p.probeVCAN(ctx)
	}
	probed := strings.HasPrefix(v.Probe, "ok")
	v.Available = v.Loaded || v.Module == "builtin" || probed
	switch {
	case probed:
		v.Verdict = "vcan interfaces can be created here"
	case v.Loaded || v.Module == "builtin":
		v.Verdict = "vcan is in the kernel; creating an interface needs CAP_NET_ADMIN (ip link add dev vcan0 type vcan)"
	case v.Module != "":
		v.Verdict = "vcan module present but not loaded (modprobe vcan, as root)"
	default:
		v.Verdict = "no vcan in this kernel: use the emulated bus, or the UML/qemu peers for kernel CAN tests"
	}
	return v
}

// probeVCAN creates and deletes a uniquely named vcan interface; it never leaves one behind.
func (p *doctorProbe) probeVCAN(ctx context.Context) string {
	out, err := p.run(ctx, "ip", "link", "add", "dev", p.ifaceName, "type", "vcan")
	if err != nil {
		return "failed: " + firstLine(out, err)
	}
	if out, err := p.run(ctx, "ip", "link", "del", "dev", p.ifaceName); err != nil {
		return fmt.Sprintf("ok, but deleting %s failed: %s", p.ifaceName, firstLine(out, err))
	}
	return "ok (created and deleted " + p.ifaceName + ")"
}

func (p *doctorProbe) tools(ctx context.Context) []toolReport {
	var out []toolReport
	py := toolReport{Name: "python-can", Install: "apt-get install python3-can"}
	if v, err := p.run(ctx, peers.Python, "-c", "import can; print(can.__version__)"); err == nil {
		py.Found, py.Path, py.Version = true, peers.Python, strings.TrimSpace(string(v))
	}
	out = append(out, py)
	for _, t := range []struct{ name, bin, pkg string }{
		{"tshark", "tshark", "tshark"},
		{"qemu", "qemu-system-x86_64", "qemu-system-x86"},
		{"can-utils", "candump", "can-utils"},
		{"slcand", "slcand", "can-utils"},
		{"iproute2", "ip", "iproute2"},
	} {
		r := toolReport{Name: t.name, Install: "apt-get install " + t.pkg}
		if path, err := p.lookPath(t.bin); err == nil {
			r.Found, r.Path = true, path
		}
		out = append(out, r)
	}
	return out
}

func (p *doctorProbe) rigs() rigsReport {
	r := rigsReport{Dir: p.rigsDir}
	files, _ := filepath.Glob(filepath.Join(p.rigsDir, "*.yaml"))
	sort.Strings(files)
	parsed := 0
	for _, f := range files {
		rf := rigFile{Name: filepath.Base(f)}
		b, err := os.ReadFile(f)
		if err == nil {
			var doc map[string]any
			err = yaml.Unmarshal(b, &doc)
			if err == nil && doc == nil {
				err = errors.New("empty document")
			}
		}
		if err != nil {
			rf.Error = err.Error()
		} else {
			rf.Parses = true
			parsed++
		}
		r.Files = append(r.Files, rf)
	}
	if parsed == 0 {
		r.Note = "rig checks arrive with the rig format"
	}
	return r
}

func (r *doctorReport) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintln(tw, "SocketCAN interfaces")
	if len(r.CAN) > 0 {
		fmt.Fprintln(tw, "  NAME\tSTATE\tKIND\tCAN STATE\tBITRATE\tDRIVER\tUSB\tADAPTER")
		for _, c := range r.CAN {
			rate := "?"
			if c.Bitrate > 0 {
				rate = strconv.Itoa(c.Bitrate)
				if c.DataBitrate > 0 {
					rate += "/" + strconv.Itoa(c.DataBitrate)
				}
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, dash(c.OperState), dash(c.Kind),
				dash(c.CANState), rate, dash(c.Driver), dash(c.USB), dash(c.Adapter))
		}
	}
	note(tw, r.CANNote)
	fmt.Fprintln(tw, "\nSerial ports (USB)")
	if len(r.Serial) > 0 {
		fmt.Fprintln(tw, "  PORT\tUSB\tCAN\tADAPTER\tPRODUCT")
		for _, s := range r.Serial {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", s.Name, dash(s.USB), s.CAN, dash(s.Adapter), dash(s.Product))
		}
	}
	note(tw, r.SerialNo)
	fmt.Fprintln(tw, "\nvcan")
	fmt.Fprintf(tw, "  loaded\t%v\n", yesNo(r.VCAN.Loaded))
	fmt.Fprintf(tw, "  module\t%s\n", dash(r.VCAN.Module))
	fmt.Fprintf(tw, "  probe\t%s\n", r.VCAN.Probe)
	fmt.Fprintf(tw, "  verdict\t%s\n", r.VCAN.Verdict)
	fmt.Fprintln(tw, "\nPeers")
	for _, t := range r.Tools {
		if t.Found {
			fmt.Fprintf(tw, "  %s\tyes\t%s\t%s\n", t.Name, t.Path, t.Version)
		} else {
			fmt.Fprintf(tw, "  %s\tno\t(%s)\t\n", t.Name, t.Install)
		}
	}
	fmt.Fprintf(tw, "\nRigs (%s/*.yaml)\n", r.Rigs.Dir)
	for _, f := range r.Rigs.Files {
		if f.Parses {
			fmt.Fprintf(tw, "  %s\tparses\n", f.Name)
		} else {
			fmt.Fprintf(tw, "  %s\tdoes not parse: %s\n", f.Name, f.Error)
		}
	}
	if len(r.Rigs.Files) == 0 {
		fmt.Fprintln(tw, "  none")
	}
	note(tw, r.Rigs.Note)
}

func note(w io.Writer, s string) {
	if s != "" {
		fmt.Fprintln(w, "  "+s)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
