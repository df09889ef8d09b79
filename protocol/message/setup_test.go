package message

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/suite"
)

// detReader is SHA-256 in counter mode over a seed: the same bytes on every run.
type detReader struct {
	seed []byte
	ctr  uint64
	buf  []byte
}

func newReader(seed string) io.Reader { return &detReader{seed: []byte(seed)} }

func (r *detReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			h := sha256.New()
			h.Write(r.seed)
			h.Write(binary.BigEndian.AppendUint64(nil, r.ctr))
			r.ctr++
			r.buf = h.Sum(nil)
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return n, nil
}

func testKey(t testing.TB, name string) *suite.PrivateKey {
	t.Helper()
	s := sha256.Sum256([]byte("hilrun/v1 key " + name))
	k, err := suite.NewPrivateKey(s[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func u16(v uint16) *uint16 { return &v }
func bptr(v bool) *bool    { return &v }
func rptr(v Reason) *Reason {
	return &v
}

// world is a bound pack and module with an authority, ready to pair.
type world struct {
	authority, pack, module, other *suite.PrivateKey
	md                             *PairingMetadata
}

func newWorld(t testing.TB) *world {
	w := &world{
		authority: testKey(t, "authority"),
		pack:      testKey(t, "pack"),
		module:    testKey(t, "module-01"),
		other:     testKey(t, "module-02"),
	}
	w.md = testMetadata(w.pack.Public().KID(), w.module.Public().KID())
	return w
}

func testPolicy() Policy {
	return Policy{ClassCommand: ProtPairing, ClassControl: ProtPairing, ClassEmergency: ProtPairing,
		ClassStatus: ProtClear, ClassTelemetry: ProtExchange, ClassValidation: ProtBinding}
}

func testMetadata(kidA, kidB uint16) *PairingMetadata {
	p := testPolicy()
	return &PairingMetadata{
		V:         Version1,
		PairingID: []byte("pairing-0000-001"),
		Context:   ContextBatteryManagement,
		Entities: []Entity{
			{ID: "PC-12345", Role: RolePack, Addr: canid.AddrPack, KID: kidA,
				Access: AccessData{Type: "can", ChainID: "web4-test", DeviceID: "PC-12345", Endpoint: "0x40"}},
			{ID: "BM-00001", Role: RoleModule, Addr: 0x01, KID: kidB,
				Access: AccessData{Type: "can", ChainID: "web4-test", DeviceID: "BM-00001", Endpoint: "0x01"}},
		},
		Timing:       Timing{CreatedAt: t0.Unix(), ValidFrom: t0.Unix(), ExpiresAt: t0.Add(30 * 24 * time.Hour).Unix()},
		Policy:       p,
		PolicyDigest: p.Digest(),
		Nonce:        []byte("metadata-nonce-1"),
		AEAD:         AlgA256GCM,
	}
}

func (w *world) issue(t testing.TB) *Issued {
	t.Helper()
	is, err := IssuePairingCertificate(w.authority, w.md, w.pack.Public(), w.module.Public(), newReader("issue"))
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func (w *world) open(t testing.TB, cert []byte, self *suite.PrivateKey) *Opened {
	t.Helper()
	o, err := OpenPairingCertificate(cert, PairingExpect{Authority: w.authority.Public(), Self: self,
		Context: ContextBatteryManagement, PairingID: w.md.PairingID}, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func keyHalfID(src, dst uint8) canid.ID {
	return canid.New(canid.TypeKeyHalf, true, canid.LevelExchange, dst, src)
}
