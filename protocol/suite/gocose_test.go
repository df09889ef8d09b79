package suite

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/veraison/go-cose"
)

// Interop with an independent COSE implementation: go-cose verifies what Sign1 makes, and
// Verify1 accepts what go-cose signs with the profile v1 protected header.
func TestGoCOSEInterop(t *testing.T) {
	k := mustKey(t, "interop")
	payload, external := []byte("pairing certificate"), []byte("context")

	t.Run("go-cose verifies Sign1", func(t *testing.T) {
		for _, r := range []struct {
			name string
			rnd  io.Reader
		}{{"deterministic", nil}, {"randomized", rand.Reader}} {
			msg, err := Sign1(k, payload, external, r.rnd)
			if err != nil {
				t.Fatal(err)
			}
			var m cose.Sign1Message
			if err := m.UnmarshalCBOR(msg); err != nil {
				t.Fatalf("%s: go-cose cannot parse: %v", r.name, err)
			}
			v, err := cose.NewVerifier(cose.AlgorithmES256, &k.sig.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Verify(external, v); err != nil {
				t.Fatalf("%s: go-cose rejects: %v", r.name, err)
			}
			if !bytes.Equal(m.Payload, payload) {
				t.Fatalf("payload %q", m.Payload)
			}
			kid, ok := m.Headers.Protected[cose.HeaderLabelKeyID].([]byte)
			if !ok || !bytes.Equal(kid, kidBytes(k.Public().KID())) {
				t.Fatalf("kid header %v", m.Headers.Protected[cose.HeaderLabelKeyID])
			}
			if err := m.Verify([]byte("other"), v); err == nil {
				t.Fatal("go-cose accepts a different external AAD")
			}
		}
	})

	t.Run("Verify1 accepts go-cose", func(t *testing.T) {
		s, err := cose.NewSigner(cose.AlgorithmES256, k.sig)
		if err != nil {
			t.Fatal(err)
		}
		m := cose.NewSign1Message()
		m.Headers.Protected.SetAlgorithm(cose.AlgorithmES256)
		m.Headers.Protected[cose.HeaderLabelKeyID] = kidBytes(k.Public().KID())
		m.Payload = payload
		if err := m.Sign(rand.Reader, external, s); err != nil {
			t.Fatal(err)
		}
		msg, err := m.MarshalCBOR()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Verify1(k.Public(), msg, external)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("Verify1 = %q, %v", got, err)
		}
		if _, err := Verify1(k.Public(), msg, nil); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("Verify1 with the wrong external AAD = %v", err)
		}
	})
}
