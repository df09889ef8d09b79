package framework

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/modbatt/hilrun/bench/flash"
	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/image"
)

// IsHardware reports whether a device of the rig is real silicon: a pack or module that the
// bench flashes through the STM32 boot loader, an external tool or an update over CAN.
// Devices flashed by the emulated boot loader run in-process (or as programs), whatever
// transport their buses use.
func IsHardware(d *rig.Device) bool {
	if d.Role != rig.RolePack && d.Role != rig.RoleModule {
		return false
	}
	switch d.Flash.Method {
	case rig.FlashSTM32UART, rig.FlashCommand, rig.FlashCAN:
		return true
	}
	return false
}

// HasHardware reports whether any device of the rig is real silicon.
func HasHardware(r *rig.Rig) bool {
	for i := range r.Devices {
		if IsHardware(&r.Devices[i]) {
			return true
		}
	}
	return false
}

// settle is how long a real device's supply stays off in a power cycle, so that its
// regulators discharge and it resets.
const settle = 500 * time.Millisecond

// startHardware flashes a real device by its rig method, power-cycles it, and records it
// as powered; its boot is then watched on the bus like any other device's. A module
// updated over CAN is only powered here: the update needs the pack and the app, and runs
// once they are up (updateOverCAN).
func (s *System) startHardware(ctx context.Context, d *rig.Device) (image.Image, error) {
	if d.Image == "" {
		return image.Image{}, fmt.Errorf("framework: %s: a real device needs an image to flash", d.Name)
	}
	built, ok := s.Images[d.Image]
	if !ok {
		return image.Image{}, fmt.Errorf("%w: %s cannot be flashed: %v", ErrImageMissing, d.Name, s.Missing["image "+d.Image])
	}
	if err := s.switchPower(ctx, d.Name, true); err != nil {
		return image.Image{}, err
	}
	s.markPowered(d.Name)
	if d.Flash.Method == rig.FlashCAN {
		return built.Image, nil
	}
	img, err := s.SignedImage(d.Image)
	if err != nil {
		return image.Image{}, err
	}
	f, err := flash.New(s.Rig, d, flash.Options{Clock: s.Clock, Log: s.log})
	if err != nil {
		return image.Image{}, fmt.Errorf("framework: flash %s: %w", d.Name, err)
	}
	s.log.Info("flashing", "device", d.Name, "method", d.Flash.Method, "image", built.Name, "version", built.Version, "bytes", len(img.Bytes))
	if err := f.Flash(ctx, img, s.progress(d.Name)); err != nil {
		return image.Image{}, fmt.Errorf("framework: flash %s (%s): %w", d.Name, d.Flash.Method, err)
	}
	// A clean boot from the new image, not a jump from the boot loader.
	if err := s.switchPower(ctx, d.Name, false); err != nil {
		return image.Image{}, err
	}
	if err := clock.Sleep(ctx, s.Clock, settle); err != nil {
		return image.Image{}, err
	}
	if err := s.switchPower(ctx, d.Name, true); err != nil {
		return image.Image{}, err
	}
	return built.Image, nil
}

// progress logs an image going over in tenths.
func (s *System) progress(name string) flash.Progress {
	last := -1
	return func(done, total int) {
		if total <= 0 {
			return
		}
		if tenth := done * 10 / total; tenth != last {
			last = tenth
			s.log.Info("flash progress", "device", name, "bytes", done, "of", total, "percent", done*100/total)
		}
	}
}

// switchPower switches a real device through the rig's power control. With power kind
// none the bench cannot switch it and assumes it is on.
func (s *System) switchPower(ctx context.Context, name string, on bool) error {
	if s.powerSwitch == nil {
		return nil
	}
	if err := s.powerSwitch.Set(ctx, name, on); err != nil {
		return fmt.Errorf("framework: power: %w", err)
	}
	return nil
}

// markPowered records a real device as on, so that PowerOff switches it off.
func (s *System) markPowered(name string) {
	done := make(chan struct{})
	close(done)
	s.mu.Lock()
	s.units[name] = &unit{cancel: func() {}, done: done, release: nil, hardware: true}
	s.mu.Unlock()
}

// ErrNoCANUpdate is returned when a rig asks for a module update over CAN of an image that
// was not built.
var ErrNoCANUpdate = errors.New("framework: module update over CAN is not available")

// updateOverCAN brings a real module that the rig flashes over CAN to the built image,
// through the pack, once the app and the pack are up.
func (s *System) updateOverCAN(ctx context.Context, m *Module) error {
	b, ok := s.Images[m.Rig.Image]
	if !ok {
		return fmt.Errorf("%w: %s: image %s was not built", ErrNoCANUpdate, m.Name(), m.Rig.Image)
	}
	s.log.Info("updating over CAN", "device", m.Name(), "via", m.Rig.Flash.Via, "version", b.Version)
	if err := s.FlashOverCAN(ctx, m.Name(), b, s.progress(m.Name())); err != nil {
		return fmt.Errorf("framework: %s (flash method can via %s): %w", m.Name(), m.Rig.Flash.Via, err)
	}
	return nil
}
