package authority_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/modbatt/hilrun/authority"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// A pack and a module bound and paired through an authority on loopback. The devices here are
// in-process key generators; on a rig they are the app's HTTP API and its CAN relay.
func ExampleStart() {
	dir, err := os.MkdirTemp("", "authority-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	device := authority.KeyGeneratorFunc(func(ctx context.Context, req authority.KeyRequest) (*suite.PublicKey, error) {
		k, err := suite.GenerateKey(rand.Reader) // the private key stays with the device
		if err != nil {
			return nil, err
		}
		return k.Public(), nil
	})
	gens := map[message.Role]authority.KeyGenerator{message.RolePack: device, message.RoleModule: device}
	srv, err := authority.Start(authority.Options{Dir: dir, KeyGenerators: gens}, "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()

	pack := message.AccessData{Type: "can", ChainID: "web4", DeviceID: "PC-12345", Endpoint: "0x40"}
	module := message.AccessData{Type: "can", ChainID: "web4", DeviceID: "BM-00001", Endpoint: "0x01"}
	id, err := srv.Client.Bind(ctx, pack, "pack", module, "module")
	if err != nil {
		log.Fatal(err)
	}
	p, err := srv.Client.IssuePairing(ctx, authority.IssuePairingRequest{BindingID: id, Context: "battery_management",
		Entities: [2]string{"PC-12345", "BM-00001"}})
	if err != nil {
		log.Fatal(err)
	}
	info, _ := srv.Client.Pairing(ctx, p.PairingID)
	fmt.Println(info.Context, info.Status)
	_, err = srv.Client.PartnerKey(ctx, id, "APP-HOST-67890")
	fmt.Println(errors.Is(err, authority.ErrNotAParty))
	l, _ := srv.Client.Ledger(ctx)
	fmt.Println(l.Length, "ledger entries")
	// Output:
	// battery_management issued
	// true
	// 4 ledger entries
}
