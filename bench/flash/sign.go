package flash

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/protocol/suite"
)

// imageAAD is the COSE external AAD of an image signature, so a signature made for any other
// structure never verifies as one over an image.
var imageAAD = []byte("web4/v1/image")

// claims is the signed payload: a CBOR map with integer keys, deterministic encoding.
type claims struct {
	Name    string `cbor:"1,keyasint"`
	Version string `cbor:"2,keyasint"`
	Hash    []byte `cbor:"3,keyasint"`
}

var (
	claimEnc cbor.EncMode
	claimDec cbor.DecMode
)

func init() {
	var err error
	if claimEnc, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err) // fixed options; cannot fail
	}
	if claimDec, err = (cbor.DecOptions{DupMapKey: cbor.DupMapKeyEnforcedAPF, IndefLength: cbor.IndefLengthForbidden, ExtraReturnErrors: cbor.ExtraDecErrorUnknownField}).DecMode(); err != nil {
		panic(err)
	}
}

// Sign makes the authority's signature over an image's name, version and hash: a COSE_Sign1
// (ES256, deterministic) whose payload is {1: name, 2: version, 3: sha256}.
func Sign(key *suite.PrivateKey, id image.Image) ([]byte, error) {
	payload, err := claimEnc.Marshal(claims{Name: id.Name, Version: id.Version, Hash: id.Hash[:]})
	if err != nil {
		return nil, fmt.Errorf("flash: sign: %w", err)
	}
	return suite.Sign1(key, payload, imageAAD, nil)
}

// SignImage returns img with its identity recomputed from its bytes and signed by key.
func SignImage(key *suite.PrivateKey, img Image) (Image, error) {
	img.ID.Hash = sha256.Sum256(img.Bytes)
	sig, err := Sign(key, img.ID)
	if err != nil {
		return img, err
	}
	img.Sig = sig
	return img, nil
}

// VerifyClaims checks a signature by the authority key pub over an image's identity and that
// it names the hash an offer announces, before the bytes are there (an update over CAN checks
// its offer this way); the bytes are checked against the hash when they have arrived.
func VerifyClaims(pub *suite.PublicKey, sig []byte, hash [sha256.Size]byte) (image.Image, error) {
	if len(sig) == 0 {
		return image.Image{}, ErrUnsigned
	}
	payload, err := suite.Verify1(pub, sig, imageAAD)
	if err != nil {
		return image.Image{}, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	var c claims
	if err := claimDec.Unmarshal(payload, &c); err != nil || len(c.Hash) != sha256.Size || c.Name == "" {
		return image.Image{}, fmt.Errorf("%w: malformed claims", ErrBadSignature)
	}
	if !bytes.Equal(hash[:], c.Hash) {
		return image.Image{}, fmt.Errorf("%w: sha256 %x, signed %x", ErrCorrupt, hash[:8], c.Hash[:8])
	}
	id := image.Image{Name: c.Name, Version: c.Version, Hash: hash}
	return id, nil
}

// Verify checks an image's bytes against a signature by the authority key pub and returns the
// identity the signature states (the commit is not signed and is left empty).
func Verify(pub *suite.PublicKey, b, sig []byte) (image.Image, error) {
	return VerifyClaims(pub, sig, sha256.Sum256(b))
}
