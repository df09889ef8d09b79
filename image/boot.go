package image

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/modbatt/hilrun/protocol/message"
)

// ErrMismatch is returned by Match when a device reports another image than expected.
var ErrMismatch = errors.New("image: device reports another image")

// Node says who sends a boot report.
type Node struct {
	EntityID string
	Role     message.Role
	Addr     uint8 // CAN node address
	State    message.BindState
	KID      *uint16 // current binding KID, nil before binding
}

// Boot returns the L1 announce of kind image that a device sends, in the clear, once it has
// booted img: it carries the running version and the SHA-256 of the image. The announce is
// validated, so a version that cannot be announced is reported here rather than on the bus.
func Boot(img Image, n Node, at time.Time) (*message.Announce, error) {
	a := &message.Announce{
		V:            message.Version1,
		Kind:         message.AnnounceImage,
		EntityID:     n.EntityID,
		Role:         n.Role,
		Addr:         n.Addr,
		State:        n.State,
		ImageVersion: img.Version,
		ImageHash:    append([]byte(nil), img.Hash[:]...),
		KID:          n.KID,
		At:           at.Unix(),
	}
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("image: boot report: %w", err)
	}
	return a, nil
}

// Match checks that an announce reports the expected image (version and hash). Any kind of
// announce carries the running image, so a presence announce answers as well as a boot one.
func Match(a *message.Announce, want Image) error {
	if a == nil {
		return fmt.Errorf("%w: no announce", ErrMismatch)
	}
	if a.ImageVersion != want.Version || !bytes.Equal(a.ImageHash, want.Hash[:]) {
		return fmt.Errorf("%w: %s reports %s sha256:%x, want %s sha256:%s",
			ErrMismatch, a.EntityID, a.ImageVersion, a.ImageHash, want.Version, want.HashHex())
	}
	return nil
}
