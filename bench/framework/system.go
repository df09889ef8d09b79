package framework

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/modbatt/hilrun/app"
	"github.com/modbatt/hilrun/authority"
	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/nvm"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
	"github.com/modbatt/hilrun/protocol/suite"
)

// Options say which rig to bring up and where its traces go.
type Options struct {
	Rig       *rig.Rig
	Name      string  // names this bring-up's capture files (e.g. the container's text)
	ReportDir string  // captures are written under ReportDir/captures; "" makes a temporary directory
	Images    *Images // shared by every bring-up of a run; nil builds afresh
	Logger    *slog.Logger
	// Boot bounds the wait for every device to come up and report its image; default 10 s.
	Boot time.Duration
	// Off names devices (by name or role) that bring-up leaves powered off, e.g. the pack
	// when the bench itself drives the module bus.
	Off []string
	// ZeroCost runs every device with the zero cost profile: functional specs then take
	// milliseconds instead of the modelled seconds of P-256 on a module. Perf specs leave it
	// off so emulated latency predicts the hardware's.
	ZeroCost bool
	// LegacyOnly names modules that run without their Web4 side, as modules with the old
	// firmware do beside upgraded ones.
	LegacyOnly []string
	// Programs runs the pack and the modules as the built programs (the gateway and firmware
	// images, flashed to files), attached to the buses served on Unix sockets. Specs then see
	// them only through the buses, the app and the authority: device hooks (Stats, fault
	// injection) are not available (System.Programs says so).
	Programs bool
	// SigningKey is the release key images are signed with; nil makes one per bring-up.
	SigningKey *suite.PrivateKey
	// RealTime paces the emulated buses in real time: each frame reaches its receivers at its
	// end of frame, so a latency measured on the clock includes the wire time. Perf runs set it.
	RealTime bool
	// CaptureLimit bounds the frames each bus's capture keeps (0: DefaultCaptureLimit; -1: no
	// limit). What is past it is counted and reported by CapturesTruncated.
	CaptureLimit int
	// Spin, with RealTime, is how much of each of the buses' waits, and of the devices' short
	// waits (their modelled crypto charges), is spent polling the clock instead of sleeping
	// (emu.Config.Spin): a timer wakes up late by up to a millisecond, and every frame that
	// answers another, every charge of a few microseconds, would take that much longer.
	Spin time.Duration
}

func (o *Options) legacyOnly(d *rig.Device) bool {
	for _, n := range o.LegacyOnly {
		if n == d.Name {
			return true
		}
	}
	return false
}

// busOf is the device's first bus, or def.
func busOf(d *rig.Device, def string) string {
	if len(d.Buses) > 0 {
		return d.Buses[0]
	}
	return def
}

func (o *Options) off(d *rig.Device) bool {
	for _, n := range o.Off {
		if n == d.Name || n == d.Role {
			return true
		}
	}
	return false
}

// System is a rig that is up: its buses, its devices, the authority and the app.
type System struct {
	Rig       *rig.Rig
	Clock     clock.Clock
	Authority *authority.Running
	App       *app.App // nil when the rig has no app device or it is off
	Pack      *Pack    // nil when the rig has no pack or it is off
	Modules   []*Module
	Images    map[string]Built // images built for this bring-up, by name
	// Missing lists what the rig names but this tree cannot run yet, with the reason; specs
	// that need one of them are not written until it lands.
	Missing map[string]error
	// SigningKey signs the images this bring-up flashes (a release key made per bring-up
	// unless Options.SigningKey names one); the emulated boot loaders trust its public half.
	SigningKey *suite.PrivateKey
	// Reports are the boot reports (L1 image announces) that reached the app, by entity.
	Reports map[string]*message.Announce
	// Programs is true when the devices run as separate programs.
	Programs bool

	links    map[string]*link
	captures []*busCapture
	probes   map[string]*Probe
	log      *slog.Logger
	appSrv   *http.Server
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	runErrs  []error
	downOnce sync.Once
	downErr  error
	units    map[string]*unit // powered devices by name
	runCtx   context.Context
	zero     bool
	nvm      map[string]*nvm.MemFile // each device's NVM, kept across power cycles
	clocks   map[string]*skewedClock
	sockets  map[string]string // bus name → served address (Programs)
	flashDir string            // flashed images and NVM files of programs
	logDir   string            // programs' output
	tempDirs []string
	spin     time.Duration // Options.Spin with RealTime: device clocks spin short waits
	// powerSwitch switches real devices (rig power kinds serial-relay and command); nil
	// when the rig has none.
	powerSwitch PowerSwitch
}

// ErrUnsupported is returned for a rig feature this framework cannot bring up.
var ErrUnsupported = errors.New("framework: not supported on this rig")

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Up brings the rig up. On error everything started so far is torn down again (captures
// are still written). The caller must call Down, which is safe to call more than once.
func Up(ctx context.Context, o Options) (s *System, err error) {
	if o.Rig == nil {
		return nil, errors.New("framework: no rig")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Boot <= 0 {
		o.Boot = o.Rig.BootTimeout.Std()
	}
	if o.Boot <= 0 {
		o.Boot = 10 * time.Second
		if HasHardware(o.Rig) {
			o.Boot = 2 * time.Minute // real devices are flashed on the way
		}
	}
	if o.Images == nil {
		o.Images = &Images{}
	}
	if o.ReportDir == "" {
		d, err := os.MkdirTemp("", "hilrun-report-")
		if err != nil {
			return nil, fmt.Errorf("framework: %w", err)
		}
		o.ReportDir = d
	}
	s = &System{Rig: o.Rig, Clock: clock.Real{}, Images: map[string]Built{}, Missing: map[string]error{},
		links: map[string]*link{}, probes: map[string]*Probe{}, log: o.Logger, units: map[string]*unit{},
		nvm: map[string]*nvm.MemFile{}, clocks: map[string]*skewedClock{}, Reports: map[string]*message.Announce{},
		Programs: o.Programs}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Down())
			s = nil
		}
	}()
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if s.SigningKey = o.SigningKey; s.SigningKey == nil {
		if s.SigningKey, err = suite.GenerateKey(rand.Reader); err != nil {
			return s, fmt.Errorf("framework: release key: %w", err)
		}
	}

	// Images first: a build failure is the first thing a release engineer must see.
	for _, d := range o.Rig.Devices {
		if d.Image == "" {
			continue
		}
		if _, ok := s.Images[d.Image]; ok {
			continue
		}
		b, err := o.Images.Get(ctx, d.Image)
		if errors.Is(err, ErrImageMissing) {
			s.Missing["image "+d.Image] = err
			continue
		}
		if err != nil {
			return s, err
		}
		s.Images[d.Image] = b
	}

	// Buses, each captured from its first frame.
	prefix := unsafeName.ReplaceAllString(o.Name, "_")
	if prefix != "" {
		prefix += "-"
	}
	if o.Programs {
		for _, b := range o.Rig.Buses {
			if b.Transport.Kind != rig.TransportEmulated || b.Transport.Address != "" {
				return s, fmt.Errorf("%w: bus %s: devices run as programs only on in-process emulated buses (transport %s)", ErrUnsupported, b.Name, b.Transport.Kind)
			}
		}
	}
	pacing := emu.AsFastAsPossible
	if o.RealTime {
		pacing = emu.RealTime
	}
	emuCfg := func(b rig.Bus) emu.Config {
		return emu.Config{Pacing: pacing, Spin: o.Spin, Clock: s.Clock, FD: b.FD, Logger: o.Logger,
			Timing: bus.Timing{Nominal: b.Bitrate, Data: b.DataBitrate}}
	}
	for _, b := range o.Rig.Buses {
		l, err := openLink(ctx, b, emuCfg, s.Clock, o.Logger)
		if err != nil {
			return s, err
		}
		s.links[b.Name] = l
		limit := o.CaptureLimit
		switch {
		case limit == 0:
			limit = DefaultCaptureLimit
		case limit < 0:
			limit = 0
		}
		c, err := newBusCapture(filepath.Join(o.ReportDir, "captures"), prefix, b.Name, limit)
		if err != nil {
			return s, err
		}
		s.captures = append(s.captures, c)
		if err := l.record(ctx, c); err != nil {
			return s, err
		}
		ep, err := l.joinHost(ctx, "bench-probe")
		if err != nil {
			return s, err
		}
		s.probes[b.Name] = newProbe(ep)
	}

	// The authority, on loopback with its own state directory; it reaches the devices'
	// keys through the app's API, which relays to CAN.
	stateDir, err := os.MkdirTemp("", "hilrun-authority-")
	if err != nil {
		return s, fmt.Errorf("framework: %w", err)
	}
	var appAPI string
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return s, fmt.Errorf("framework: app API: %w", err)
	}
	appAPI = "http://" + ln.Addr().String() + "/api"
	relay := authority.HTTPKeyGenerator{Relay: appAPI}
	s.Authority, err = authority.Start(authority.Options{Dir: stateDir, Clock: s.Clock, NoSync: true, Logger: o.Logger,
		KeyGenerators: map[message.Role]authority.KeyGenerator{message.RoleApp: authority.HTTPKeyGenerator{},
			message.RolePack: relay, message.RoleModule: relay}}, "127.0.0.1:0")
	if err != nil {
		ln.Close()
		return s, fmt.Errorf("framework: authority: %w", err)
	}
	s.tempDirs = append(s.tempDirs, stateDir)
	if HasHardware(o.Rig) {
		env := []string{"HILRUN_AUTHORITY_KEY=" + s.authorityKey(), "HILRUN_AUTHORITY_URL=" + s.Authority.URL}
		if s.powerSwitch, err = OpenPowerSwitch(o.Rig, env); err != nil {
			return s, err
		}
	}
	s.runCtx, s.zero = runCtx, o.ZeroCost
	if o.RealTime {
		s.spin = o.Spin
	}
	if o.Programs {
		if s.flashDir, err = os.MkdirTemp("", "hilrun-flash-"); err != nil {
			return s, fmt.Errorf("framework: %w", err)
		}
		s.tempDirs = append(s.tempDirs, s.flashDir)
		s.logDir = filepath.Join(o.ReportDir, "logs")
		if err := os.MkdirAll(s.logDir, 0o755); err != nil {
			return s, fmt.Errorf("framework: %w", err)
		}
		if err := s.serveBuses(); err != nil {
			return s, err
		}
	}

	// Power on: the app first, so that it hears every boot report, then the pack, then the
	// modules one at a time, so that the pack gives each the module ID the rig says.
	var mods []app.Device
	var appDev, packDev *rig.Device
	var modDevs []*rig.Device
	for i := range o.Rig.Devices {
		d := &o.Rig.Devices[i]
		switch d.Role {
		case rig.RoleAuthority:
		case rig.RoleApp:
			appDev = d
		case rig.RolePack:
			packDev = d
		case rig.RoleModule:
			modDevs = append(modDevs, d)
			mods = append(mods, app.Device{EntityID: d.Name, Addr: d.ModuleID})
		default:
			return s, fmt.Errorf("%w: device %s role %q", ErrUnsupported, d.Name, d.Role)
		}
	}
	bootCtx, stop := context.WithTimeout(ctx, o.Boot)
	defer stop()
	var reports <-chan session.Event
	if appDev != nil && !o.off(appDev) {
		if err := s.startApp(ctx, runCtx, appDev, packDev, ln, appAPI, mods); err != nil {
			return s, err
		}
		reports = s.App.Subscribe(4096)
	} else {
		ln.Close()
	}
	if packDev != nil && !o.off(packDev) {
		if s.Pack, err = s.startPack(packDev); err != nil {
			return s, err
		}
	}
	for _, d := range modDevs {
		if o.off(d) {
			continue
		}
		p := s.probes[busOf(d, "can2")]
		var mark int
		if p != nil {
			mark = p.Mark()
		}
		m, err := s.startModule(d, o.legacyOnly(d))
		if err != nil {
			return s, err
		}
		s.Modules = append(s.Modules, m)
		if err := m.waitAnnounce(bootCtx, p, mark); err != nil {
			return s, err
		}
		if err := m.checkImage(); err != nil {
			return s, err
		}
		if s.Pack != nil {
			if err := m.waitRegisteredFrom(bootCtx, s, mark); err != nil {
				return s, err
			}
		}
	}
	if reports != nil && s.Pack != nil {
		if err := s.waitImages(bootCtx, reports); err != nil {
			return s, err
		}
	}
	for _, m := range s.Modules {
		if m.Rig.Flash.Method == rig.FlashCAN {
			if err := s.updateOverCAN(ctx, m); err != nil {
				return s, err
			}
		}
	}
	return s, nil
}

// waitImages waits for the boot report (L1 announce of kind image) of the pack and of every
// module to reach the app, and checks each against the image flashed into that device.
func (s *System) waitImages(ctx context.Context, reports <-chan session.Event) error {
	want := map[string]image.Image{}
	if s.Pack.Flashed.Version != "" && s.Pack.Flashed.Version != Unbuilt {
		want[s.packEntity()] = s.Pack.Flashed
	}
	for _, m := range s.Modules {
		// A module updated over CAN boots what it had; its new image is checked after the update.
		if m.Flashed.Version != "" && m.Flashed.Version != Unbuilt && !m.LegacyOnly && m.Rig.Flash.Method != rig.FlashCAN {
			want[m.EntityID()] = m.Flashed
		}
	}
	for len(want) > 0 {
		select {
		case <-ctx.Done():
			var names []string
			for n := range want {
				names = append(names, n)
			}
			sort.Strings(names)
			return fmt.Errorf("framework: no boot report reached the app from %s: %w", strings.Join(names, ", "), ctx.Err())
		case ev := <-reports:
			a, ok := ev.(session.EventAnnounce)
			if !ok || a.Announce == nil || a.Announce.Kind != message.AnnounceImage {
				continue
			}
			img, ok := want[a.Announce.EntityID]
			if !ok {
				continue
			}
			s.mu.Lock()
			s.Reports[a.Announce.EntityID] = a.Announce
			s.mu.Unlock()
			if err := image.Match(a.Announce, img); err != nil {
				return fmt.Errorf("framework: %w", err)
			}
			delete(want, a.Announce.EntityID)
		}
	}
	return nil
}

func (s *System) packEntity() string {
	if s.Pack == nil {
		return "pack-0"
	}
	return s.Pack.EntityID()
}

func (s *System) startApp(ctx, runCtx context.Context, d, packDev *rig.Device, ln net.Listener, api string, mods []app.Device) error {
	name := "can1"
	if len(d.Buses) > 0 {
		name = d.Buses[0]
	}
	l, ok := s.links[name]
	if !ok {
		ln.Close()
		return fmt.Errorf("framework: app bus %q is not a bus of the rig", name)
	}
	ep, err := l.joinHost(ctx, "app")
	if err != nil {
		ln.Close()
		return err
	}
	a, err := app.New(ctx, app.Config{API: api, Endpoint: ep, Clock: s.Clock, Rand: rand.Reader,
		Store: session.NewMemStore(), Authority: s.Authority.Client, Modules: mods, Logger: s.log,
		Pack: packDevice(packDev), FD: s.fd(name)})
	if err != nil {
		ln.Close()
		ep.Close()
		return fmt.Errorf("framework: app: %w", err)
	}
	s.App = a
	s.appSrv = &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go s.appSrv.Serve(ln)
	s.power("app", a.Run, nil)
	return nil
}

// fd reports whether the named bus of the rig is a CAN FD bus.
func (s *System) fd(name string) bool {
	b, ok := s.Rig.Bus(name)
	return ok && b.FD
}

// packDevice is how the app reaches the pack: its entity ID and node address.
func packDevice(d *rig.Device) app.Device {
	if d == nil {
		return app.Device{}
	}
	addr, _ := d.Address()
	return app.Device{EntityID: fmt.Sprintf("pack-%d", d.PackID), Addr: addr}
}

// Bus returns the named bus when it is in-process (for fault injection and load figures);
// a bus the bench reaches through a kernel interface, an adapter or a socketcand server
// has none.
func (s *System) Bus(name string) (*emu.Bus, bool) {
	l, ok := s.links[name]
	if !ok || l.wire == nil {
		return nil, false
	}
	return l.wire, true
}

// Probe returns the bench's own endpoint on a bus: it sees every frame and can send.
func (s *System) Probe(name string) (*Probe, bool) {
	p, ok := s.probes[name]
	return p, ok
}

// Module returns the module of the rig with a device name.
func (s *System) Module(name string) (*Module, bool) {
	for _, m := range s.Modules {
		if m.Name() == name {
			return m, true
		}
	}
	return nil, false
}

// Captures are the capture files this bring-up writes (complete after Down).
func (s *System) Captures() []string {
	var out []string
	for _, c := range s.captures {
		out = append(out, c.paths...)
	}
	return out
}

// CapturesTruncated says, per bus, how many frames its capture did not keep because it had
// reached its limit (Options.CaptureLimit); buses whose capture is whole are not listed.
func (s *System) CapturesTruncated() map[string]int {
	out := map[string]int{}
	for _, c := range s.captures {
		c.mu.Lock()
		if c.over > 0 {
			out[c.iface] = c.over
		}
		c.mu.Unlock()
	}
	return out
}

// Err reports devices that stopped with an error while the system was up.
func (s *System) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.runErrs...)
}

// Down powers everything off, stops the authority and the buses and closes the captures.
// It always runs to the end and returns every error met on the way.
func (s *System) Down() error {
	s.downOnce.Do(func() {
		var errs []error
		if s.cancel != nil {
			s.cancel()
		}
		if s.appSrv != nil {
			ctx, stop := context.WithTimeout(context.Background(), 2*time.Second)
			errs = append(errs, s.appSrv.Shutdown(ctx))
			stop()
		}
		s.wg.Wait()
		for name, u := range s.units {
			if u.hardware {
				ctx, stop := context.WithTimeout(context.Background(), switchTimeout)
				errs = append(errs, s.switchPower(ctx, name, false))
				stop()
			}
			if u.release != nil {
				errs = append(errs, u.release())
			}
		}
		if s.powerSwitch != nil {
			errs = append(errs, s.powerSwitch.Close())
		}
		for _, p := range s.probes {
			p.close()
		}
		if s.Authority != nil {
			errs = append(errs, s.Authority.Close())
		}
		for _, l := range s.links {
			errs = append(errs, l.close())
		}
		for _, c := range s.captures {
			errs = append(errs, c.close())
		}
		for _, d := range s.tempDirs {
			os.RemoveAll(d)
		}
		s.downErr = errors.Join(errs...)
	})
	return s.downErr
}
