package message

import (
	"io"

	"github.com/modbatt/hilrun/protocol/suite"
)

// signMessage encodes m and signs it (COSE_Sign1, ES256) under a domain label. With r nil the
// signature is deterministic (RFC 6979).
func signMessage(k *suite.PrivateKey, domain string, m Structure, r io.Reader) ([]byte, error) {
	payload, err := encode(m)
	if err != nil {
		return nil, err
	}
	return signDomain(k, domain, payload, r)
}

// verifyMessage checks the signer's KID and signature, then decodes the payload strictly.
func verifyMessage[T any, PT interface {
	*T
	Structure
}](pub *suite.PublicKey, domain string, msg []byte) (PT, error) {
	payload, err := verifyDomain(pub, domain, msg)
	if err != nil {
		return nil, err
	}
	m := PT(new(T))
	if err := decode(payload, m); err != nil {
		return nil, err
	}
	return m, nil
}
