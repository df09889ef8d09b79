package suite

import (
	"bytes"
	"errors"
	"testing"
)

// knownErr reports whether err is one of the suite's sentinels, so fuzzing also checks that
// decoders only ever fail with typed errors.
func knownErr(err error) bool {
	for _, s := range []error{ErrMalformed, ErrBadSignature, ErrWrongKey, ErrAuth, ErrUnsupportedAlg, ErrBadPoint, ErrVersion} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func FuzzParsePublicKey(f *testing.F) {
	k := fixedKey(f, "web4/v1 test key A")
	f.Add(k.Public().Bytes())
	f.Add(append([]byte{4}, make([]byte, 64)...))
	f.Add([]byte{2, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePublicKey(b)
		if err != nil {
			if !knownErr(err) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !bytes.Equal(p.Bytes(), b) || p.KID() != KeyID(b) {
			t.Fatal("parsed key does not re-encode to its input")
		}
	})
}

func FuzzVerify1(f *testing.F) {
	k := fixedKey(f, "web4/v1 test key A")
	for _, p := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte{7}, 300)} {
		m, err := Sign1(k, p, []byte("ext"), nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m)
	}
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x40})
	f.Add([]byte{0xd2, 0x9f, 0xff})
	pub := k.Public()
	f.Fuzz(func(t *testing.T, msg []byte) {
		kid, peeked, perr := PeekSign1(msg)
		if perr != nil && !knownErr(perr) {
			t.Fatalf("PeekSign1 untyped error %v", perr)
		}
		payload, err := Verify1(pub, msg, []byte("ext"))
		if err != nil {
			if !knownErr(err) {
				t.Fatalf("Verify1 untyped error %v", err)
			}
			return
		}
		if perr != nil || kid != pub.KID() || !bytes.Equal(peeked, payload) {
			t.Fatal("Verify1 accepts what PeekSign1 reads differently")
		}
	})
}

func FuzzOpen(f *testing.F) {
	k := fixedKey(f, "web4/v1 test key B")
	for i, p := range [][]byte{nil, []byte("half"), bytes.Repeat([]byte{9}, 200)} {
		m, err := sealWith(k.Public(), fixedKey(f, string(rune('a'+i))), [12]byte{byte(i)}, p, []byte("ext"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m)
	}
	f.Add([]byte{0xd8, 0x60, 0x84, 0x40, 0xa0, 0x40, 0x80})
	f.Fuzz(func(t *testing.T, msg []byte) {
		kid, perr := PeekEncrypt(msg)
		if perr != nil && !knownErr(perr) {
			t.Fatalf("PeekEncrypt untyped error %v", perr)
		}
		_, err := Open(k, msg, []byte("ext"))
		if err != nil {
			if !knownErr(err) {
				t.Fatalf("Open untyped error %v", err)
			}
			return
		}
		if perr != nil || kid != k.Public().KID() {
			t.Fatal("Open accepts what PeekEncrypt reads differently")
		}
	})
}

func FuzzChannelOpen(f *testing.F) {
	c := NewChannel([32]byte(seq(32, 1)), [12]byte(seq(12, 2)), 0x1234)
	f.Add(uint32(0x04414005), c.Seal(0x04414005, 1, []byte("0123456789abcdef"), nil))
	f.Add(uint32(0x04414005), c.Seal(0x04414005, ^uint64(0), nil, nil))
	f.Add(uint32(0), []byte{0x17, 0x12, 0x34, 0})
	f.Fuzz(func(t *testing.T, id uint32, env []byte) {
		e, perr := ParseEnvelope(env)
		if perr != nil && !knownErr(perr) {
			t.Fatalf("ParseEnvelope untyped error %v", perr)
		}
		if perr == nil {
			if len(e.Header)+len(e.Ciphertext)+len(e.Tag) != len(env) || e.CounterLen != CounterLen(e.Counter) {
				t.Fatalf("inconsistent parse %+v of %d bytes", e, len(env))
			}
		}
		ctr, pt, err := c.Open(id, env, nil)
		if err != nil {
			if !knownErr(err) {
				t.Fatalf("Open untyped error %v", err)
			}
			return
		}
		if perr != nil || ctr != e.Counter {
			t.Fatal("Open accepts what ParseEnvelope rejects")
		}
		if !bytes.Equal(c.Seal(id, ctr, pt, nil), env) {
			t.Fatal("an accepted envelope is not the one Seal makes")
		}
	})
}
