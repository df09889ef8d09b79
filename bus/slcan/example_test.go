package slcan_test

import (
	"context"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/slcan"
)

// Driving a CANable or Lawicel adapter (or `hilrun slcan-adapter --link /tmp/ttyCAN0`) at
// 500 kbit/s.
func ExampleOpen() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := slcan.Open(ctx, "/dev/ttyACM0", slcan.Config{Bitrate: 500_000})
	if err != nil {
		return // no adapter here
	}
	defer p.Close()
	_ = p.Send(ctx, bus.Frame{ID: 0x18FF0040, Extended: true, Len: 1, Data: [64]byte{1}})
	if r, err := p.Receive(ctx); err == nil {
		_ = r.Frame
	}
}
