// Package flash puts a built image on a device. Every method is a Flasher: the emulated
// device's boot loader (Emulated), the STM32 system boot loader over a serial port
// (STM32UART, protocol in package an3155), an external tool run from a command template
// (Command), and a module update over CAN under a firmware_update pairing (CAN, transfer
// protocol in package fwxfer). New builds the Flasher a rig file asks for.
//
// Images carry the authority's signature over their name, version and hash (Sign); the
// emulated boot loader refuses an image whose bytes or signature do not check.
package flash

import (
	"context"
	"errors"

	"github.com/modbatt/hilrun/image"
)

// Image is what a Flasher writes: the bytes and their identity, optionally the file they came
// from (command templates name it) and the authority's signature (Sign).
type Image struct {
	Bytes []byte
	ID    image.Image
	Path  string // file holding Bytes, if any
	Sig   []byte // COSE_Sign1 over (name, version, hash); nil when unsigned
}

// Progress is told how many bytes are done out of total. It may be nil.
type Progress func(done, total int)

func (p Progress) report(done, total int) {
	if p != nil {
		p(done, total)
	}
}

// Flasher writes an image to one device.
type Flasher interface {
	Flash(ctx context.Context, img Image, progress Progress) error
}

// Errors a caller may tell apart; each is wrapped with the details.
var (
	ErrUnsigned     = errors.New("flash: image is not signed")
	ErrBadSignature = errors.New("flash: image signature does not verify")
	ErrCorrupt      = errors.New("flash: image bytes do not match their hash")
	ErrWrongImage   = errors.New("flash: image is not the one this device runs")
	ErrNoImage      = errors.New("flash: no image received")
	ErrVerify       = errors.New("flash: read-back differs from the image")
	ErrTool         = errors.New("flash: tool failed")
	ErrMethod       = errors.New("flash: method not available")
	ErrEmpty        = errors.New("flash: empty image")
)
