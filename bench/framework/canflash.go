package framework

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/modbatt/hilrun/bench/flash"
	"github.com/modbatt/hilrun/image"
)

// ErrCANFlash is wrapped by the errors of FlashOverCAN that are not the transfer's own (the
// module's refusals come as *fwxfer.RefusedError with its status).
var ErrCANFlash = errors.New("framework: update over CAN")

// FlashOverCAN updates a module of the rig over CAN through the pack, as rig files name it
// (flash: {method: can, via: pack}; docs/protocol.md 4.14): it binds the app to the pack and
// the pack to the module where that was not done yet, pairs both hops in the firmware_update
// context (replacing the links' current pairings), sends the image the build made (its bytes
// from b.Path, signed with the bring-up's release key over the identity b names, so a file
// changed after the build is refused as corrupted) from the app, and waits until the module's
// boot report names exactly b's version and hash. progress (may be nil) is told the bytes the
// module acknowledged. On success the module's Flashed identity and Reports follow the new
// image, so a later power cycle boots it.
//
// It needs a System that is up in-process (not Programs) or a real module, with the app, the
// pack and the module powered. An in-process module's boot loader is the emulated one
// trusting the release key.
func (s *System) FlashOverCAN(ctx context.Context, module string, b Built, progress func(sent, total int)) error {
	switch {
	case s.Programs:
		return fmt.Errorf("%w: the devices run as programs; an update over CAN needs the in-process module's boot loader", ErrUnsupported)
	case s.App == nil || s.Pack == nil:
		return fmt.Errorf("%w: needs the app and the pack powered", ErrCANFlash)
	}
	m, ok := s.Module(module)
	if !ok {
		return fmt.Errorf("%w: no module %q on the rig", ErrCANFlash, module)
	}
	data, err := os.ReadFile(b.Path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCANFlash, err)
	}
	sig, err := flash.Sign(s.SigningKey, b.Image)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCANFlash, err)
	}
	name := m.Rig.Image
	if name == "" {
		name = "firmware"
	}
	if m.Device != nil { // in-process; a real module's boot loader holds its own trust anchor
		m.SetBootLoader(flash.NewLoader(name, s.SigningKey.Public()))
	}

	a, pack, entity := s.App, s.Pack.EntityID(), m.EntityID()
	if _, ok := a.BindingID(a.Access().DeviceID, pack); !ok {
		if _, err := a.BindPack(ctx); err != nil {
			return fmt.Errorf("%w: %w", ErrCANFlash, err)
		}
	}
	if _, ok := a.BindingID(pack, entity); !ok {
		if _, err := a.BindModule(ctx, entity); err != nil {
			return fmt.Errorf("%w: %w", ErrCANFlash, err)
		}
	}
	if err := a.PairForUpdate(ctx, entity); err != nil {
		return fmt.Errorf("%w: %w", ErrCANFlash, err)
	}
	rep, err := a.UpdateModule(ctx, entity, data, sig, progress)
	if err != nil {
		return err
	}
	if err := image.Match(rep, b.Image); err != nil {
		return fmt.Errorf("%w: %w", ErrCANFlash, err)
	}
	s.mu.Lock()
	s.Reports[entity] = rep
	s.mu.Unlock()
	m.Flashed, m.flashed = b.Image, data
	return nil
}
