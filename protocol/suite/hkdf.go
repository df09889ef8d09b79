package suite

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
)

// LabelPrefix starts the info of every profile v1 derivation.
const LabelPrefix = "web4/v1/"

// MaxHKDFLength is the longest output HKDF-SHA256 can produce (255 hash blocks).
const MaxHKDFLength = 255 * sha256.Size

// HKDF derives n bytes with HKDF-SHA256 (RFC 5869) from secret and salt, with
//
//	info = "web4/v1/" || label || 0x00 || info
//
// The zero byte ends the label, so no label/info pair can be read as another. A nil salt means
// HashLen zero bytes, as RFC 5869 says. Labels are the constants of docs/protocol.md section 2; n must
// be in 1..MaxHKDFLength, and a label must not contain a zero byte: both are programming errors,
// and HKDF panics on them rather than hand back a short key.
func HKDF(secret, salt []byte, label string, info []byte, n int) []byte {
	for i := 0; i < len(label); i++ {
		if label[i] == 0 {
			panic("suite: HKDF label contains a zero byte")
		}
	}
	full := make([]byte, 0, len(LabelPrefix)+len(label)+1+len(info))
	full = append(full, LabelPrefix...)
	full = append(full, label...)
	full = append(full, 0)
	full = append(full, info...)
	return hkdfRaw(secret, salt, full, n)
}

// hkdfRaw is plain HKDF-SHA256 (RFC 5869), also used by COSE (RFC 9053 section 5.1).
func hkdfRaw(secret, salt, info []byte, n int) []byte {
	if n < 1 || n > MaxHKDFLength {
		panic(fmt.Sprintf("suite: HKDF output length %d out of range 1..%d", n, MaxHKDFLength))
	}
	out, err := hkdf.Key(sha256.New, secret, salt, string(info), n)
	if err != nil {
		// Only reachable in FIPS 140-only mode with a key shorter than 112 bits.
		panic(fmt.Sprintf("suite: HKDF: %v", err))
	}
	return out
}
