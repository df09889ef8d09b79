package message

import (
	"errors"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/suite"
)

// sentinels are the package's error kinds; a tamper case must match exactly one of them.
var sentinels = map[error]string{
	ErrMalformed: "malformed", ErrNonCanonical: "non-canonical", ErrUnknownField: "unknown field",
	ErrMissingField: "missing field", ErrWrongType: "wrong type", ErrSize: "size", ErrVersion: "version",
	ErrAlgorithm: "algorithm", ErrInvalid: "invalid", ErrPolicyDigest: "policy digest", ErrEntity: "entity",
	ErrSignature: "signature", ErrWrongKey: "wrong key", ErrDecrypt: "decrypt", ErrMAC: "mac",
	ErrMetadataHash: "metadata hash", ErrPairingID: "pairing id", ErrBindingID: "binding id",
	ErrContext: "context", ErrIndex: "index", ErrNonce: "nonce", ErrSubject: "subject", ErrIssuer: "issuer",
	ErrKeyMismatch: "key mismatch", ErrCommandHash: "command hash", ErrCommandSeq: "command seq",
	ErrProofMissing: "proof missing", ErrExpired: "expired", ErrNotYetValid: "not yet valid",
	ErrClockSkew: "clock skew",
}

func kinds(err error) []string {
	var out []string
	for s, name := range sentinels {
		if errors.Is(err, s) {
			out = append(out, name)
		}
	}
	return out
}

// expectKind fails unless err matches want and no other sentinel.
func expectKind(t *testing.T, name string, err, want error) {
	t.Helper()
	k := kinds(err)
	if err == nil || !errors.Is(err, want) || len(k) != 1 {
		t.Errorf("%s: got %v (kinds %v), want only %q", name, err, k, sentinels[want])
	}
}

// swapPayload replaces a COSE_Sign1's payload and keeps its signature: tampering in transit.
func swapPayload(t *testing.T, msg, payload []byte) []byte {
	t.Helper()
	var tag cbor.RawTag
	if err := tagDecMode.Unmarshal(msg, &tag); err != nil {
		t.Fatal(err)
	}
	var parts []cbor.RawMessage
	if err := tagDecMode.Unmarshal(tag.Content, &parts); err != nil {
		t.Fatal(err)
	}
	p, _ := marshal(payload)
	parts[2] = p
	out, err := marshal(cbor.Tag{Number: tag.Number, Content: parts})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// withExtraKey adds key 99 to an encoded map.
func withExtraKey(t *testing.T, enc []byte) []byte {
	t.Helper()
	var m map[int64]cbor.RawMessage
	if err := rawMode.Unmarshal(enc, &m); err != nil {
		t.Fatal(err)
	}
	m[99] = cbor.RawMessage{0x01}
	out, _ := marshal(m)
	return out
}

func clone[T any](t *testing.T, v *T) *T {
	t.Helper()
	b, err := marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out := new(T)
	if err := decMode.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// forge builds a pairing certificate from parts an attacker (or a faulty authority) controls.
type forge struct {
	md        *PairingMetadata
	rawMD     func([]byte) []byte // edits the encoded metadata before signing
	transitMD func(*PairingMetadata)
	signer    *suite.PrivateKey
	sec       [2]*EntitySection
	rawSec    [2]func([]byte) []byte
	sealTo    [2]*suite.PublicKey
	swap      bool
	flipA     bool
	container func(*PairingCertificate)
}

func (w *world) forgeCert(t *testing.T, honest *Issued, edit func(*forge)) []byte {
	t.Helper()
	f := &forge{md: clone(t, w.md), signer: w.authority, sealTo: [2]*suite.PublicKey{w.pack.Public(), w.module.Public()}}
	for i, h := range [][]byte{honest.HalfA, honest.HalfB} {
		f.sec[i] = &EntitySection{V: Version1, PairingID: w.md.PairingID, Index: uint8(i), KeyHalf: h,
			ExchangeKey: honest.ExchangeKey, MetadataHash: honest.MetadataHash}
	}
	edit(f)
	payload, _ := marshal(f.md)
	if f.rawMD != nil {
		payload = f.rawMD(payload)
	}
	sig, err := signDomain(f.signer, domainMetadata, payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.transitMD != nil {
		md := clone(t, f.md)
		f.transitMD(md)
		p, _ := marshal(md)
		sig = swapPayload(t, sig, p)
	}
	c := PairingCertificate{V: Version1, Metadata: sig}
	hc, _ := DecodePairingCertificate(honest.Certificate)
	c.Handshake = hc.Handshake
	r := newReader("forge")
	var sealed [2][]byte
	for i := range 2 {
		pt, _ := marshal(f.sec[i])
		if f.rawSec[i] != nil {
			pt = f.rawSec[i](pt)
		}
		if sealed[i], err = suite.Seal(f.sealTo[i], pt, []byte(domainSection), r); err != nil {
			t.Fatal(err)
		}
	}
	if f.flipA {
		sealed[1] = flipCiphertext(t, sealed[1])
	}
	c.SectionA, c.SectionB = sealed[0], sealed[1]
	if f.swap {
		c.SectionA, c.SectionB = c.SectionB, c.SectionA
	}
	if f.container != nil {
		f.container(&c)
	}
	out, _ := marshal(&c)
	return out
}

// TestTamperPairingCertificate changes every field of the certificate in turn, in transit
// (signature or AEAD no longer matches) and consistently re-signed or re-sealed (a later check
// must catch it), and expects each case's own error from OpenPairingCertificate.
func TestTamperPairingCertificate(t *testing.T) {
	w := newWorld(t)
	honest := w.issue(t)
	now := t0.Add(time.Minute)
	past, future := t0.Add(-48*time.Hour).Unix(), t0.Add(48*time.Hour).Unix()
	type tc struct {
		name string
		edit func(*forge)
		want error
	}
	var cases []tc
	// Every metadata field changed in transit: the authority's signature no longer verifies.
	transit := map[string]func(*PairingMetadata){
		"V": func(m *PairingMetadata) { m.V = 2 }, "PairingID": func(m *PairingMetadata) { m.PairingID[0] ^= 1 },
		"Context":          func(m *PairingMetadata) { m.Context = ContextDiagnostics },
		"Entities[0].ID":   func(m *PairingMetadata) { m.Entities[0].ID = "PC-99999" },
		"Entities[0].Role": func(m *PairingMetadata) { m.Entities[0].Role = RoleApp },
		"Entities[0].Addr": func(m *PairingMetadata) { m.Entities[0].Addr = 0x41 },
		"Entities[0].KID":  func(m *PairingMetadata) { m.Entities[0].KID++ },
		"Entities[1].KID":  func(m *PairingMetadata) { m.Entities[1].KID++ },
		"Access.Type":      func(m *PairingMetadata) { m.Entities[1].Access.Type = "http" },
		"Access.ChainID":   func(m *PairingMetadata) { m.Entities[1].Access.ChainID = "other" },
		"Access.DeviceID":  func(m *PairingMetadata) { m.Entities[1].Access.DeviceID = "BM-00002" },
		"Access.Endpoint":  func(m *PairingMetadata) { m.Entities[1].Access.Endpoint = "0x02" },
		"Timing.CreatedAt": func(m *PairingMetadata) { m.Timing.CreatedAt-- },
		"Timing.ValidFrom": func(m *PairingMetadata) { m.Timing.ValidFrom++ },
		"Timing.ExpiresAt": func(m *PairingMetadata) { m.Timing.ExpiresAt += 3600 },
		"Policy":           func(m *PairingMetadata) { m.Policy[ClassCommand] = ProtExchange },
		"PolicyDigest":     func(m *PairingMetadata) { m.PolicyDigest[0] ^= 1 },
		"Nonce":            func(m *PairingMetadata) { m.Nonce[0] ^= 1 },
		"AEAD":             func(m *PairingMetadata) { m.AEAD = 1 },
	}
	for name, f := range transit {
		cases = append(cases, tc{"transit metadata." + name, func(fg *forge) { fg.transitMD = f }, ErrSignature})
	}
	// The same fields made consistent by a signer with the authority's key, or by another signer.
	resigned := []tc{
		{"signed by another key", func(f *forge) { f.signer = w.other }, ErrWrongKey},
		{"metadata.V", func(f *forge) { f.md.V = 2 }, ErrVersion},
		{"metadata.PairingID", func(f *forge) { f.md.PairingID = []byte("pairing-0000-002") }, ErrPairingID},
		{"metadata.Context", func(f *forge) { f.md.Context = ContextFirmwareUpdate }, ErrContext},
		{"metadata.Context out of range", func(f *forge) { f.md.Context = 9 }, ErrInvalid},
		{"metadata.Entities[1].KID", func(f *forge) { f.md.Entities[1].KID ^= 0x8000 }, ErrEntity},
		{"metadata.Entities[0].Role", func(f *forge) { f.md.Entities[0].Role = 9 }, ErrInvalid},
		{"metadata.Entities same", func(f *forge) { f.md.Entities[0].ID = f.md.Entities[1].ID }, ErrInvalid},
		{"metadata.Entities[1].Addr", func(f *forge) { f.md.Entities[1].Addr = 0x02 }, ErrMetadataHash},
		{"metadata.Entities[1].Access.Type", func(f *forge) { f.md.Entities[1].Access.Type = "udp" }, ErrInvalid},
		{"metadata.Entities[1].Access.Endpoint", func(f *forge) { f.md.Entities[1].Access.Endpoint = "" }, ErrMissingField},
		{"metadata.Entities count", func(f *forge) { f.md.Entities = f.md.Entities[:1] }, ErrInvalid},
		{"metadata.Timing.ExpiresAt", func(f *forge) {
			f.md.Timing.ExpiresAt = past + 60
			f.md.Timing.CreatedAt, f.md.Timing.ValidFrom = past, past
		}, ErrExpired},
		{"metadata.Timing.ValidFrom", func(f *forge) { f.md.Timing.ValidFrom = future }, ErrNotYetValid},
		{"metadata.Timing.CreatedAt", func(f *forge) { f.md.Timing.CreatedAt = f.md.Timing.ValidFrom + 1 }, ErrInvalid},
		{"metadata.Timing.ExpiresAt inverted", func(f *forge) { f.md.Timing.ExpiresAt = f.md.Timing.ValidFrom }, ErrInvalid},
		{"metadata.Policy", func(f *forge) { f.md.Policy[ClassCommand] = ProtClear }, ErrPolicyDigest},
		{"metadata.PolicyDigest", func(f *forge) { f.md.PolicyDigest = make([]byte, 32) }, ErrPolicyDigest},
		{"metadata.PolicyDigest size", func(f *forge) { f.md.PolicyDigest = f.md.PolicyDigest[:31] }, ErrSize},
		{"metadata.Nonce", func(f *forge) { f.md.Nonce = []byte("metadata-nonce-2") }, ErrMetadataHash},
		{"metadata.Nonce size", func(f *forge) { f.md.Nonce = f.md.Nonce[:15] }, ErrSize},
		{"metadata.AEAD", func(f *forge) { f.md.AEAD = 1 }, ErrAlgorithm},
		{"metadata extra key", func(f *forge) { f.rawMD = func(b []byte) []byte { return withExtraKey(t, b) } }, ErrUnknownField},
		// Entity section fields, re-sealed to the right entity.
		{"section.V", func(f *forge) { f.sec[1].V = 2 }, ErrVersion},
		{"section.PairingID", func(f *forge) { f.sec[1].PairingID = []byte("pairing-0000-002") }, ErrPairingID},
		{"section.Index", func(f *forge) { f.sec[1].Index = 0 }, ErrIndex},
		{"section.Index range", func(f *forge) { f.sec[1].Index = 2 }, ErrInvalid},
		{"section.KeyHalf", func(f *forge) { f.sec[1].KeyHalf = f.sec[1].KeyHalf[:31] }, ErrSize},
		{"section.ExchangeKey", func(f *forge) { f.sec[1].ExchangeKey = append(f.sec[1].ExchangeKey, 0) }, ErrSize},
		{"section.MetadataHash", func(f *forge) { f.sec[1].MetadataHash = make([]byte, 32) }, ErrMetadataHash},
		{"section extra key", func(f *forge) { f.rawSec[1] = func(b []byte) []byte { return withExtraKey(t, b) } }, ErrUnknownField},
		{"section sealed to the other entity", func(f *forge) { f.sealTo[1] = w.pack.Public() }, ErrWrongKey},
		{"sections swapped", func(f *forge) { f.swap = true }, ErrWrongKey},
		{"section ciphertext", func(f *forge) { f.flipA = true }, ErrDecrypt},
		// Container.
		{"container.V", func(f *forge) { f.container = func(c *PairingCertificate) { c.V = 2 } }, ErrVersion},
		{"container.Handshake null", func(f *forge) { f.container = func(c *PairingCertificate) { c.Handshake = nil } }, ErrWrongType},
		{"container.Metadata garbage", func(f *forge) { f.container = func(c *PairingCertificate) { c.Metadata = []byte{1, 2, 3} } }, ErrMalformed},
	}
	cases = append(cases, resigned...)
	for _, c := range cases {
		cert := w.forgeCert(t, honest, c.edit)
		_, err := OpenPairingCertificate(cert, PairingExpect{Authority: w.authority.Public(), Self: w.module,
			Context: ContextBatteryManagement, PairingID: w.md.PairingID}, now)
		expectKind(t, c.name, err, c.want)
	}
	// The untouched forge opens: the cases above differ from it by their one edit only.
	if _, err := OpenPairingCertificate(w.forgeCert(t, honest, func(*forge) {}), PairingExpect{Authority: w.authority.Public(), Self: w.module}, now); err != nil {
		t.Fatalf("baseline forge: %v", err)
	}
}

// TestTamperHandshakeAndKeyHalf covers the handshake section and the key-half exchange.
func TestTamperHandshakeAndKeyHalf(t *testing.T) {
	w := newWorld(t)
	is := w.issue(t)
	mod := w.open(t, is.Certificate, w.module)
	kid := ExchangeKID(is.ExchangeKey, w.md.PairingID)
	good := HandshakeSection{V: Version1, PairingID: w.md.PairingID, ValidationNonce: is.ValidationNonce, MetadataHash: is.MetadataHash}
	seal := func(hs HandshakeSection, halfA []byte, kid uint16) []byte {
		pt, _ := marshal(&hs)
		key := suite.HandshakeKey(halfA, is.HalfB, is.MetadataHash)
		out, _ := sealEncrypt0(key[:], kid, handshakeIV, pt, []byte(domainHandshake))
		return out
	}
	hsCases := []struct {
		name string
		msg  []byte
		want error
	}{
		{"handshake.V", seal(func() HandshakeSection { h := good; h.V = 2; return h }(), is.HalfA, kid), ErrVersion},
		{"handshake.PairingID", seal(func() HandshakeSection { h := good; h.PairingID = []byte("pairing-0000-002"); return h }(), is.HalfA, kid), ErrPairingID},
		{"handshake.ValidationNonce size", seal(func() HandshakeSection { h := good; h.ValidationNonce = h.ValidationNonce[:8]; return h }(), is.HalfA, kid), ErrSize},
		{"handshake.MetadataHash", seal(func() HandshakeSection { h := good; h.MetadataHash = make([]byte, 32); return h }(), is.HalfA, kid), ErrMetadataHash},
		{"handshake KID", seal(good, is.HalfA, kid+1), ErrWrongKey},
		{"handshake wrong halves", seal(good, make([]byte, 32), kid), ErrDecrypt},
		{"handshake ciphertext", func() []byte { b := seal(good, is.HalfA, kid); b[len(b)-1] ^= 1; return b }(), ErrDecrypt},
	}
	for _, c := range hsCases {
		mod.Handshake = c.msg
		_, err := mod.OpenHandshake(is.HalfA)
		expectKind(t, c.name, err, c.want)
	}

	idPM := keyHalfID(canid.AddrPack, 0x01)
	sealKH := func(m KeyHalf, exch []byte, id canid.ID) []byte {
		pt, _ := marshal(&m)
		return exchangeChannel(exch, w.md.PairingID).Seal(id.Encode(), 0, pt, is.MetadataHash)
	}
	kh := KeyHalf{V: Version1, PairingID: w.md.PairingID, Index: 0, Context: w.md.Context, Half: is.HalfA}
	khCases := []struct {
		name string
		msg  []byte
		want error
	}{
		{"keyhalf.V", sealKH(func() KeyHalf { k := kh; k.V = 2; return k }(), is.ExchangeKey, idPM), ErrVersion},
		{"keyhalf.PairingID", sealKH(func() KeyHalf { k := kh; k.PairingID = []byte("pairing-0000-002"); return k }(), is.ExchangeKey, idPM), ErrPairingID},
		{"keyhalf.Index", sealKH(func() KeyHalf { k := kh; k.Index = 1; return k }(), is.ExchangeKey, idPM), ErrIndex},
		{"keyhalf.Context", sealKH(func() KeyHalf { k := kh; k.Context = ContextEmergency; return k }(), is.ExchangeKey, idPM), ErrContext},
		{"keyhalf.Half", sealKH(func() KeyHalf { k := kh; k.Half = k.Half[:16]; return k }(), is.ExchangeKey, idPM), ErrSize},
		{"keyhalf other exchange key", sealKH(kh, make([]byte, 32), idPM), ErrWrongKey},
		{"keyhalf other CAN ID", sealKH(kh, is.ExchangeKey, keyHalfID(canid.AddrPack, 0x02)), ErrDecrypt},
		{"keyhalf ciphertext", func() []byte { b := sealKH(kh, is.ExchangeKey, idPM); b[6] ^= 1; return b }(), ErrDecrypt},
	}
	for _, c := range khCases {
		_, err := mod.OpenKeyHalf(idPM, c.msg)
		expectKind(t, c.name, err, c.want)
	}
}

// TestTamperCompletion changes every completion field, before signing (a later check catches
// it) and after (the proof catches it).
func TestTamperCompletion(t *testing.T) {
	w := newWorld(t)
	is := w.issue(t)
	now := t0.Add(time.Minute)
	macKey := make([]byte, 32)
	want := CompletionExpect{PairingID: w.md.PairingID, ValidationNonce: is.ValidationNonce, MetadataHash: is.MetadataHash,
		Keys: [2]*suite.PublicKey{w.pack.Public(), nil}, MACKey: macKey, Required: [2]bool{true, true}}
	build := func(pre func(*Completion), post func(*Completion)) *Completion {
		c := &Completion{V: Version1, PairingID: w.md.PairingID, ValidationNonce: is.ValidationNonce,
			MetadataHash: is.MetadataHash, CompletedAt: now.Unix()}
		if pre != nil {
			pre(c)
		}
		if err := c.SignProof(0, w.pack, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.MACProof(1, macKey, 0x1234); err != nil {
			t.Fatal(err)
		}
		if post != nil {
			post(c)
		}
		return c
	}
	cases := []struct {
		name      string
		pre, post func(*Completion)
		want      error
	}{
		{"V", func(c *Completion) { c.V = 2 }, nil, ErrVersion},
		{"PairingID", func(c *Completion) { c.PairingID = []byte("pairing-0000-002") }, nil, ErrPairingID},
		{"ValidationNonce", func(c *Completion) { c.ValidationNonce = make([]byte, 16) }, nil, ErrNonce},
		{"MetadataHash", func(c *Completion) { c.MetadataHash = make([]byte, 32) }, nil, ErrMetadataHash},
		{"CompletedAt", func(c *Completion) { c.CompletedAt = now.Add(10 * time.Minute).Unix() }, nil, ErrClockSkew},
		{"transit CompletedAt", nil, func(c *Completion) { c.CompletedAt++ }, ErrSignature},
		{"transit Proofs[0].Tag", nil, func(c *Completion) { c.Proofs[0].Tag[5] ^= 1 }, ErrSignature},
		{"transit Proofs[0].KID", nil, func(c *Completion) { c.Proofs[0].KID++ }, ErrWrongKey},
		{"transit Proofs[0].Alg", nil, func(c *Completion) { c.Proofs[0].Alg = -8 }, ErrAlgorithm},
		{"transit Proofs[1].Tag", nil, func(c *Completion) { c.Proofs[1].Tag[0] ^= 1 }, ErrMAC},
		{"transit Proofs[1] dropped", nil, func(c *Completion) { c.Proofs = c.Proofs[:1] }, ErrProofMissing},
		{"transit Proofs[0].Index", nil, func(c *Completion) { c.Proofs[0].Index = 1 }, ErrInvalid},
		{"transit Proofs[1].Tag size", nil, func(c *Completion) { c.Proofs[1].Tag = c.Proofs[1].Tag[:16] }, ErrSize},
	}
	for _, c := range cases {
		comp := build(c.pre, c.post)
		enc, _ := marshal(comp)
		got, err := DecodeCompletion(enc)
		if err == nil {
			err = VerifyCompletion(got, want, now)
		}
		expectKind(t, c.name, err, c.want)
	}
	if err := VerifyCompletion(build(nil, nil), want, now); err != nil {
		t.Fatalf("baseline: %v", err)
	}
}

// TestTamperBindingCertificate changes every claim in turn.
func TestTamperBindingCertificate(t *testing.T) {
	w := newWorld(t)
	now := t0.Add(time.Minute)
	base := func() *BindingClaims {
		return &BindingClaims{V: Version1, Issuer: "auth-01", Subject: "BM-00001", Audience: "PC-12345",
			Expires: t0.Add(24 * time.Hour).Unix(), NotBefore: t0.Unix(), IssuedAt: t0.Unix(),
			BindingID: []byte("binding-00000001"), Cnf: Confirmation{Key: KeyToCOSE(w.module.Public())},
			Role: RoleModule, Access: w.md.Entities[1].Access}
	}
	want := BindingExpect{Issuer: "auth-01", Subject: "BM-00001", Audience: "PC-12345", BindingID: []byte("binding-00000001")}
	otherKey := KeyToCOSE(w.other.Public())
	cases := []struct {
		name    string
		edit    func(*BindingClaims)
		transit bool
		signer  *suite.PrivateKey
		want    error
	}{
		{"signed by another key", nil, false, w.other, ErrWrongKey},
		{"V", func(c *BindingClaims) { c.V = 2 }, false, nil, ErrVersion},
		{"Issuer", func(c *BindingClaims) { c.Issuer = "auth-02" }, false, nil, ErrIssuer},
		{"Subject", func(c *BindingClaims) { c.Subject = "BM-00002" }, false, nil, ErrSubject},
		{"Audience", func(c *BindingClaims) { c.Audience = "APP-1" }, false, nil, ErrEntity},
		{"Expires", func(c *BindingClaims) {
			c.NotBefore = t0.Add(-48 * time.Hour).Unix()
			c.Expires = t0.Add(-time.Hour).Unix()
		}, false, nil, ErrExpired},
		{"NotBefore", func(c *BindingClaims) { c.NotBefore = t0.Add(time.Hour).Unix() }, false, nil, ErrNotYetValid},
		{"IssuedAt", func(c *BindingClaims) { c.IssuedAt = t0.Add(time.Hour).Unix() }, false, nil, ErrClockSkew},
		{"BindingID", func(c *BindingClaims) { c.BindingID = []byte("binding-00000002") }, false, nil, ErrBindingID},
		{"BindingID size", func(c *BindingClaims) { c.BindingID = c.BindingID[:8] }, false, nil, ErrSize},
		{"Cnf.KID", func(c *BindingClaims) { c.Cnf.Key.KID = otherKey.KID }, false, nil, ErrKeyMismatch},
		{"Cnf.X", func(c *BindingClaims) { c.Cnf.Key.X = otherKey.X }, false, nil, ErrInvalid},
		{"Cnf.Kty", func(c *BindingClaims) { c.Cnf.Key.Kty = 1 }, false, nil, ErrInvalid},
		{"Role", func(c *BindingClaims) { c.Role = 0 }, false, nil, ErrInvalid},
		{"Access.Type", func(c *BindingClaims) { c.Access.Type = "" }, false, nil, ErrMissingField},
	}
	for _, f := range []string{"Issuer", "Subject", "Audience", "Expires", "NotBefore", "IssuedAt", "BindingID", "Cnf", "Role", "Access"} {
		f := f
		cases = append(cases, struct {
			name    string
			edit    func(*BindingClaims)
			transit bool
			signer  *suite.PrivateKey
			want    error
		}{"transit " + f, func(c *BindingClaims) {
			switch f {
			case "Issuer":
				c.Issuer += "x"
			case "Subject":
				c.Subject += "x"
			case "Audience":
				c.Audience += "x"
			case "Expires":
				c.Expires++
			case "NotBefore":
				c.NotBefore--
			case "IssuedAt":
				c.IssuedAt--
			case "BindingID":
				c.BindingID[0] ^= 1
			case "Cnf":
				c.Cnf.Key = otherKey
			case "Role":
				c.Role = RolePack
			case "Access":
				c.Access.Endpoint = "0x02"
			}
		}, true, nil, ErrSignature})
	}
	for _, c := range cases {
		claims := base()
		signer := w.authority
		if c.signer != nil {
			signer = c.signer
		}
		if c.edit != nil && !c.transit {
			c.edit(claims)
		}
		payload, _ := marshal(claims)
		msg, err := signDomain(signer, domainBindingCert, payload, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.transit {
			c.edit(claims)
			p, _ := marshal(claims)
			msg = swapPayload(t, msg, p)
		}
		_, _, err = VerifyBindingCertificate(msg, w.authority.Public(), want, now)
		expectKind(t, c.name, err, c.want)
	}
}

// TestTamperSignedMessages covers L2, L3, L6, L7 and the validation result.
func TestTamperSignedMessages(t *testing.T) {
	w := newWorld(t)
	now := t0.Add(time.Minute)
	id := w.md.PairingID
	bid := []byte("binding-00000001")
	hash := make([]byte, 32)
	n1, n2 := []byte("nonce-hello-0001"), []byte("nonce-reply-0001")
	st := uint8(3)

	wit := func() *Witness {
		return &Witness{V: Version1, Witness: "PC-12345", Subject: "BM-00001", Event: EventStateChange, ObservedHash: hash, ObservedAt: now.Unix(), State: &st}
	}
	hs := func() *SignedHandshake {
		return &SignedHandshake{V: Version1, Step: StepReply, BindingID: bid, From: "BM-00001", To: "PC-12345", Nonce: n2, PeerNonce: n1, At: now.Unix()}
	}
	pv := func() *PairingValidation {
		return &PairingValidation{V: Version1, Kind: PairingRevoked, PairingID: id, IssuedAt: now.Unix(), Reason: rptr(ReasonKeyLoss)}
	}
	bv := func() *BindingValidation {
		return &BindingValidation{V: Version1, Kind: BindingEstablished, BindingID: bid, Entities: []string{"PC-12345", "BM-00001"},
			KIDs: []uint16{w.pack.Public().KID(), w.module.Public().KID()}, BlockchainProof: hash, IssuedAt: now.Unix()}
	}
	vr := func() *ValidationResult {
		return &ValidationResult{V: Version1, Level: L6PairingValidation, Subject: id, Verdict: VerdictValid, Ref: hash, At: now.Unix()}
	}
	type check func(pub *suite.PublicKey, msg []byte) error
	checks := map[string]struct {
		domain string
		verify check
	}{
		"witness": {domainWitness, func(p *suite.PublicKey, m []byte) error { _, err := VerifyWitness(p, m, now); return err }},
		"handshake": {domainSignedHS, func(p *suite.PublicKey, m []byte) error {
			_, err := VerifySignedHandshake(p, m, HandshakeExpect{BindingID: bid, Self: "PC-12345", Peer: "BM-00001", MyNonce: n1}, now)
			return err
		}},
		"L6": {domainPairingVal, func(p *suite.PublicKey, m []byte) error { _, err := VerifyPairingValidation(p, m, id, now); return err }},
		"L7": {domainBindingVal, func(p *suite.PublicKey, m []byte) error {
			_, err := VerifyBindingValidation(p, m, bid, now)
			return err
		}},
		"result": {domainResult, func(p *suite.PublicKey, m []byte) error { _, err := VerifyValidationResult(p, m, id, now); return err }},
	}
	late := now.Add(10 * time.Minute).Unix()
	cases := []struct {
		kind, name string
		msg        any
		want       error
	}{
		{"witness", "V", func() any { m := wit(); m.V = 2; return m }(), ErrVersion},
		{"witness", "ObservedAt", func() any { m := wit(); m.ObservedAt = late; return m }(), ErrClockSkew},
		{"witness", "ObservedHash", func() any { m := wit(); m.ObservedHash = hash[:20]; return m }(), ErrSize},
		{"witness", "State", func() any { m := wit(); m.State = nil; return m }(), ErrInvalid},
		{"witness", "Event", func() any { m := wit(); m.Event = 9; return m }(), ErrInvalid},
		{"handshake", "BindingID", func() any { m := hs(); m.BindingID = []byte("binding-00000002"); return m }(), ErrBindingID},
		{"handshake", "From", func() any { m := hs(); m.From = "BM-00002"; return m }(), ErrEntity},
		{"handshake", "To", func() any { m := hs(); m.To = "PC-2"; return m }(), ErrEntity},
		{"handshake", "PeerNonce", func() any { m := hs(); m.PeerNonce = n2; return m }(), ErrNonce},
		{"handshake", "Nonce", func() any { m := hs(); m.Nonce = n2[:4]; return m }(), ErrSize},
		{"handshake", "Step", func() any { m := hs(); m.Step = StepHello; return m }(), ErrInvalid},
		{"handshake", "At", func() any { m := hs(); m.At = late; return m }(), ErrClockSkew},
		{"L6", "PairingID", func() any { m := pv(); m.PairingID = []byte("pairing-0000-002"); return m }(), ErrPairingID},
		{"L6", "Kind", func() any { m := pv(); m.Kind = 7; return m }(), ErrInvalid},
		{"L6", "IssuedAt", func() any { m := pv(); m.IssuedAt = late; return m }(), ErrClockSkew},
		{"L6", "Policy", func() any {
			m := pv()
			m.Kind, m.Reason, m.Policy, m.PolicyDigest = PairingModified, nil, testPolicy(), hash
			return m
		}(), ErrPolicyDigest},
		{"L7", "BindingID", func() any { m := bv(); m.BindingID = []byte("binding-00000002"); return m }(), ErrBindingID},
		{"L7", "BlockchainProof", func() any { m := bv(); m.BlockchainProof = hash[:16]; return m }(), ErrSize},
		{"L7", "Entities", func() any { m := bv(); m.Entities = m.Entities[:1]; return m }(), ErrInvalid},
		{"L7", "Reason", func() any { m := bv(); m.Kind = BindingRevoked; return m }(), ErrInvalid},
		{"L7", "IssuedAt", func() any { m := bv(); m.IssuedAt = late; return m }(), ErrClockSkew},
		{"result", "Subject", func() any { m := vr(); m.Subject = []byte("pairing-0000-002"); return m }(), ErrSubject},
		{"result", "Level", func() any { m := vr(); m.Level = 5; return m }(), ErrInvalid},
		{"result", "Verdict", func() any { m := vr(); m.Verdict = 9; return m }(), ErrInvalid},
		{"result", "At", func() any { m := vr(); m.At = late; return m }(), ErrClockSkew},
	}
	// For each kind: the honest message verifies; signed by another key; each byte of the
	// payload flipped in transit.
	honest := map[string]any{"witness": wit(), "handshake": hs(), "L6": pv(), "L7": bv(), "result": vr()}
	for kind, m := range honest {
		ch := checks[kind]
		payload, _ := marshal(m)
		msg, _ := signDomain(w.pack, ch.domain, payload, nil)
		if err := ch.verify(w.pack.Public(), msg); err != nil {
			t.Errorf("%s honest: %v", kind, err)
		}
		expectKind(t, kind+" other signer", ch.verify(w.other.Public(), msg), ErrWrongKey)
		other, _ := signDomain(w.pack, "web4/v1/other", payload, nil)
		expectKind(t, kind+" other domain", ch.verify(w.pack.Public(), other), ErrSignature)
		for i := range payload {
			p := append([]byte(nil), payload...)
			p[i] ^= 0x01
			err := ch.verify(w.pack.Public(), swapPayload(t, msg, p))
			if !errors.Is(err, ErrSignature) && !errors.Is(err, ErrMalformed) {
				t.Errorf("%s payload byte %d flipped: %v", kind, i, err)
			}
		}
	}
	for _, c := range cases {
		ch := checks[c.kind]
		payload, _ := marshal(c.msg)
		msg, _ := signDomain(w.pack, ch.domain, payload, nil)
		expectKind(t, c.kind+"."+c.name, ch.verify(w.pack.Public(), msg), c.want)
	}
}

// TestTamperL5 covers command and ACK envelopes.
func TestTamperL5(t *testing.T) {
	w := newWorld(t)
	now := t0.Add(time.Minute)
	bs, _ := suite.BindingSecret(w.pack, w.module.Public())
	is := w.issue(t)
	k := w.open(t, is.Certificate, w.pack).PairingKeys(bs, is.HalfB)
	send, recv := suite.NewLevelChannel(k.Send(true)), suite.NewLevelChannel(k.Receive(false))
	cmdID := canid.New(canid.TypeCommand, true, canid.LevelPairing, 0x01, canid.AddrPack)
	cmd := &Command{V: Version1, Code: CmdCellBalancing, Seq: 3, IssuedAt: now.Unix(), Target: 1,
		BalanceEnable: bptr(true), BalanceTargetMV: u16(3900), BalanceMask: []byte{0xff, 0x0f}}
	env, err := SealMessage(send, cmdID, 42, cmd)
	if err != nil {
		t.Fatal(err)
	}
	open := func(env []byte, id canid.ID, ch *suite.Channel) error {
		_, c, _, err := OpenCommand(ch, id, env)
		if err == nil {
			err = c.CheckFresh(now)
		}
		return err
	}
	flip := func(i int) []byte { b := append([]byte(nil), env...); b[i] ^= 1; return b }
	sealRaw := func(m *Command) []byte { pt, _ := marshal(m); return send.Seal(cmdID.Encode(), 43, pt, nil) }
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"ciphertext", open(flip(len(env)-20), cmdID, recv), ErrDecrypt},
		{"tag", open(flip(len(env)-1), cmdID, recv), ErrDecrypt},
		{"KID", open(flip(1), cmdID, recv), ErrWrongKey},
		{"counter", open(flip(3), cmdID, recv), ErrDecrypt},
		{"CAN ID", open(env, canid.New(canid.TypeCommand, true, canid.LevelPairing, 0x02, canid.AddrPack), recv), ErrDecrypt},
		{"wrong direction key", open(env, cmdID, suite.NewLevelChannel(k.Receive(true))), ErrDecrypt},
		{"V", open(sealRaw(func() *Command { c := *cmd; c.V = 2; return &c }()), cmdID, recv), ErrVersion},
		{"IssuedAt", open(sealRaw(func() *Command { c := *cmd; c.IssuedAt = now.Add(-time.Hour).Unix(); return &c }()), cmdID, recv), ErrClockSkew},
		{"foreign field", open(sealRaw(func() *Command { c := *cmd; c.DiagEnable = bptr(true); return &c }()), cmdID, recv), ErrInvalid},
		{"missing field", open(sealRaw(func() *Command { c := *cmd; c.BalanceTargetMV = nil; return &c }()), cmdID, recv), ErrMissingField},
		{"isolate as command", open(sealRaw(&Command{V: Version1, Code: CmdEmergencyIsolate, Seq: 1, IssuedAt: now.Unix(), IsolateReason: rptr(ReasonOperator)}), cmdID, recv), ErrInvalid},
	}
	for _, c := range cases {
		expectKind(t, "command "+c.name, c.err, c.want)
	}

	pt, _ := cmd.Encode()
	ack := NewAck(cmd, pt, StatusOK, now)
	if err := ack.Matches(pt, 3); err != nil {
		t.Fatal(err)
	}
	expectKind(t, "ack Seq", ack.Matches(pt, 4), ErrCommandSeq)
	other, _ := (&Command{V: Version1, Code: CmdCellBalancing, Seq: 3, IssuedAt: now.Unix(), Target: 1,
		BalanceEnable: bptr(false), BalanceTargetMV: u16(3900)}).Encode()
	expectKind(t, "ack CommandHash", ack.Matches(other, 3), ErrCommandHash)
	ackID := canid.New(canid.TypeCommandAck, true, canid.LevelPairing, canid.AddrPack, 0x01)
	ackEnv, err := SealMessage(suite.NewLevelChannel(k.Send(false)), ackID, 1, ack)
	if err != nil {
		t.Fatal(err)
	}
	ackEnv[len(ackEnv)-5] ^= 1
	_, _, err = OpenAck(suite.NewLevelChannel(k.Receive(true)), ackID, ackEnv)
	expectKind(t, "ack ciphertext", err, ErrDecrypt)
}

// flipCiphertext flips a bit in the ciphertext (element 2) of a COSE_Encrypt.
func flipCiphertext(t *testing.T, msg []byte) []byte {
	t.Helper()
	var tag cbor.RawTag
	if err := tagDecMode.Unmarshal(msg, &tag); err != nil {
		t.Fatal(err)
	}
	var parts []cbor.RawMessage
	if err := tagDecMode.Unmarshal(tag.Content, &parts); err != nil {
		t.Fatal(err)
	}
	var ct []byte
	if err := tagDecMode.Unmarshal(parts[2], &ct); err != nil {
		t.Fatal(err)
	}
	ct[0] ^= 1
	parts[2], _ = marshal(ct)
	out, _ := marshal(cbor.Tag{Number: tag.Number, Content: parts})
	return out
}
