package suite

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"testing"
)

// The suite's operations, each beside the raw primitive it wraps, so its own overhead shows.

var benchSizes = []int{16, 210}

func BenchmarkSign1(b *testing.B) {
	k := fixedKey(b, "bench")
	for _, n := range benchSizes {
		p := make([]byte, n)
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Sign1(k, p, nil, rand.Reader); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify1(b *testing.B) {
	k := fixedKey(b, "bench")
	for _, n := range benchSizes {
		msg, err := Sign1(k, make([]byte, n), nil, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Verify1(k.Public(), msg, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSeal(b *testing.B) {
	k := fixedKey(b, "bench")
	for _, n := range benchSizes {
		p := make([]byte, n)
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Seal(k.Public(), p, nil, rand.Reader); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	k := fixedKey(b, "bench")
	for _, n := range benchSizes {
		msg, err := Seal(k.Public(), make([]byte, n), nil, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Open(k, msg, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkECDH(b *testing.B) {
	k, p := fixedKey(b, "bench"), fixedKey(b, "peer").Public()
	for b.Loop() {
		if _, err := ECDH(k, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGenerateKey(b *testing.B) {
	for b.Loop() {
		if _, err := GenerateKey(rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDerivePairingKeys(b *testing.B) {
	in := basePairing()
	for b.Loop() {
		in.derive()
	}
}

func BenchmarkChannelSeal(b *testing.B) {
	c := NewChannel([32]byte{1}, [12]byte{2}, 3)
	for _, n := range benchSizes {
		p := make([]byte, n)
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			var ctr uint64
			for b.Loop() {
				ctr++
				c.Seal(0x04414005, ctr, p, nil)
			}
		})
	}
}

func BenchmarkChannelOpen(b *testing.B) {
	c := NewChannel([32]byte{1}, [12]byte{2}, 3)
	for _, n := range benchSizes {
		env := c.Seal(0x04414005, 1000, make([]byte, n), nil)
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, _, err := c.Open(0x04414005, env, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Raw primitives.

func BenchmarkRawECDSASign(b *testing.B) {
	k := fixedKey(b, "bench")
	d := sha256.Sum256([]byte("x"))
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, k.sig, d[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawECDSAVerify(b *testing.B) {
	k := fixedKey(b, "bench")
	d := sha256.Sum256([]byte("x"))
	sig, err := ecdsa.SignASN1(rand.Reader, k.sig, d[:])
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !ecdsa.VerifyASN1(&k.sig.PublicKey, d[:], sig) {
			b.Fatal("verify")
		}
	}
}

func BenchmarkRawECDH(b *testing.B) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	p, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := k.ECDH(p.PublicKey()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawAESGCM(b *testing.B) {
	block, _ := aes.NewCipher(make([]byte, 32))
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, 12)
	for _, n := range benchSizes {
		p := make([]byte, n)
		out := make([]byte, 0, n+16)
		b.Run(fmt.Sprintf("seal/%dB", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				aead.Seal(out[:0], nonce, p, nil)
			}
		})
		ct := aead.Seal(nil, nonce, p, nil)
		b.Run(fmt.Sprintf("open/%dB", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := aead.Open(out[:0], nonce, ct, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkHKDF(b *testing.B) {
	secret := make([]byte, 32)
	for b.Loop() {
		HKDF(secret, nil, LabelTelemetry, nil, 46)
	}
}

func BenchmarkRawSHA256Block(b *testing.B) {
	var block [64]byte
	b.SetBytes(64)
	for b.Loop() {
		sha256.Sum256(block[:55]) // one compression
	}
}

// The suite's own framing cost, apart from the public-key operations it wraps.

func BenchmarkFramingSign1(b *testing.B) {
	k := fixedKey(b, "bench")
	msg, err := Sign1(k, make([]byte, 210), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		m, err := parseSign1(msg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sigStructure(m.protected, nil, m.payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFramingEncrypt(b *testing.B) {
	k := fixedKey(b, "bench")
	msg, err := Seal(k.Public(), make([]byte, 210), nil, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := parseEncrypt(msg); err != nil {
			b.Fatal(err)
		}
	}
}
