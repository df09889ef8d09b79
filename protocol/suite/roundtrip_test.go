package suite

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
)

// detRand is a deterministic reader for tests: SHA-256 in counter mode over a seed.
type detRand struct {
	seed []byte
	ctr  uint32
	buf  []byte
}

func newDetRand(seed string) *detRand { return &detRand{seed: []byte(seed)} }

func (d *detRand) Read(p []byte) (int, error) {
	for len(d.buf) < len(p) {
		h := sha256.Sum256(append(append([]byte{}, d.seed...), byte(d.ctr>>24), byte(d.ctr>>16), byte(d.ctr>>8), byte(d.ctr)))
		d.ctr++
		d.buf = append(d.buf, h[:]...)
	}
	n := copy(p, d.buf)
	d.buf = d.buf[n:]
	return n, nil
}

func mustKey(t testing.TB, seed string) *PrivateKey {
	t.Helper()
	k, err := GenerateKey(newDetRand(seed))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRoundTrips(t *testing.T) {
	a, b := mustKey(t, "a"), mustKey(t, "b")
	payload := []byte("hello web4")

	msg, err := Sign1(a, payload, []byte("ext"), newDetRand("sig"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify1(a.Public(), msg, []byte("ext"))
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("Verify1 = %q, %v", got, err)
	}

	sealed, err := Seal(b.Public(), payload, []byte("ext"), newDetRand("seal"))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := Open(b, sealed, []byte("ext"))
	if err != nil || !bytes.Equal(pt, payload) {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	if kid, err := PeekEncrypt(sealed); err != nil || kid != b.Public().KID() {
		t.Fatalf("PeekEncrypt = %04x, %v", kid, err)
	}
	if _, err := Open(a, sealed, []byte("ext")); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open with the wrong key: %v", err)
	}

	sa, err := BindingSecret(a, b.Public())
	if err != nil {
		t.Fatal(err)
	}
	sb, err := BindingSecret(b, a.Public())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sa, sb) {
		t.Fatal("binding secrets differ")
	}

	pk := DerivePairingKeys(sa, bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), make([]byte, 32), []byte("p1"), "battery_management")
	tx := NewLevelChannel(pk.Send(true))
	rx := NewLevelChannel(pk.Receive(false))
	env := tx.Seal(0x04123401, 300, payload, nil)
	ctr, pt, err := rx.Open(0x04123401, env, nil)
	if err != nil || ctr != 300 || !bytes.Equal(pt, payload) {
		t.Fatalf("Channel.Open = %d %q %v", ctr, pt, err)
	}
}

func isErr(err, target error) bool { return errors.Is(err, target) }
