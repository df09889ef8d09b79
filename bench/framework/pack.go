package framework

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/gateway/pack"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/mcu"
)

// Pack is the pack controller of the rig, running in-process.
type Pack struct {
	*pack.Device
	Rig     rig.Device
	Flashed image.Image
	Events  chan pack.Event // the pack's legacy events; dropped when nobody keeps up
}

// Name is the device's name in the rig file.
func (p *Pack) Name() string { return p.Rig.Name }

func (s *System) startPack(ctx context.Context, d *rig.Device, zero bool) (*Pack, error) {
	names := d.Buses
	if len(names) < 2 {
		names = []string{"can1", "can2"}
	}
	b1, ok1 := s.buses[names[0]]
	b2, ok2 := s.buses[names[1]]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("framework: pack %s: buses %v are not buses of the rig", d.Name, names)
	}
	prof, err := profile(d, mcu.STM32WB55(), zero)
	if err != nil {
		return nil, err
	}
	img, err := s.flash(d)
	if err != nil {
		return nil, err
	}
	p := &Pack{Rig: *d, Flashed: img, Events: make(chan pack.Event, 1024)}
	dev, err := pack.New(pack.Config{PackID: d.PackID, CAN1: b1.Join(d.Name), CAN2: b2.Join(d.Name), Clock: s.Clock,
		Logger: s.log.With("device", d.Name), Authority: s.Authority.PublicKey(), Rand: rand.Reader, Profile: prof,
		Image: img, OnEvent: func(ev pack.Event) {
			select {
			case p.Events <- ev:
			default:
			}
		}})
	if err != nil {
		return nil, fmt.Errorf("framework: pack %s: %w", d.Name, err)
	}
	p.Device = dev
	s.run(ctx, d.Name, dev.Run)
	return p, nil
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
