package suite

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.txt from the current outputs")

const goldenPath = "testdata/golden.txt"

// fixedKey is the test key whose scalar is SHA-256 of name (docs/protocol.md section 2, test vectors).
func fixedKey(t testing.TB, name string) *PrivateKey {
	t.Helper()
	s := sha256.Sum256([]byte(name))
	k, err := NewPrivateKey(s[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func seq(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// goldenOutputs computes every deterministic output of the suite from fixed inputs.
func goldenOutputs(t *testing.T) [][2]string {
	a := fixedKey(t, "web4/v1 test key A")
	b := fixedKey(t, "web4/v1 test key B")
	e := fixedKey(t, "web4/v1 test ephemeral key")
	var out [][2]string
	add := func(name string, v []byte) { out = append(out, [2]string{name, hex.EncodeToString(v)}) }

	add("key.a.scalar", a.Bytes())
	add("key.a.public", a.Public().Bytes())
	add("key.a.kid", u16(a.Public().KID()))
	add("key.b.scalar", b.Bytes())
	add("key.b.public", b.Public().Bytes())
	add("key.b.kid", u16(b.Public().KID()))

	payload, external := []byte("web4 golden payload"), []byte("web4 external aad")
	s1, err := Sign1(a, payload, external, nil)
	if err != nil {
		t.Fatal(err)
	}
	add("sign1.a.rfc6979", s1)

	iv := [NonceSize]byte(seq(NonceSize, 0))
	sealed, err := sealWith(b.Public(), e, iv, payload, external)
	if err != nil {
		t.Fatal(err)
	}
	add("encrypt.to-b", sealed)

	z, err := ECDH(a, b.Public())
	if err != nil {
		t.Fatal(err)
	}
	add("ecdh.a-b", z)
	bs, err := BindingSecret(a, b.Public())
	if err != nil {
		t.Fatal(err)
	}
	add("binding.secret", bs)
	bl := BindingLevelKeys(bs, []byte("binding-0001"))
	add("binding.level.key", bl.Key[:])
	add("binding.level.iv", bl.IV[:])
	add("binding.level.kid", u16(bl.KID))

	halfA, halfB, mh := seq(32, 0x10), seq(32, 0x30), seq(32, 0x50)
	hk := HandshakeKey(halfA, halfB, mh)
	add("handshake.key", hk[:])
	ex := ExchangeKeys(seq(32, 0x70), []byte("pairing-0001"))
	add("exchange.key", ex.Key[:])
	add("exchange.iv", ex.IV[:])
	add("exchange.kid", u16(ex.KID))
	pk := DerivePairingKeys(bs, halfA, halfB, mh, []byte("pairing-0001"), "battery_management")
	add("pairing.key", pk.Key[:])
	add("pairing.iv.a-to-b", pk.IVAtoB[:])
	add("pairing.iv.b-to-a", pk.IVBtoA[:])
	add("pairing.kid", u16(pk.KID))
	add("pairing.telemetry.key", pk.Telemetry[:])
	add("pairing.telemetry.iv", pk.IVTelemetry[:])
	add("pairing.telemetry.kid", u16(pk.TelemetryKID))

	ch := NewLevelChannel(pk.Send(true))
	add("envelope.a-to-b.ctr1.16B", ch.Seal(0x04414005, 1, seq(16, 0), nil))
	add("envelope.a-to-b.ctr0x0123456789.8B.aad", ch.Seal(0x04414005, 0x0123456789, seq(8, 0xA0), []byte("aad")))
	return out
}

func TestGolden(t *testing.T) {
	got := goldenOutputs(t)
	if *update {
		var buf bytes.Buffer
		fmt.Fprintln(&buf, "# Web4 profile v1 suite vectors: name hex (see docs/protocol.md section 2). Regenerate with go test -update.")
		for _, kv := range got {
			fmt.Fprintf(&buf, "%s %s\n", kv[0], kv[1])
		}
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(goldenPath)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("bad golden line %q", line)
		}
		want[name] = val
	}
	if len(want) != len(got) {
		t.Errorf("golden file has %d entries, outputs %d", len(want), len(got))
	}
	for _, kv := range got {
		if want[kv[0]] != kv[1] {
			t.Errorf("%s:\n got  %s\n want %s", kv[0], kv[1], want[kv[0]])
		}
	}
}

// The golden messages open and verify, so they are usable as vectors by other implementations.
func TestGoldenMessagesOpen(t *testing.T) {
	a := fixedKey(t, "web4/v1 test key A")
	b := fixedKey(t, "web4/v1 test key B")
	vals := map[string][]byte{}
	for _, kv := range goldenOutputs(t) {
		v, _ := hex.DecodeString(kv[1])
		vals[kv[0]] = v
	}
	if _, err := Verify1(a.Public(), vals["sign1.a.rfc6979"], []byte("web4 external aad")); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(b, vals["encrypt.to-b"], []byte("web4 external aad")); err != nil {
		t.Fatal(err)
	}
}
