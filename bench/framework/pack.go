package framework

import (
	"crypto/rand"
	"fmt"

	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/gateway/pack"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/mcu"
)

// Pack is the pack controller of the rig, running in-process. Device is replaced at each
// power-on; hold the *Pack.
type Pack struct {
	*pack.Device
	Rig     rig.Device
	Flashed image.Image
	// Events carries the pack's legacy events (registrations, timeouts, link loss …); events
	// are dropped while it is full.
	Events  chan pack.Event
	flashed []byte
	buses   [2]string
	prof    mcu.Profile
}

// Name is the device's name in the rig file.
func (p *Pack) Name() string { return p.Rig.Name }

// Addr is the pack's Web4 node address.
func (p *Pack) Addr() uint8 {
	a, _ := p.Rig.Address()
	return a
}

// EntityID is the pack's Web4 entity ID.
func (p *Pack) EntityID() string { return fmt.Sprintf("pack-%d", p.Rig.PackID) }

func (s *System) startPack(d *rig.Device) (*Pack, error) {
	names := d.Buses
	if len(names) < 2 {
		names = []string{"can1", "can2"}
	}
	for _, n := range names[:2] {
		if _, ok := s.links[n]; !ok {
			return nil, fmt.Errorf("framework: pack %s: bus %q is not a bus of the rig", d.Name, n)
		}
	}
	prof, err := profile(d, mcu.STM32WB55(), s.zero)
	if err != nil {
		return nil, err
	}
	p := &Pack{Rig: *d, Events: make(chan pack.Event, 1024), buses: [2]string{names[0], names[1]}, prof: prof}
	if IsHardware(d) {
		p.Flashed, err = s.startHardware(s.runCtx, d)
		return p, err
	}
	if p.Flashed, p.flashed, err = s.flash(s.runCtx, d); err != nil {
		return nil, err
	}
	return p, p.start(s)
}

// start powers the pack on.
func (p *Pack) start(s *System) error {
	if IsHardware(&p.Rig) {
		if err := s.switchPower(s.runCtx, p.Name(), true); err != nil {
			return err
		}
		s.markPowered(p.Name())
		return nil
	}
	if s.Programs {
		return p.startProgram(s)
	}
	st, err := s.openNVM(p.Name())
	if err != nil {
		return err
	}
	e1, err := s.links[p.buses[0]].joinDevice(s.runCtx, p.Name())
	if err != nil {
		st.Close()
		return err
	}
	e2, err := s.links[p.buses[1]].joinDevice(s.runCtx, p.Name())
	if err != nil {
		e1.Close()
		st.Close()
		return err
	}
	release := closer([]bus.Endpoint{e1, e2}, st)
	dev, err := pack.New(pack.Config{PackID: p.Rig.PackID, CAN1: e1, CAN2: e2, Clock: s.deviceClock(p.Name()),
		Logger: s.log.With("device", p.Name()), Authority: s.Authority.PublicKey(), Rand: rand.Reader, Profile: p.prof,
		Store: st, Image: p.Flashed, EntityID: p.EntityID(), CAN1FD: s.fd(p.buses[0]), OnEvent: func(ev pack.Event) {
			select {
			case p.Events <- ev:
			default:
			}
		}})
	if err != nil {
		release()
		return fmt.Errorf("framework: pack %s: %w", p.Name(), err)
	}
	p.Device = dev
	s.power(p.Name(), dev.Run, release)
	return nil
}

// profile is the device's cost profile: the rig's, the role's default, or zero when the
// bring-up asked for functional runs without modelled cost.
func profile(d *rig.Device, def mcu.Profile, zero bool) (mcu.Profile, error) {
	if zero {
		return mcu.Zero(), nil
	}
	if d.Profile == "" {
		return def, nil
	}
	p, err := mcu.ByName(d.Profile)
	if err != nil {
		return mcu.Profile{}, fmt.Errorf("framework: %s: %w", d.Name, err)
	}
	return p, nil
}
