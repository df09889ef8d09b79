package framework

import (
	"context"
	"fmt"
	"time"

	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/firmware/module"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/protocol/message"
)

// Module is a battery module of the rig, running in-process. Device is replaced at each
// power-on; hold the *Module, not the *module.Device.
type Module struct {
	*module.Device
	Rig     rig.Device
	Flashed image.Image // what the emulated boot loader booted (Version Unbuilt when nothing was built)
	flashed []byte      // the bytes the device holds
	busName string
	prof    mcu.Profile
	// LegacyOnly runs the module without its Web4 side (a module with the old firmware).
	LegacyOnly bool
}

// Name is the device's name in the rig file.
func (m *Module) Name() string { return m.Rig.Name }

// EntityID is the module's Web4 entity ID.
func (m *Module) EntityID() string { return m.Rig.Name }

// BootReport is the L1 image announce the module's boot stage makes of the image it booted.
func (m *Module) BootReport() (*message.Announce, error) {
	c := m.Config()
	return image.Boot(c.Image, image.Node{EntityID: c.EntityID, Role: message.RoleModule, Addr: m.ModuleID()}, c.Clock.Now())
}

func (s *System) startModule(d *rig.Device, legacyOnly bool) (*Module, error) {
	busName := "can2"
	if len(d.Buses) > 0 {
		busName = d.Buses[0]
	}
	if _, ok := s.links[busName]; !ok {
		return nil, fmt.Errorf("framework: module %s: bus %q is not a bus of the rig", d.Name, busName)
	}
	prof, err := profile(d, mcu.ATmega64M1(), s.zero)
	if err != nil {
		return nil, err
	}
	m := &Module{Rig: *d, busName: busName, prof: prof, LegacyOnly: legacyOnly}
	if IsHardware(d) {
		m.Flashed, err = s.startHardware(s.runCtx, d)
		return m, err
	}
	if m.Flashed, m.flashed, err = s.flash(s.runCtx, d); err != nil {
		return nil, err
	}
	return m, m.start(s)
}

// start powers the module on.
func (m *Module) start(s *System) error {
	if IsHardware(&m.Rig) {
		if err := s.switchPower(s.runCtx, m.Name(), true); err != nil {
			return err
		}
		s.markPowered(m.Name())
		return nil
	}
	if s.Programs {
		return m.startProgram(s)
	}
	st, err := s.openNVM(m.Name())
	if err != nil {
		return err
	}
	ep, err := s.links[m.busName].joinDevice(s.runCtx, m.Name())
	if err != nil {
		st.Close()
		return err
	}
	dev, err := module.New(module.Config{Clock: s.deviceClock(m.Name()), Bus: ep, NVM: st, Logger: s.log.With("device", m.Name()),
		Profile: m.prof, Image: m.Flashed, UniqueID: m.Rig.UniqueID, Cells: m.Rig.Cells, Seed: uint64(m.Rig.Seed),
		EntityID: m.Name(), Authority: s.Authority.PublicKey(), NoWeb4: m.LegacyOnly})
	if err != nil {
		closer([]bus.Endpoint{ep}, st)()
		return fmt.Errorf("framework: module %s: %w", m.Name(), err)
	}
	m.Device = dev
	s.power(m.Name(), dev.Run, closer([]bus.Endpoint{ep}, st))
	return nil
}

// waitAnnounce waits for the module's power-on announcement (0x500 from its unique ID) on
// its bus, from position mark of the probe.
func (m *Module) waitAnnounce(ctx context.Context, p *Probe, mark int) error {
	uid := m.Rig.UniqueID
	_, _, err := p.Wait(ctx, mark, fmt.Sprintf("%s's announcement (0x500, unique ID %08x)", m.Name(), uid), func(f bus.Frame) bool {
		d, err := legacy.Decode(f)
		if err != nil {
			return false
		}
		a, ok := d.Msg.(*legacy.Announcement)
		return ok && a.UniqueID == uid
	})
	if err != nil {
		return fmt.Errorf("framework: %s did not come up: %w", m.Name(), err)
	}
	return nil
}

// checkImage checks the image the module's boot stage reports against the one flashed (on
// the device itself; a program's or real module's report is checked when it reaches the app).
func (m *Module) checkImage() error {
	if m.Device == nil || m.Flashed.Version == "" || m.Flashed.Version == Unbuilt {
		return nil
	}
	rep, err := m.BootReport()
	if err != nil {
		return fmt.Errorf("framework: %s: %w", m.Name(), err)
	}
	if err := image.Match(rep, m.Flashed); err != nil {
		return fmt.Errorf("framework: %s: %w", m.Name(), err)
	}
	return nil
}

// waitRegisteredFrom waits until the pack has registered the module at its rig ID: on the
// device itself in-process, on the bus (from position mark) for a program.
func (m *Module) waitRegisteredFrom(ctx context.Context, s *System, mark int) error {
	if m.Device == nil { // a program or real silicon: seen only on the bus
		return m.waitRegistration(ctx, s.probes[m.busName], mark)
	}
	return m.waitRegistered(ctx)
}

// waitRegistered waits until the pack has given the module the module ID the rig names.
func (m *Module) waitRegistered(ctx context.Context) error {
	for {
		id := m.ModuleID()
		if id == m.Rig.ModuleID {
			return nil
		}
		if id >= legacy.ModuleFirst && id <= legacy.ModuleLast {
			return fmt.Errorf("framework: the pack registered %s as module 0x%02X, the rig says 0x%02X", m.Name(), id, m.Rig.ModuleID)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("framework: the pack did not register %s: %w", m.Name(), ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}
