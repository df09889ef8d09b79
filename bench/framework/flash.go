package framework

import (
	"context"
	"fmt"
	"os"

	"github.com/modbatt/hilrun/bench/flash"
	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/image"
)

// Unbuilt is the version in-process devices report when their image could not be built.
const Unbuilt = "unbuilt"

// SignedImage is the built image of that name, read from its file and signed with the
// bring-up's release key, as a release hands it to a flasher.
func (s *System) SignedImage(name string) (flash.Image, error) {
	built, ok := s.Images[name]
	if !ok {
		return flash.Image{}, fmt.Errorf("%w: %s: %v", ErrImageMissing, name, s.Missing["image "+name])
	}
	data, err := os.ReadFile(built.Path)
	if err != nil {
		return flash.Image{}, fmt.Errorf("framework: %w", err)
	}
	return flash.SignImage(s.SigningKey, flash.Image{Bytes: data, ID: built.Image, Path: built.Path})
}

// Flash writes img to a device of the rig through the device's flashing method (the
// emulated boot loader, which trusts the release key, on an emulated rig) and returns the
// identity the device booted and the bytes it holds. It does not power anything on.
func (s *System) Flash(ctx context.Context, d *rig.Device, img flash.Image) (image.Image, []byte, error) {
	loader := flash.NewLoader(d.Image, s.SigningKey.Public())
	f, err := flash.New(s.Rig, d, flash.Options{Clock: s.Clock, Log: s.log,
		BootLoader: func(*rig.Device) (flash.BootLoader, error) { return loader, nil }})
	if err != nil {
		return image.Image{}, nil, fmt.Errorf("framework: flash %s: %w", d.Name, err)
	}
	if err := f.Flash(ctx, img, nil); err != nil {
		return image.Image{}, nil, fmt.Errorf("framework: flash %s: %w", d.Name, err)
	}
	running, ok := loader.Running()
	if !ok {
		return image.Image{}, nil, fmt.Errorf("framework: flash %s: %w", d.Name, flash.ErrNoImage)
	}
	running.Commit = img.ID.Commit // the signature covers name, version and hash
	return running, loader.Image(), nil
}

// flash puts the built image on a device at bring-up and returns the identity it booted
// and the bytes it holds.
func (s *System) flash(ctx context.Context, d *rig.Device) (image.Image, []byte, error) {
	if d.Image == "" {
		return image.Image{}, nil, nil
	}
	if _, ok := s.Images[d.Image]; !ok {
		if s.Programs {
			return image.Image{}, nil, fmt.Errorf("%w: %s cannot run as a program: %v", ErrImageMissing, d.Name, s.Missing["image "+d.Image])
		}
		// The image's package has not landed: the in-process device still runs, and
		// qualification knows from Missing that nothing was built or flashed.
		return image.Image{Name: d.Image, Version: Unbuilt, Commit: "unknown"}, nil, nil
	}
	img, err := s.SignedImage(d.Image)
	if err != nil {
		return image.Image{}, nil, err
	}
	return s.Flash(ctx, d, img)
}
