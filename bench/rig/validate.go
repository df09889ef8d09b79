package rig

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/bus/slcan"
	"github.com/modbatt/hilrun/mcu"
)

// MaxModules is the number of module addresses, 0x01–0x1F.
const MaxModules = 31

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// problems collects validation findings.
type problems []Problem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks the rig and returns every problem found (nil when valid). It reads no files:
// Load checks the budget sheet the rig refers to.
func (r *Rig) Validate() []Problem {
	var ps problems
	if r.Name == "" {
		ps.add("name", "required")
	} else if !nameRE.MatchString(r.Name) {
		ps.add("name", "%q: letters, digits, '.', '_' and '-' only", r.Name)
	}
	r.validateBuses(&ps)
	r.validateDevices(&ps)
	r.validatePower(&ps)
	r.validateAuthority(&ps)
	if r.Budgets != "" && !strings.HasSuffix(r.Budgets, ".yaml") && !strings.HasSuffix(r.Budgets, ".yml") {
		ps.add("budgets", "%q is not a .yaml budget sheet", r.Budgets)
	}
	for i, f := range r.Capture.Formats {
		if f != CaptureCandump && f != CapturePcap {
			ps.add(fmt.Sprintf("capture.formats[%d]", i), "unknown format %q (candump, pcap)", f)
		}
	}
	for i, b := range r.Capture.Buses {
		if _, ok := r.Bus(b); !ok {
			ps.add(fmt.Sprintf("capture.buses[%d]", i), "no bus named %q", b)
		}
	}
	return ps
}

func (r *Rig) validateBuses(ps *problems) {
	if len(r.Buses) == 0 {
		ps.add("buses", "at least one bus is required")
	}
	seen := map[string]int{}
	for i := range r.Buses {
		b := &r.Buses[i]
		p := fmt.Sprintf("buses[%d]", i)
		switch {
		case b.Name == "":
			ps.add(p+".name", "required")
		case !nameRE.MatchString(b.Name):
			ps.add(p+".name", "%q: letters, digits, '.', '_' and '-' only", b.Name)
		default:
			if j, dup := seen[b.Name]; dup {
				ps.add(p+".name", "duplicate bus name %q (also buses[%d])", b.Name, j)
			}
			seen[b.Name] = i
		}
		if _, ok := slcan.BitrateCode(b.Bitrate); !ok {
			ps.add(p+".bitrate", "%d is not a CAN bitrate (%s)", b.Bitrate, rates(slcan.Bitrates[:]))
		}
		if b.DataBitrate != 0 {
			if !b.FD {
				ps.add(p+".data_bitrate", "set without fd: true")
			}
			if _, ok := slcan.DataBitrateCode(b.DataBitrate); !ok {
				ps.add(p+".data_bitrate", "%d is not a CAN FD data bitrate (%s)", b.DataBitrate, rates(slcan.DataBitrates[:]))
			} else if b.DataBitrate < b.Bitrate {
				ps.add(p+".data_bitrate", "%d is below the nominal bitrate %d", b.DataBitrate, b.Bitrate)
			}
		}
		validateTransport(ps, p+".transport", &b.Transport)
	}
}

func rates(t []int) string {
	var s []string
	for _, v := range t {
		if v > 0 {
			s = append(s, fmt.Sprint(v))
		}
	}
	return strings.Join(s, ", ")
}

func validateTransport(ps *problems, p string, t *Transport) {
	type field struct {
		name string
		set  bool
	}
	fields := []field{
		{"address", t.Address != ""}, {"serve", t.Serve}, {"interface", t.Interface != ""},
		{"port", t.Port != ""}, {"baud", t.Baud != 0}, {"host", t.Host != ""}, {"channel", t.Channel != ""},
	}
	uses := map[string][]string{
		TransportEmulated:   {"address", "serve"},
		TransportSocketCAN:  {"interface"},
		TransportSLCAN:      {"port", "baud"},
		TransportSocketcand: {"host", "channel"},
	}
	allowed, known := uses[t.Kind]
	if !known {
		if t.Kind == "" {
			ps.add(p+".kind", "required (emulated, socketcan, slcan, socketcand)")
		} else {
			ps.add(p+".kind", "unknown transport %q (emulated, socketcan, slcan, socketcand)", t.Kind)
		}
		return
	}
	for _, f := range fields {
		if f.set && !slices.Contains(allowed, f.name) {
			ps.add(p+"."+f.name, "not used by transport %s", t.Kind)
		}
	}
	switch t.Kind {
	case TransportEmulated:
		if t.Address != "" {
			if _, err := emu.ParseAddress(t.Address); err != nil {
				ps.add(p+".address", "%v", err)
			}
		} else if t.Serve {
			ps.add(p+".serve", "needs an address to serve at")
		}
	case TransportSocketCAN:
		switch {
		case t.Interface == "":
			ps.add(p+".interface", "required for transport socketcan")
		case len(t.Interface) > 15 || strings.ContainsAny(t.Interface, "/ :\t"):
			ps.add(p+".interface", "%q is not a network interface name", t.Interface)
		}
	case TransportSLCAN:
		switch {
		case t.Port == "":
			ps.add(p+".port", "required for transport slcan (a serial device path or %q)", EmulatedAdapter)
		case t.Port != EmulatedAdapter && !path.IsAbs(t.Port):
			ps.add(p+".port", "%q: an absolute device path or %q", t.Port, EmulatedAdapter)
		}
		if t.Baud < 0 {
			ps.add(p+".baud", "negative")
		}
	case TransportSocketcand:
		if t.Host == "" {
			ps.add(p+".host", "required for transport socketcand (host:port)")
		} else if _, port, err := net.SplitHostPort(t.Host); err != nil || port == "" {
			ps.add(p+".host", "%q is not host:port", t.Host)
		}
		if t.Channel == "" {
			ps.add(p+".channel", "required for transport socketcand (the server's bus name)")
		}
	}
}

func (r *Rig) validateDevices(ps *problems) {
	if len(r.Devices) == 0 {
		ps.add("devices", "at least one device is required")
	}
	names := map[string]int{}
	addrs := map[uint8]int{}
	uids := map[uint32]int{}
	modules, authorities := 0, 0
	for i := range r.Devices {
		d := &r.Devices[i]
		p := fmt.Sprintf("devices[%d]", i)
		switch {
		case d.Name == "":
			ps.add(p+".name", "required")
		case !nameRE.MatchString(d.Name):
			ps.add(p+".name", "%q: letters, digits, '.', '_' and '-' only", d.Name)
		default:
			if j, dup := names[d.Name]; dup {
				ps.add(p+".name", "duplicate device name %q (also devices[%d])", d.Name, j)
			}
			names[d.Name] = i
		}
		onCAN := true
		switch d.Role {
		case RoleApp:
		case RolePack:
			if d.Image != ImageGateway {
				ps.add(p+".image", "a pack runs image %q (got %q)", ImageGateway, d.Image)
			}
			if d.PackID > 0x1F {
				ps.add(p+".pack_id", "%d out of range 0–31", d.PackID)
			}
		case RoleModule:
			modules++
			if d.Image != ImageFirmware {
				ps.add(p+".image", "a module runs image %q (got %q)", ImageFirmware, d.Image)
			}
			if d.ModuleID < 0x01 || d.ModuleID > 0x1F {
				ps.add(p+".module_id", "0x%02X outside 0x01–0x1F", d.ModuleID)
			}
			if d.UniqueID != 0 {
				if j, dup := uids[d.UniqueID]; dup {
					ps.add(p+".unique_id", "duplicate module unique ID 0x%08X (also devices[%d])", d.UniqueID, j)
				}
				uids[d.UniqueID] = i
			}
			if d.Cells < 0 || d.Cells > 64 {
				ps.add(p+".cells", "%d out of range 0–64", d.Cells)
			}
		case RoleAuthority:
			authorities++
			onCAN = false
		case "":
			ps.add(p+".role", "required (app, pack, module, authority)")
			continue
		default:
			ps.add(p+".role", "unknown role %q (app, pack, module, authority)", d.Role)
			continue
		}
		if d.Role != RoleModule {
			if d.ModuleID != 0 {
				ps.add(p+".module_id", "only modules have a module ID")
			}
			if d.UniqueID != 0 {
				ps.add(p+".unique_id", "only modules have a unique ID")
			}
			if d.Cells != 0 {
				ps.add(p+".cells", "only modules have cells")
			}
		}
		if d.Role != RolePack && d.PackID != 0 {
			ps.add(p+".pack_id", "only packs have a pack ID")
		}
		if (d.Role == RoleApp || d.Role == RoleAuthority) && d.Image != "" {
			ps.add(p+".image", "the %s runs in the bench and has no image", d.Role)
		}
		if d.Profile != "" {
			if _, err := mcu.ByName(d.Profile); err != nil {
				ps.add(p+".profile", "%v", err)
			}
		}
		if !onCAN {
			if len(d.Buses) > 0 {
				ps.add(p+".buses", "the authority is never on CAN")
			}
			if d.NodeID != nil {
				ps.add(p+".node_id", "the authority has no node address")
			}
		} else {
			if len(d.Buses) == 0 {
				ps.add(p+".buses", "required: the bus(es) the %s is on", d.Role)
			}
			for j, b := range d.Buses {
				if _, ok := r.Bus(b); !ok {
					ps.add(fmt.Sprintf("%s.buses[%d]", p, j), "no bus named %q", b)
				}
			}
			if d.NodeID != nil && (*d.NodeID == 0x00 || *d.NodeID == 0xFF) {
				ps.add(p+".node_id", "0x%02X is reserved (broadcast, unregistered)", *d.NodeID)
			}
			if a, ok := d.Address(); ok && (d.Role != RoleModule || a != 0) {
				if j, dup := addrs[a]; dup {
					ps.add(p+".node_id", "node address 0x%02X already used by devices[%d]", a, j)
				}
				addrs[a] = i
			}
		}
		r.validateFlash(ps, p+".flash", d)
	}
	if modules > MaxModules {
		ps.add("devices", "%d modules; at most %d (addresses 0x01–0x1F)", modules, MaxModules)
	}
	if authorities > 1 {
		ps.add("devices", "%d authority devices; at most one", authorities)
	}
}

var stmBauds = []int{1200, 2400, 4800, 9600, 14400, 19200, 38400, 57600, 115200, 230400, 460800, 921600}

func (r *Rig) validateFlash(ps *problems, p string, d *Device) {
	f := &d.Flash
	type field struct {
		name string
		set  bool
	}
	fields := []field{
		{"port", f.Port != ""}, {"baud", f.Baud != 0}, {"address", f.Address != 0}, {"verify", f.Verify != nil},
		{"tool", f.Tool != ""}, {"args", len(f.Args) > 0}, {"timeout", f.Timeout != ""}, {"via", f.Via != ""},
	}
	uses := map[string][]string{
		FlashNone:      nil,
		"":             nil,
		FlashEmulated:  nil,
		FlashSTM32UART: {"port", "baud", "address", "verify"},
		FlashCommand:   {"tool", "args", "timeout"},
		FlashCAN:       {"via"},
	}
	allowed, known := uses[f.Method]
	if !known {
		ps.add(p+".method", "unknown method %q (emulated, stm32-uart, command, can, none)", f.Method)
		return
	}
	flashed := d.Role == RolePack || d.Role == RoleModule
	switch {
	case flashed && (f.Method == "" || f.Method == FlashNone):
		ps.add(p+".method", "required for a %s (emulated, stm32-uart, command, can)", d.Role)
	case !flashed && f.Method != "" && f.Method != FlashNone:
		ps.add(p+".method", "the %s is not flashed", d.Role)
	}
	for _, fl := range fields {
		if fl.set && !slices.Contains(allowed, fl.name) {
			m := f.Method
			if m == "" {
				m = "none"
			}
			ps.add(p+"."+fl.name, "not used by method %s", m)
		}
	}
	switch f.Method {
	case FlashSTM32UART:
		if f.Port == "" {
			ps.add(p+".port", "required for method stm32-uart")
		} else if !path.IsAbs(f.Port) {
			ps.add(p+".port", "%q is not an absolute device path", f.Port)
		}
		if f.Baud != 0 && !slices.Contains(stmBauds, f.Baud) {
			ps.add(p+".baud", "%d is not a serial speed the boot loader takes", f.Baud)
		}
		if f.Address%4 != 0 {
			ps.add(p+".address", "0x%08X is not 4-byte aligned", f.Address)
		}
	case FlashCommand:
		if f.Tool == "" {
			ps.add(p+".tool", "required for method command")
		}
		for j, a := range f.Args {
			if _, err := template.New("arg").Option("missingkey=error").Parse(a); err != nil {
				ps.add(fmt.Sprintf("%s.args[%d]", p, j), "bad template: %v", err)
			}
		}
		if f.Timeout != "" {
			if t, err := time.ParseDuration(f.Timeout); err != nil || t <= 0 {
				ps.add(p+".timeout", "%q is not a positive duration", f.Timeout)
			}
		}
	case FlashCAN:
		if d.Role != RoleModule {
			ps.add(p+".method", "only modules are updated over CAN")
		}
		if f.Via == "" {
			ps.add(p+".via", "required for method can (the pack that forwards the update)")
		} else if g, ok := r.Device(f.Via); !ok {
			ps.add(p+".via", "no device named %q", f.Via)
		} else if g.Role != RolePack {
			ps.add(p+".via", "%q is a %s, not a pack", f.Via, g.Role)
		}
	}
}

func (r *Rig) validatePower(ps *problems) {
	pw := &r.Power
	switch pw.Kind {
	case PowerEmulated, PowerNone:
		if pw.Port != "" || pw.On != "" || pw.Off != "" || len(pw.Channels) > 0 || pw.Command != nil || pw.Baud != 0 {
			ps.add("power", "power kind %s takes no parameters", pw.Kind)
		}
	case PowerSerialRelay:
		if pw.Port == "" {
			ps.add("power.port", "required for power kind serial-relay")
		} else if !path.IsAbs(pw.Port) {
			ps.add("power.port", "%q is not an absolute device path", pw.Port)
		}
		for _, k := range []struct{ name, t string }{{"on", pw.On}, {"off", pw.Off}} {
			if k.t == "" {
				ps.add("power."+k.name, "required for power kind serial-relay (a template over .Channel)")
			} else if _, err := template.New(k.name).Parse(k.t); err != nil {
				ps.add("power."+k.name, "bad template: %v", err)
			}
		}
		if len(pw.Channels) == 0 {
			ps.add("power.channels", "required for power kind serial-relay (device name: relay channel)")
		}
		for _, name := range sortedKeys(pw.Channels) {
			if _, ok := r.Device(name); !ok {
				ps.add("power.channels."+name, "no device named %q", name)
			}
			if pw.Channels[name] < 0 {
				ps.add("power.channels."+name, "negative channel")
			}
		}
		if pw.Command != nil {
			ps.add("power.command", "not used by power kind serial-relay")
		}
	case PowerCommand:
		if pw.Command == nil || len(pw.Command.On) == 0 || len(pw.Command.Off) == 0 {
			ps.add("power.command", "on and off argv lists are required for power kind command")
		}
		if pw.Port != "" || pw.On != "" || pw.Off != "" {
			ps.add("power", "port, on and off are for kind serial-relay; kind command uses command.on/off")
		}
	case "":
		ps.add("power.kind", "required (emulated, serial-relay, command, none)")
	default:
		ps.add("power.kind", "unknown power kind %q (emulated, serial-relay, command, none)", pw.Kind)
	}
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (r *Rig) validateAuthority(ps *problems) {
	a := &r.Authority
	switch a.Kind {
	case AuthorityEmulated:
		if a.URL != "" {
			ps.add("authority.url", "not used by authority kind emulated")
		}
	case AuthorityURL:
		if a.URL == "" {
			ps.add("authority.url", "required for authority kind url")
		} else if u, err := url.Parse(a.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.add("authority.url", "%q is not an http(s) URL", a.URL)
		}
	case "":
		ps.add("authority.kind", "required (emulated, url)")
	default:
		ps.add("authority.kind", "unknown authority kind %q (emulated, url)", a.Kind)
	}
}
