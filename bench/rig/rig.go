package rig

// Rig is one rig file, decoded. Field names in the YAML are the snake_case tags.
type Rig struct {
	Name        string     `yaml:"name"`
	Description string     `yaml:"description,omitempty"`
	Buses       []Bus      `yaml:"buses"`
	Devices     []Device   `yaml:"devices"`
	Power       Power      `yaml:"power"`
	Authority   Authority  `yaml:"authority"`
	Budgets     string     `yaml:"budgets,omitempty"` // budget sheet, relative to the rig file
	Capture     Capture    `yaml:"capture"`
	Suites      SuiteHints `yaml:"suites,omitempty"`
	// BootTimeout bounds bring-up's wait for every device to come up and report its image
	// (0: 10 s, or 2 min when real devices are flashed on the way). A rig on a slow host
	// kernel (vcan inside User-Mode Linux) sets more.
	BootTimeout Duration `yaml:"boot_timeout,omitempty"`

	// Path is the file the rig was loaded from ("" for Parse); not part of the YAML.
	Path string `yaml:"-"`
}

// Bus is one CAN bus of the rig and the transport the bench reaches it through.
type Bus struct {
	Name        string    `yaml:"name"`                   // can1 (app ⇄ pack), can2 (pack ⇄ modules)
	Bitrate     int       `yaml:"bitrate"`                // nominal bit/s
	DataBitrate int       `yaml:"data_bitrate,omitempty"` // CAN FD data phase bit/s; needs fd
	FD          bool      `yaml:"fd,omitempty"`
	Transport   Transport `yaml:"transport"`
}

// Transport kinds.
const (
	TransportEmulated   = "emulated"   // user-space bus (bus/emu), optionally served or joined at Address
	TransportSocketCAN  = "socketcan"  // kernel interface (real adapter or vcan)
	TransportSLCAN      = "slcan"      // serial-line adapter (Lawicel protocol)
	TransportSocketcand = "socketcand" // socketcand server on the network
)

// EmulatedAdapter as an slcan port asks for the emulated adapter on a pty instead of a real one.
const EmulatedAdapter = "emulated-adapter"

// Transport says how the bench joins a bus.
type Transport struct {
	Kind       string `yaml:"kind"`
	Address    string `yaml:"address,omitempty"`   // emulated: "unix:PATH" or "tcp:HOST:PORT" to serve or join
	Serve      bool   `yaml:"serve,omitempty"`     // emulated: serve the bus at Address (else join it)
	Interface  string `yaml:"interface,omitempty"` // socketcan: can0, vcan0
	Port       string `yaml:"port,omitempty"`      // slcan: serial device path or "emulated-adapter"
	Baud       int    `yaml:"baud,omitempty"`      // slcan: serial speed (USB adapters ignore it)
	Host       string `yaml:"host,omitempty"`      // socketcand: host:port
	Channel    string `yaml:"channel,omitempty"`   // socketcand: the server's bus name
	ListenOnly bool   `yaml:"listen_only,omitempty"`
}

// Device roles.
const (
	RoleApp       = "app"
	RolePack      = "pack"
	RoleModule    = "module"
	RoleAuthority = "authority"
)

// Image names a device can run.
const (
	ImageFirmware = "firmware" // module firmware
	ImageGateway  = "gateway"  // pack controller firmware
)

// Device is one node of the rig.
type Device struct {
	Name     string   `yaml:"name"`
	Role     string   `yaml:"role"`
	Image    string   `yaml:"image,omitempty"` // firmware | gateway; app and authority run in the bench
	Flash    Flash    `yaml:"flash,omitempty"`
	NodeID   *uint8   `yaml:"node_id,omitempty"`   // explicit node address; default from role
	ModuleID uint8    `yaml:"module_id,omitempty"` // modules: 0x01–0x1F
	UniqueID uint32   `yaml:"unique_id,omitempty"` // modules: factory unique ID
	PackID   uint8    `yaml:"pack_id,omitempty"`   // packs: pack number, address 0x40+n
	Profile  string   `yaml:"profile,omitempty"`   // cost profile (mcu.ByName)
	Buses    []string `yaml:"buses,omitempty"`
	Cells    int      `yaml:"cells,omitempty"` // modules: series cells
	Seed     int64    `yaml:"seed,omitempty"`  // seed of the emulated device's randomness
}

// Flash methods.
const (
	FlashNone      = "none"       // the device is not flashed by the bench
	FlashEmulated  = "emulated"   // the emulated device's boot loader
	FlashSTM32UART = "stm32-uart" // STM32 system boot loader over a serial port (AN3155)
	FlashCommand   = "command"    // an external tool run from a template
	FlashCAN       = "can"        // module update over CAN under a firmware_update pairing
)

// Flash is a device's flashing method and its parameters.
type Flash struct {
	Method string `yaml:"method,omitempty"`

	// stm32-uart
	Port    string `yaml:"port,omitempty"`
	Baud    int    `yaml:"baud,omitempty"`    // default 115200
	Address uint32 `yaml:"address,omitempty"` // default 0x08000000
	Verify  *bool  `yaml:"verify,omitempty"`  // read back after writing; default true

	// command
	Tool    string   `yaml:"tool,omitempty"`    // executable looked up on PATH
	Args    []string `yaml:"args,omitempty"`    // each a text/template over the image and device
	Timeout string   `yaml:"timeout,omitempty"` // e.g. "2m"

	// can
	Via string `yaml:"via,omitempty"` // the gateway device the update goes through
}

// Power kinds.
const (
	PowerEmulated    = "emulated"
	PowerSerialRelay = "serial-relay"
	PowerCommand     = "command"
	PowerNone        = "none"
)

// Power is how the bench switches device power.
type Power struct {
	Kind     string           `yaml:"kind"`
	Port     string           `yaml:"port,omitempty"`     // serial-relay
	Baud     int              `yaml:"baud,omitempty"`     // serial-relay
	On       string           `yaml:"on,omitempty"`       // serial-relay: text template, {{.Channel}}
	Off      string           `yaml:"off,omitempty"`      // serial-relay: text template
	Channels map[string]int   `yaml:"channels,omitempty"` // device name → relay channel
	Command  *PowerCommandSet `yaml:"command,omitempty"`  // command
}

// PowerCommandSet is the argv templates of the command power kind.
type PowerCommandSet struct {
	On  []string `yaml:"on"`
	Off []string `yaml:"off"`
}

// Authority kinds.
const (
	AuthorityEmulated = "emulated" // in-process authority
	AuthorityURL      = "url"      // a running authority reached over HTTP
)

// Authority is the auth controller the rig uses.
type Authority struct {
	Kind     string `yaml:"kind"`
	URL      string `yaml:"url,omitempty"`
	StateDir string `yaml:"state_dir,omitempty"` // relative to the rig file
}

// Capture settings.
type Capture struct {
	Dir     string   `yaml:"dir,omitempty"`     // relative to the working directory of the run
	Formats []string `yaml:"formats,omitempty"` // candump, pcap
	Buses   []string `yaml:"buses,omitempty"`   // default: every bus
}

// Capture formats.
const (
	CaptureCandump = "candump"
	CapturePcap    = "pcap"
)

// SuiteHints narrows what runs on a rig.
type SuiteHints struct {
	Labels string `yaml:"labels,omitempty"` // a Ginkgo label filter added to every run
}

// Bus returns the named bus.
func (r *Rig) Bus(name string) (*Bus, bool) {
	for i := range r.Buses {
		if r.Buses[i].Name == name {
			return &r.Buses[i], true
		}
	}
	return nil, false
}

// Device returns the named device.
func (r *Rig) Device(name string) (*Device, bool) {
	for i := range r.Devices {
		if r.Devices[i].Name == name {
			return &r.Devices[i], true
		}
	}
	return nil, false
}

// Address is the device's node address on CAN: node_id if given, else 0x60 for the app,
// 0x40+pack_id for a pack, module_id for a module; ok is false for the authority, which is
// never on CAN.
func (d *Device) Address() (addr uint8, ok bool) {
	if d.NodeID != nil {
		return *d.NodeID, true
	}
	switch d.Role {
	case RoleApp:
		return 0x60, true
	case RolePack:
		return 0x40 + d.PackID, true
	case RoleModule:
		return d.ModuleID, true
	}
	return 0, false
}

// VerifyAfterWrite is the stm32-uart verify setting with its default.
func (f *Flash) VerifyAfterWrite() bool { return f.Verify == nil || *f.Verify }
