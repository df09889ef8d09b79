package freshness

import (
	"crypto/cipher"
	"crypto/subtle"
	"fmt"
)

// CMAC is AES-CMAC (RFC 4493, NIST SP 800-38B) over a 128-bit block cipher. Sum does not keep
// state between calls, so a CMAC is safe for concurrent use.
type CMAC struct {
	b      cipher.Block
	k1, k2 [16]byte
}

// NewCMAC derives the CMAC subkeys of a 128-bit block cipher (AES with any key size).
func NewCMAC(b cipher.Block) (*CMAC, error) {
	if b.BlockSize() != 16 {
		return nil, fmt.Errorf("freshness: CMAC needs a 128-bit block cipher, got %d-byte blocks", b.BlockSize())
	}
	m := &CMAC{b: b}
	var l [16]byte
	b.Encrypt(l[:], l[:])
	m.k1 = dbl(l)
	m.k2 = dbl(m.k1)
	return m, nil
}

// dbl multiplies by x in GF(2^128) with the polynomial x^128 + x^7 + x^2 + x + 1.
func dbl(in [16]byte) [16]byte {
	var out [16]byte
	carry := in[0] >> 7
	for i := 0; i < 15; i++ {
		out[i] = in[i]<<1 | in[i+1]>>7
	}
	out[15] = in[15]<<1 ^ byte(subtle.ConstantTimeByteEq(carry, 1))*0x87
	return out
}

// Sum returns the 16-byte tag of the concatenation of parts.
func (m *CMAC) Sum(parts ...[]byte) [16]byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	var x, blk [16]byte
	fill := 0
	for _, p := range parts {
		for _, c := range p {
			if fill == 16 { // a full block that is not the last: chain it
				for i := range x {
					x[i] ^= blk[i]
				}
				m.b.Encrypt(x[:], x[:])
				fill = 0
			}
			blk[fill] = c
			fill++
		}
	}
	if n > 0 && fill == 16 {
		for i := range x {
			x[i] ^= blk[i] ^ m.k1[i]
		}
	} else {
		blk[fill] = 0x80
		for i := fill + 1; i < 16; i++ {
			blk[i] = 0
		}
		for i := range x {
			x[i] ^= blk[i] ^ m.k2[i]
		}
	}
	m.b.Encrypt(x[:], x[:])
	return x
}
