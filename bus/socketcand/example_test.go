package socketcand_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/socketcand"
)

// A socketcand endpoint in front of any source of bus endpoints; python-can then joins with
// can.Bus(interface="socketcand", host="127.0.0.1", port=PORT, channel="can0").
func ExampleNewServer() {
	join := func(ctx context.Context, busName string) (bus.Endpoint, error) {
		if busName != "can0" {
			return nil, fmt.Errorf("no bus %q", busName)
		}
		return nil, fmt.Errorf("join your bus here") // e.g. an emulated bus's Join
	}
	srv := socketcand.NewServer(join, slog.Default())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a real caller cancels on shutdown
	_ = srv.Serve(ctx, ln)
}

// Joining a socketcand server (ours or the real daemon) as a bus.Endpoint.
func ExampleDial() {
	ctx := context.Background()
	ep, err := socketcand.Dial(ctx, "127.0.0.1:29536", "can0")
	if err != nil {
		return
	}
	defer ep.Close()
	_ = ep.Send(ctx, bus.Frame{ID: 0x123, Len: 2, Data: [64]byte{0xAA, 0xBB}})
}
