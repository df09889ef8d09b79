package isotp_test

import (
	"fmt"
	"time"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/isotp"
)

// A device loop feeds its node every frame and tick, and sends what the node returns.
func ExampleNode() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	module, _ := isotp.NewNode(0x01, isotp.ProfileV1())
	pack, _ := isotp.NewNode(canid.AddrPack, isotp.ProfileV1())

	id := canid.New(canid.TypeCommand, true, canid.LevelPairing, canid.AddrPack, 0x01)
	out, _ := module.Send(isotp.Message{ID: id, Data: make([]byte, 20)}, now)
	for len(out.Frames) > 0 {
		var next isotp.Output
		for _, f := range out.Frames {
			fmt.Println(f)
			// Here the frames would go through a bus.Endpoint; every node sees every frame.
			for _, n := range []*isotp.Node{module, pack} {
				o, err := n.HandleFrame(f, now)
				if err == nil {
					next.Frames = append(next.Frames, o.Frames...)
					next.Messages = append(next.Messages, o.Messages...)
				}
			}
		}
		for _, m := range next.Messages {
			fmt.Printf("pack received %d bytes from 0x%02X\n", len(m.Data), m.ID.Src)
		}
		out = next
	}
	// Output:
	// 04864001#1014000000000000
	// 04860140#300000CCCCCCCCCC
	// 04864001#2100000000000000
	// 04864001#2200000000000000
	// pack received 20 bytes from 0x01
}
