package flash

import (
	"context"
	"fmt"
	"sync"

	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/protocol/suite"
)

// BootLoader is what an emulated device exposes to be flashed: Receive takes an image and the
// authority's signature over it and refuses it (ErrUnsigned, ErrBadSignature, ErrCorrupt,
// ErrWrongImage) unless both check; Boot starts the last image received and returns its
// identity, which the device then announces.
type BootLoader interface {
	Receive(ctx context.Context, img, sig []byte) error
	Boot(ctx context.Context) (image.Image, error)
}

// Emulated flashes through an emulated device's boot loader.
type Emulated struct {
	Target BootLoader
}

// Flash hands the whole image to the boot loader, then boots it. The image's identity must be
// the one the boot loader reports.
func (e Emulated) Flash(ctx context.Context, img Image, progress Progress) error {
	if len(img.Bytes) == 0 {
		return ErrEmpty
	}
	progress.report(0, len(img.Bytes))
	if err := e.Target.Receive(ctx, img.Bytes, img.Sig); err != nil {
		return fmt.Errorf("flash: emulated boot loader: %w", err)
	}
	progress.report(len(img.Bytes), len(img.Bytes))
	got, err := e.Target.Boot(ctx)
	if err != nil {
		return fmt.Errorf("flash: emulated boot: %w", err)
	}
	if got.Hash != img.ID.Hash || got.Name != img.ID.Name || got.Version != img.ID.Version {
		return fmt.Errorf("%w: booted %s, flashed %s", ErrWrongImage, got, img.ID)
	}
	return nil
}

// Loader is a BootLoader for in-process devices: it accepts images named Name signed by
// Authority, keeps the received one, and on Boot makes it the running image.
type Loader struct {
	Name      string // the image this device runs: "firmware" or "gateway"
	Authority *suite.PublicKey

	mu      sync.Mutex
	pending []byte
	pendID  image.Image
	running image.Image
	booted  bool
}

// NewLoader makes a boot loader for images named name signed by authority.
func NewLoader(name string, authority *suite.PublicKey) *Loader {
	return &Loader{Name: name, Authority: authority}
}

// Receive verifies and stores img.
func (l *Loader) Receive(ctx context.Context, img, sig []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(img) == 0 {
		return ErrEmpty
	}
	id, err := Verify(l.Authority, img, sig)
	if err != nil {
		return err
	}
	if id.Name != l.Name {
		return fmt.Errorf("%w: %q, this device runs %q", ErrWrongImage, id.Name, l.Name)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = append([]byte(nil), img...)
	l.pendID = id
	return nil
}

// CheckOffer refuses, before the bytes go over, an image whose offer is unsigned, signed by
// another key, names another hash than the one signed, or is another device's image
// (fwxfer.OfferChecker).
func (l *Loader) CheckOffer(ctx context.Context, size int, hash [32]byte, sig []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if size <= 0 {
		return ErrEmpty
	}
	id, err := VerifyClaims(l.Authority, sig, hash)
	if err != nil {
		return err
	}
	if id.Name != l.Name {
		return fmt.Errorf("%w: %q, this device runs %q", ErrWrongImage, id.Name, l.Name)
	}
	return nil
}

// Boot starts the received image.
func (l *Loader) Boot(ctx context.Context) (image.Image, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		return image.Image{}, ErrNoImage
	}
	l.running, l.booted = l.pendID, true
	return l.running, nil
}

// Running is the identity of the booted image.
func (l *Loader) Running() (image.Image, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.running, l.booted
}

// Image returns a copy of the received image bytes.
func (l *Loader) Image() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.pending...)
}
