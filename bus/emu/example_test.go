package emu_test

import (
	"context"
	"fmt"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/emu"
)

// Two endpoints on a 500 kbit/s bus that runs as fast as possible: the receiver's timestamp is
// the end of the frame on the bus's bit-accurate schedule.
func Example() {
	b, err := emu.New(emu.Config{Pacing: emu.AsFastAsPossible})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	pack, app := b.Join("pack"), b.Join("app")
	ctx := context.Background()

	f := bus.Frame{ID: 0x410, Len: 8}
	if err := pack.Send(ctx, f); err != nil {
		panic(err)
	}
	r, err := app.Receive(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Frame, bus.Timing{Nominal: 500_000}.Duration(&f, bus.WorstCase))
	// Output: 410#0000000000000000 270µs
}

// Fault rules in the syntax of hilrun bus serve --faults.
func ExampleParseFaults() {
	rules, err := emu.ParseFaults("drop:id=0x123/0x7FF,p=0.1,count=5;delay:id=0x100,d=2ms")
	if err != nil {
		panic(err)
	}
	for _, r := range rules {
		fmt.Println(r.Kind, r)
	}
	// Output:
	// drop drop:id=0x123/0x7FF,p=0.1,count=5
	// delay delay:id=0x100,d=2ms
}
