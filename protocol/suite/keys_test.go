package suite

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestGenerateKeyDeterministic(t *testing.T) {
	a, b := mustKey(t, "seed"), mustKey(t, "seed")
	if !a.Public().Equal(b.Public()) || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the same reader bytes gave different keys")
	}
	if a.Public().Equal(mustKey(t, "other").Public()) {
		t.Fatal("different seeds gave the same key")
	}
	// Out-of-range candidates are skipped: an all-0xFF scalar is above the order.
	r := io.MultiReader(bytes.NewReader(bytes.Repeat([]byte{0xFF}, 32)), bytes.NewReader(seq(32, 1)))
	k, err := GenerateKey(r)
	if err != nil || !bytes.Equal(k.Bytes(), seq(32, 1)) {
		t.Fatalf("rejection sampling: %v", err)
	}
	if _, err := GenerateKey(bytes.NewReader(nil)); err == nil || !errors.Is(err, io.EOF) {
		t.Fatalf("empty reader: %v", err)
	}
	if _, err := GenerateKey(bytes.NewReader(make([]byte, 32*maxKeyGenTries))); !errors.Is(err, ErrBadScalar) {
		t.Fatalf("all-zero reader: %v", err)
	}
}

func TestNewPrivateKeyRejects(t *testing.T) {
	order := unhex(t, "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")
	for name, s := range map[string][]byte{
		"zero":  make([]byte, 32),
		"order": order,
		"short": seq(31, 1),
		"long":  seq(33, 1),
		"nil":   nil,
	} {
		if _, err := NewPrivateKey(s); !errors.Is(err, ErrBadScalar) {
			t.Errorf("%s: %v, want ErrBadScalar", name, err)
		}
	}
	orderMinus1 := append([]byte{}, order...)
	orderMinus1[31]--
	if _, err := NewPrivateKey(orderMinus1); err != nil {
		t.Fatalf("n-1: %v", err)
	}
}

func TestParsePublicKey(t *testing.T) {
	k := fixedKey(t, "web4/v1 test key A")
	good := k.Public().Bytes()
	p, err := ParsePublicKey(good)
	if err != nil || !p.Equal(k.Public()) || p.KID() != k.Public().KID() {
		t.Fatalf("round trip: %v", err)
	}
	if p.KID() != 0x261f || KeyID(good) != 0x261f {
		t.Fatalf("KID %04x", p.KID())
	}
	offCurve := append([]byte{}, good...)
	offCurve[64] ^= 1
	compressed := append([]byte{0x02}, good[1:33]...)
	badPrefix := append([]byte{0x05}, good[1:]...)
	identity := append([]byte{4}, make([]byte, 64)...)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"off curve", offCurve, ErrBadPoint},
		{"identity", identity, ErrBadPoint},
		{"compressed", compressed, ErrMalformed},
		{"bad prefix", badPrefix, ErrMalformed},
		{"short", good[:64], ErrMalformed},
		{"long", append(append([]byte{}, good...), 0), ErrMalformed},
		{"empty", nil, ErrMalformed},
	}
	for _, tc := range tests {
		if _, err := ParsePublicKey(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	var nilKey *PublicKey
	if !nilKey.Equal(nil) || nilKey.Equal(p) || p.Equal(nil) {
		t.Fatal("Equal with nil")
	}
}

func TestPeekSign1(t *testing.T) {
	k := fixedKey(t, "web4/v1 test key A")
	msg, err := Sign1(k, []byte("abc"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	kid, payload, err := PeekSign1(msg)
	if err != nil || kid != k.Public().KID() || string(payload) != "abc" {
		t.Fatalf("PeekSign1 = %04x %q %v", kid, payload, err)
	}
	// Empty payload and empty external AAD are valid.
	msg, err = Sign1(k, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := Verify1(k.Public(), msg, []byte{}); err != nil || len(p) != 0 {
		t.Fatalf("empty payload: %q %v", p, err)
	}
}
