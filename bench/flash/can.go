package flash

import (
	"context"

	"github.com/modbatt/hilrun/bench/flash/fwxfer"
)

// CAN updates a module over CAN with the fwxfer transfer: offer, chunks with acknowledgements,
// commit. The module's boot loader checks the image's hash and signature at commit. Encryption
// under the firmware_update pairing is the Sender's Protect (see package fwxfer).
type CAN struct {
	Sender *fwxfer.Sender
}

// Flash sends img; progress counts acknowledged bytes.
func (c CAN) Flash(ctx context.Context, img Image, progress Progress) error {
	if len(img.Bytes) == 0 {
		return ErrEmpty
	}
	return c.Sender.Send(ctx, img.Bytes, img.Sig, progress)
}
