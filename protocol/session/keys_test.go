package session

import "github.com/modbatt/hilrun/protocol/suite"

func suiteDerive(secret, a, b, md []byte) suite.PairingKeys {
	return suite.DerivePairingKeys(secret, a, b, md, []byte("pairing-0001xxxx"), "battery_management")
}
