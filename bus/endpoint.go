package bus

import (
	"context"
	"time"
)

// Received is a frame with the time it was seen on the bus.
type Received struct {
	Frame Frame
	Time  time.Time
}

// Stats are an endpoint's counters since it was opened.
type Stats struct {
	TxFrames  uint64 // frames accepted for transmission
	RxFrames  uint64 // frames delivered to Receive
	TxErrors  uint64 // sends that failed
	RxDropped uint64 // frames lost before delivery (queue overflow, bad input)
	BusOff    uint64 // bus-off events seen
}

// Endpoint is one attachment to a CAN bus. Every transport (SocketCAN, slcan, the emulated bus)
// provides it, and every device and suite speaks only to it.
//
// Send queues a frame and returns once the transport has accepted it; it fails with ErrNoFD when
// the transport cannot carry an FD frame, with ErrBusOff while the controller is bus-off, and with
// ErrClosed after Close. Receive blocks until a frame arrives, the context ends, or the endpoint
// fails; a bus-off event is reported as an error wrapping ErrBusOff, after which Receive may be
// called again. Frames an endpoint sends are not delivered back to it.
type Endpoint interface {
	Send(ctx context.Context, f Frame) error
	Receive(ctx context.Context) (Received, error)
	Stats() Stats
	Close() error
}

// Capabilities says what a transport can carry.
type Capabilities struct {
	FD      bool // CAN FD frames
	Remote  bool // remote frames
	Bitrate int  // nominal bitrate in bit/s, 0 when unknown
}

// Describer is implemented by endpoints that can report their capabilities.
type Describer interface {
	Capabilities() Capabilities
}
