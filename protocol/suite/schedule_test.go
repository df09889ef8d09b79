package suite

import (
	"bytes"
	"errors"
	"testing"
)

func TestLabelsDistinct(t *testing.T) {
	labels := []string{LabelBindingSecret, LabelBindingLevel, LabelHandshake, LabelPairingKey, LabelPairingIV, LabelTelemetry, LabelExchange}
	seen := map[string]bool{}
	for _, l := range labels {
		if seen[l] || l == "" || bytes.IndexByte([]byte(l), 0) >= 0 {
			t.Fatalf("label %q duplicated, empty or contains a zero byte", l)
		}
		seen[l] = true
	}
}

type pairingInputs struct {
	secret, halfA, halfB, hash, id []byte
	context                        string
}

func basePairing() pairingInputs {
	return pairingInputs{seq(32, 0), seq(32, 0x20), seq(32, 0x40), seq(32, 0x60), []byte("p-1"), "battery_management"}
}

func (p pairingInputs) derive() PairingKeys {
	return DerivePairingKeys(p.secret, p.halfA, p.halfB, p.hash, p.id, p.context)
}

// Every input of the pairing derivation changes every output key.
func TestPairingKeysDependOnEveryInput(t *testing.T) {
	base := basePairing().derive()
	if base.AtoB == base.BtoA || base.AtoB == base.Telemetry || base.BtoA == base.Telemetry {
		t.Fatal("direction and telemetry keys are not distinct")
	}
	if base.IVAtoB == base.IVBtoA {
		t.Fatal("direction IVs are equal")
	}
	changes := map[string]func(*pairingInputs){
		"binding secret": func(p *pairingInputs) { p.secret = seq(32, 1) },
		"half A":         func(p *pairingInputs) { p.halfA = seq(32, 0x21) },
		"half B":         func(p *pairingInputs) { p.halfB = seq(32, 0x41) },
		"halves swapped": func(p *pairingInputs) { p.halfA, p.halfB = p.halfB, p.halfA },
		"metadata hash":  func(p *pairingInputs) { p.hash = seq(32, 0x61) },
		"pairing ID":     func(p *pairingInputs) { p.id = []byte("p-2") },
		"context":        func(p *pairingInputs) { p.context = "diagnostics" },
		"id/context split": func(p *pairingInputs) {
			p.id, p.context = []byte("p-1b"), "attery_management"
		},
	}
	for name, f := range changes {
		in := basePairing()
		f(&in)
		k := in.derive()
		if k.AtoB == base.AtoB || k.BtoA == base.BtoA || k.Telemetry == base.Telemetry || k.IVAtoB == base.IVAtoB {
			t.Errorf("%s: a key did not change", name)
		}
	}
}

func TestPairingDirections(t *testing.T) {
	k := basePairing().derive()
	if k.Send(true) != k.Receive(false) || k.Send(false) != k.Receive(true) {
		t.Fatal("A's send keys are not B's receive keys")
	}
	if k.Send(true).Key != k.AtoB || k.Send(false).Key != k.BtoA {
		t.Fatal("Send picks the wrong direction")
	}
	k.Erase()
	if k != (PairingKeys{KID: k.KID, TelemetryKID: k.TelemetryKID}) {
		t.Fatal("Erase left key material")
	}
}

func TestBindingSecret(t *testing.T) {
	a, b, c := fixedKey(t, "a"), fixedKey(t, "b"), fixedKey(t, "c")
	ab, err := BindingSecret(a, b.Public())
	if err != nil {
		t.Fatal(err)
	}
	ba, _ := BindingSecret(b, a.Public())
	ac, _ := BindingSecret(a, c.Public())
	if !bytes.Equal(ab, ba) || bytes.Equal(ab, ac) || len(ab) != SecretSize {
		t.Fatal("binding secret is not pairwise")
	}
	z, _ := ECDH(a, b.Public())
	if bytes.Equal(z, ab) {
		t.Fatal("binding secret is the raw ECDH output")
	}
	l1, l2 := BindingLevelKeys(ab, []byte("b-1")), BindingLevelKeys(ab, []byte("b-2"))
	if l1.Key == l2.Key || l1.IV == l2.IV || BindingLevelKey(ab, []byte("b-1")) != l1.Key {
		t.Fatal("binding level keys do not depend on the binding ID")
	}
	if _, err := BindingSecret(a, nil); !errors.Is(err, ErrBadPoint) {
		t.Fatalf("nil partner: %v", err)
	}
}

// The authority makes the certificate: it knows both halves, the exchange key, the metadata
// (hash, pairing ID, context) and both semi-public keys, but no binding private key. Nothing it
// can compute from that opens L5 traffic; the entities, holding the binding secret, can.
func TestAuthorityCannotOpenPairedTraffic(t *testing.T) {
	pack, module := fixedKey(t, "pack"), fixedKey(t, "module")
	halfA, halfB := seq(32, 0x11), seq(32, 0x22)
	exchange := seq(32, 0x33)
	hash, id, ctx := seq(32, 0x44), []byte("pairing-7"), "battery_management"

	// Entities.
	bs, err := BindingSecret(pack, module.Public())
	if err != nil {
		t.Fatal(err)
	}
	keys := DerivePairingKeys(bs, halfA, halfB, hash, id, ctx)
	const canID = 0x04410140 // L5 command, pack → module 1, pairing level
	cmd := NewLevelChannel(keys.Send(true)).Seal(canID, 42, []byte("contactor on"), nil)
	if _, _, err := NewLevelChannel(keys.Receive(false)).Open(canID, cmd, nil); err != nil {
		t.Fatalf("module cannot open: %v", err)
	}

	// The authority's candidates for the missing binding secret: everything it holds or can
	// compute without a binding private key.
	pubs := append(append([]byte{}, pack.Public().Bytes()...), module.Public().Bytes()...)
	hk := HandshakeKey(halfA, halfB, hash)
	ex := ExchangeKeys(exchange, id)
	candidates := map[string][]byte{
		"zero":             make([]byte, 32),
		"exchange key":     exchange,
		"handshake key":    hk[:],
		"exchange channel": ex.Key[:],
		"metadata hash":    hash,
		"public keys":      HKDF(pubs, nil, LabelBindingSecret, pubs, 32),
		"public keys raw":  pubs,
		"half A":           halfA,
		"empty":            nil,
	}
	for name, guess := range candidates {
		k := DerivePairingKeys(guess, halfA, halfB, hash, id, ctx)
		for _, l := range []LevelKeys{k.Receive(false), k.Send(true), k.TelemetryKeys()} {
			l.KID = keys.KID // the KID is public; the key is what matters
			if _, _, err := NewLevelChannel(l).Open(canID, cmd, nil); !errors.Is(err, ErrAuth) {
				t.Fatalf("authority guess %q: %v, want ErrAuth", name, err)
			}
		}
	}
	// Nor do the telemetry keys of a recorder who saw everything on the bus but the binding
	// secret: the telemetry key comes from the pairing key, not from the exchange key.
	if keys.Telemetry == ex.Key || keys.Telemetry == [32]byte(exchange) {
		t.Fatal("telemetry key equals exchange-derived material")
	}
}

func TestChannelNonce(t *testing.T) {
	c := NewChannel([32]byte{}, [12]byte(seq(12, 0xF0)), 1)
	n := c.nonce(0x04410140, 0x0102030405060708)
	want := []byte{0xF0, 0xF1, 0xF2, 0xF3 ^ 0x40, 0xF4 ^ 1, 0xF5 ^ 2, 0xF6 ^ 3, 0xF7 ^ 4, 0xF8 ^ 5, 0xF9 ^ 6, 0xFA ^ 7, 0xFB ^ 8}
	if !bytes.Equal(n[:], want) {
		t.Fatalf("nonce %x, want %x", n, want)
	}
	// Two senders sharing a key (binding and exchange levels) never share a nonce.
	if c.nonce(0x04410140, 5) == c.nonce(0x04404001, 5) {
		t.Fatal("pack and module share a nonce")
	}
}

func TestEnvelopeLayout(t *testing.T) {
	c := NewChannel([32]byte{}, [12]byte{}, 0xA1B2)
	for _, tc := range []struct {
		ctr uint64
		n   int
	}{{0, 1}, {0xFF, 1}, {0x100, 2}, {0xFFFFFF, 3}, {1 << 56, 8}, {^uint64(0), 8}} {
		env := c.Seal(0x100, tc.ctr, []byte("x"), nil)
		if len(env) != EnvelopeSize(tc.ctr, 1) || len(env) != 3+tc.n+1+16 {
			t.Fatalf("counter %x: envelope %d bytes", tc.ctr, len(env))
		}
		e, err := ParseEnvelope(env)
		if err != nil {
			t.Fatal(err)
		}
		if e.Version != 1 || e.KID != 0xA1B2 || e.Counter != tc.ctr || e.CounterLen != tc.n || len(e.Ciphertext) != 1 || len(e.Tag) != 16 {
			t.Fatalf("counter %x: parsed %+v", tc.ctr, e)
		}
		if env[0] != byte(0x10|(tc.n-1)) || env[1] != 0xA1 || env[2] != 0xB2 {
			t.Fatalf("header %x", env[:3])
		}
		ctr, _, err := c.Open(0x100, env, nil)
		if err != nil || ctr != tc.ctr {
			t.Fatalf("Open: %x %v", ctr, err)
		}
	}
}

func TestAEADBlocks(t *testing.T) {
	for _, tc := range []struct{ pt, aad, want int }{{0, 0, 2}, {16, 4, 4}, {17, 20, 6}, {210, 8, 17}} {
		if got := AEADBlocks(tc.pt, tc.aad); got != tc.want {
			t.Errorf("AEADBlocks(%d, %d) = %d, want %d", tc.pt, tc.aad, got, tc.want)
		}
	}
	for _, tc := range []struct{ n, want int }{{0, 4}, {55, 4}, {56, 5}, {119, 5}, {120, 6}} {
		if got := HashBlocks(tc.n); got != tc.want {
			t.Errorf("HashBlocks(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
	for o := OpKeyGen; o <= OpHashBlock; o++ {
		if o.String() == "unknown-op" {
			t.Errorf("op %d has no name", o)
		}
	}
}
