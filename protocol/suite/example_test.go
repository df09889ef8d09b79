package suite_test

import (
	"bytes"
	"fmt"

	"github.com/modbatt/hilrun/protocol/suite"
)

// A pack (entity A) and a module (entity B) derive their pairing keys from the binding secret
// and the two halves, then exchange an L5 command and its ACK.
func Example() {
	pack, _ := suite.NewPrivateKey(bytes.Repeat([]byte{0x11}, 32))
	module, _ := suite.NewPrivateKey(bytes.Repeat([]byte{0x22}, 32))

	// Each side computes the binding secret once, at binding.
	packSecret, _ := suite.BindingSecret(pack, module.Public())
	moduleSecret, _ := suite.BindingSecret(module, pack.Public())

	halfA, halfB := bytes.Repeat([]byte{0xA0}, 32), bytes.Repeat([]byte{0xB0}, 32)
	hash := bytes.Repeat([]byte{0x5A}, 32)
	pk := suite.DerivePairingKeys(packSecret, halfA, halfB, hash, []byte("pairing-1"), "battery_management")
	mk := suite.DerivePairingKeys(moduleSecret, halfA, halfB, hash, []byte("pairing-1"), "battery_management")

	const cmdID, ackID = 0x04850140, 0x08854001 // illustrative identifiers: pack→module 1, module 1→pack
	cmd := suite.NewLevelChannel(pk.Send(true)).Seal(cmdID, 7, []byte("contactor on"), nil)
	ctr, pt, err := suite.NewLevelChannel(mk.Receive(false)).Open(cmdID, cmd, nil)
	fmt.Println(len(cmd), ctr, string(pt), err)

	ack := suite.NewLevelChannel(mk.Send(false)).Seal(ackID, 7, []byte{0}, nil)
	_, _, err = suite.NewLevelChannel(pk.Receive(true)).Open(ackID, ack, nil)
	fmt.Println(len(ack), err)
	// Output:
	// 32 7 contactor on <nil>
	// 21 <nil>
}
