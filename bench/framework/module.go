package framework

import (
	"context"
	"fmt"
	"os"

	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/firmware/module"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/protocol/message"
)

// Module is a battery module of the rig, running in-process.
type Module struct {
	*module.Device
	Rig     rig.Device
	Flashed image.Image // what the emulated boot loader booted ("" Version when no image was built)
	busName string
}

// Name is the device's name in the rig file.
func (m *Module) Name() string { return m.Rig.Name }

// EntityID is the module's Web4 entity ID.
func (m *Module) EntityID() string { return m.Config().EntityID }

// BootReport is the L1 image announce the module's boot stage makes of the image it booted.
func (m *Module) BootReport() (*message.Announce, error) {
	c := m.Config()
	return image.Boot(c.Image, image.Node{EntityID: c.EntityID, Role: message.RoleModule, Addr: m.ModuleID()}, c.Clock.Now())
}

func (s *System) startModule(ctx context.Context, d *rig.Device) (*Module, error) {
	busName := "can2"
	if len(d.Buses) > 0 {
		busName = d.Buses[0]
	}
	b, ok := s.buses[busName]
	if !ok {
		return nil, fmt.Errorf("framework: module %s: bus %q is not a bus of the rig", d.Name, busName)
	}
	prof := mcu.ATmega64M1()
	if d.Profile != "" {
		p, err := mcu.ByName(d.Profile)
		if err != nil {
			return nil, fmt.Errorf("framework: module %s: %w", d.Name, err)
		}
		prof = p
	}
	m := &Module{Rig: *d, busName: busName}
	if d.Image != "" {
		built, ok := s.Images[d.Image]
		if !ok {
			// The image's package has not landed: the in-process module still runs, and
			// qualification knows from Missing that nothing was built or flashed.
			m.Flashed = image.Image{Name: d.Image, Version: "unbuilt", Commit: "unknown"}
		} else {
			data, err := os.ReadFile(built.Path)
			if err != nil {
				return nil, fmt.Errorf("framework: flash %s: %w", d.Name, err)
			}
			img, err := FlashEmulated(built.Image, data)
			if err != nil {
				return nil, fmt.Errorf("framework: flash %s: %w", d.Name, err)
			}
			m.Flashed = img
		}
	}
	dev, err := module.New(module.Config{Clock: s.Clock, Bus: b.Join(d.Name), Logger: s.log.With("device", d.Name),
		Profile: prof, Image: m.Flashed, UniqueID: d.UniqueID, Cells: d.Cells, Seed: uint64(d.Seed),
		EntityID: d.Name, Authority: s.Authority.PublicKey()})
	if err != nil {
		return nil, fmt.Errorf("framework: module %s: %w", d.Name, err)
	}
	m.Device = dev
	s.run(ctx, d.Name, dev.Run)
	return m, nil
}

// FlashEmulated is the emulated boot loader: it boots bytes only if they are the built
// image, and reports the identity of what it booted.
func FlashEmulated(built image.Image, data []byte) (image.Image, error) {
	if err := built.Verify(data); err != nil {
		return image.Image{}, err
	}
	return image.FromBytes(built.Name, built.Version, built.Commit, data), nil
}

// waitBoot waits for the module's power-on announcement (0x500 from its unique ID) on its
// bus and checks the image it reports against the one flashed.
func (m *Module) waitBoot(ctx context.Context, p *Probe) error {
	uid := m.Config().UniqueID
	_, _, err := p.Wait(ctx, 0, fmt.Sprintf("%s's announcement (0x500, unique ID %08x)", m.Name(), uid), func(f bus.Frame) bool {
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
	if m.Flashed.Version == "" || m.Flashed.Version == "unbuilt" {
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
