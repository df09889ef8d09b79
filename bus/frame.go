// Package bus is the vocabulary every CAN transport, device and tool in hilrun speaks: a frame,
// an endpoint that sends and receives frames, and the bit-accurate wire time of a frame.
// It does no I/O; transports live in the packages below it.
package bus

import (
	"errors"
	"fmt"
)

// Frame is one CAN or CAN FD data or remote frame.
type Frame struct {
	ID       uint32 // 11-bit when Extended is false, 29-bit otherwise
	Extended bool   // IDE: 29-bit identifier
	Remote   bool   // RTR (classic only)
	FD       bool   // FDF: CAN FD frame
	BRS      bool   // bit-rate switch (FD only)
	ESI      bool   // error state indicator (FD only)
	Len      uint8  // payload length in bytes: 0–8 classic, a valid FD length for FD
	Data     [64]byte
}

// Payload returns the frame's data bytes (Len of them).
// A Len beyond the data array (an invalid frame) is clamped, so inspecting a bad frame never panics.
func (f *Frame) Payload() []byte { return f.Data[:min(int(f.Len), MaxFDLen)] }

// Limits of identifiers and payloads.
const (
	MaxStandardID = 0x7FF
	MaxExtendedID = 0x1FFFFFFF
	MaxClassicLen = 8
	MaxFDLen      = 64
)

// fdLengths are the payload lengths a CAN FD DLC can express.
var fdLengths = [16]uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64}

// FDLenToDLC returns the DLC that carries n bytes in a CAN FD frame; n must be a valid FD length.
func FDLenToDLC(n int) (uint8, bool) {
	for dlc, l := range fdLengths {
		if int(l) == n {
			return uint8(dlc), true
		}
	}
	return 0, false
}

// DLCToLen returns the payload length for a DLC (classic frames clamp DLC 9–15 to 8).
func DLCToLen(dlc uint8, fd bool) int {
	dlc &= 0x0F
	if !fd {
		if dlc > 8 {
			return 8
		}
		return int(dlc)
	}
	return int(fdLengths[dlc])
}

// FDPadLen returns the smallest valid CAN FD length that holds n bytes (n ≤ 64).
func FDPadLen(n int) int {
	for _, l := range fdLengths {
		if int(l) >= n {
			return int(l)
		}
	}
	return MaxFDLen
}

// FrameError reports a frame that no CAN controller could put on the wire.
type FrameError struct {
	Frame  Frame
	Reason string
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("invalid CAN frame (id 0x%X): %s", e.Frame.ID, e.Reason)
}

// Validate checks identifier width, length and flag combinations.
func (f *Frame) Validate() error {
	bad := func(r string) error { return &FrameError{Frame: *f, Reason: r} }
	switch {
	case f.Extended && f.ID > MaxExtendedID:
		return bad("extended identifier wider than 29 bits")
	case !f.Extended && f.ID > MaxStandardID:
		return bad("standard identifier wider than 11 bits")
	case f.FD && f.Remote:
		return bad("CAN FD has no remote frames")
	case !f.FD && (f.BRS || f.ESI):
		return bad("BRS/ESI set on a classic frame")
	case !f.FD && f.Len > MaxClassicLen:
		return bad(fmt.Sprintf("classic frame with %d bytes", f.Len))
	case f.FD:
		if _, ok := FDLenToDLC(int(f.Len)); !ok {
			return bad(fmt.Sprintf("%d bytes is not a CAN FD length", f.Len))
		}
	}
	return nil
}

// String renders the frame in candump's compact syntax: 123#11223344, 12345678#R, 123##1AABB.
func (f Frame) String() string {
	id := fmt.Sprintf("%03X", f.ID)
	if f.Extended {
		id = fmt.Sprintf("%08X", f.ID)
	}
	if f.Remote {
		if f.Len > 0 {
			return fmt.Sprintf("%s#R%d", id, f.Len)
		}
		return id + "#R"
	}
	sep := "#"
	if f.FD {
		flags := 0
		if f.BRS {
			flags |= 1
		}
		if f.ESI {
			flags |= 2
		}
		sep = fmt.Sprintf("##%X", flags)
	}
	return fmt.Sprintf("%s%s%X", id, sep, f.Payload())
}

// Errors every transport reports the same way, so callers can tell them apart with errors.Is.
var (
	ErrClosed    = errors.New("bus: endpoint closed")
	ErrBusOff    = errors.New("bus: controller is bus-off")
	ErrNoFD      = errors.New("bus: transport cannot carry CAN FD frames")
	ErrTxFull    = errors.New("bus: transmit queue full")
	ErrUnplugged = errors.New("bus: adapter unplugged")
)
