package pack_test

import (
	"context"
	"fmt"
	"time"

	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/gateway/pack"
	"github.com/modbatt/hilrun/legacy"
)

// A pack controller on two emulated buses, legacy only: a module announces itself on CAN2 and
// is registered; the app asks for the module list on CAN1.
func ExampleNew() {
	can1, _ := emu.New(emu.Config{Pacing: emu.AsFastAsPossible})
	can2, _ := emu.New(emu.Config{Pacing: emu.AsFastAsPossible})
	defer can1.Close()
	defer can2.Close()
	registered := make(chan pack.EventRegistered, 1)
	dev, err := pack.New(pack.Config{CAN1: can1.Join("pack"), CAN2: can2.Join("pack"), Clock: clock.Real{},
		OnEvent: func(e pack.Event) {
			if r, ok := e.(pack.EventRegistered); ok {
				registered <- r
			}
		}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go dev.Run(ctx)

	module, app := can2.Join("module"), can1.Join("app")
	ann, _ := legacy.EncodeModule(&legacy.Announcement{Manufacturer: 0x4D, Part: 1, UniqueID: 0xCAFE}, legacy.ModuleUnregistered, 0)
	module.Send(ctx, ann)
	r := <-registered
	fmt.Printf("module %#x registered as %d\n", r.UniqueID, r.ModuleID)

	req, _ := legacy.EncodeApp(&legacy.ModuleListRequest{}, 0)
	app.Send(ctx, req)
	for {
		got, err := app.Receive(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		if d, err := legacy.Decode(got.Frame); err == nil && d.Msg.MsgID() == legacy.IDModuleList {
			fmt.Println("module list:", got.Frame.String())
			return
		}
	}
	// Output:
	// module 0xcafe registered as 1
	// module list: 41F#0200000000000000
}
