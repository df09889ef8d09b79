package message_test

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

type counterReader struct{ n byte }

func (r *counterReader) Read(p []byte) (int, error) {
	for i := range p {
		r.n++
		p[i] = r.n
	}
	return len(p), nil
}

func fixedKey(name string) *suite.PrivateKey {
	s := sha256.Sum256([]byte(name))
	k, _ := suite.NewPrivateKey(s[:])
	return k
}

// The authority issues a pairing certificate; the pack and a module open their sections, swap
// halves under the exchange key and derive the same pairing key, then the pack sends an L5
// command.
func Example() {
	authority, pack, module := fixedKey("authority"), fixedKey("pack"), fixedKey("module")
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	access := message.AccessData{Type: "can", ChainID: "web4-test", DeviceID: "dev", Endpoint: "0x40"}
	policy := message.Policy{message.ClassCommand: message.ProtPairing}
	md := &message.PairingMetadata{V: 1, PairingID: []byte("pairing-0000-001"), Context: message.ContextBatteryManagement,
		Entities: []message.Entity{
			{ID: "PC-1", Role: message.RolePack, Addr: canid.AddrPack, KID: pack.Public().KID(), Access: access},
			{ID: "BM-1", Role: message.RoleModule, Addr: 0x01, KID: module.Public().KID(), Access: access}},
		Timing: message.Timing{CreatedAt: now.Unix(), ValidFrom: now.Unix(), ExpiresAt: now.Add(24 * time.Hour).Unix()},
		Policy: policy, PolicyDigest: policy.Digest(), Nonce: make([]byte, 16), AEAD: message.AlgA256GCM}
	issued, err := message.IssuePairingCertificate(authority, md, pack.Public(), module.Public(), &counterReader{})
	if err != nil {
		panic(err)
	}

	open := func(self *suite.PrivateKey) *message.Opened {
		o, err := message.OpenPairingCertificate(issued.Certificate, message.PairingExpect{
			Authority: authority.Public(), Self: self, Context: message.ContextBatteryManagement}, now)
		if err != nil {
			panic(err)
		}
		return o
	}
	p, m := open(pack), open(module)

	toModule := canid.New(canid.TypeKeyHalf, true, canid.LevelExchange, 0x01, canid.AddrPack)
	toPack := canid.New(canid.TypeKeyHalf, true, canid.LevelExchange, canid.AddrPack, 0x01)
	halfA, _ := p.SealKeyHalf(toModule, 0)
	halfB, _ := m.SealKeyHalf(toPack, 0)
	gotB, _ := p.OpenKeyHalf(toPack, halfB)
	gotA, _ := m.OpenKeyHalf(toModule, halfA)

	secretP, _ := suite.BindingSecret(pack, module.Public())
	secretM, _ := suite.BindingSecret(module, pack.Public())
	keysP, keysM := p.PairingKeys(secretP, gotB), m.PairingKeys(secretM, gotA)
	fmt.Println("same pairing key:", keysP.Key == keysM.Key)

	id := canid.New(canid.TypeCommand, true, canid.LevelPairing, 0x01, canid.AddrPack)
	on, limit := true, uint16(500)
	cmd := &message.Command{V: 1, Code: message.CmdChargeDischarge, Seq: 1, IssuedAt: now.Unix(), Target: 0x01,
		ChargeEnable: &on, DischargeEnable: &on, ChargeLimit: &limit, DischargeLimit: &limit}
	env, _ := message.SealMessage(suite.NewLevelChannel(keysP.Send(true)), id, 1, cmd)
	_, got, _, err := message.OpenCommand(suite.NewLevelChannel(keysM.Receive(false)), id, env)
	fmt.Println(got.Code, err)
	// Output:
	// same pairing key: true
	// charge-discharge <nil>
}
