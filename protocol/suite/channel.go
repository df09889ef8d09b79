package suite

import (
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"math/bits"
)

const whatEnvelope = "envelope"

// Envelope layout (docs/protocol.md section 2):
//
//	byte 0        version (bits 7..4, = 1) | reserved (bit 3, = 0) | counter length − 1 (bits 2..0)
//	bytes 1..2    KID, big-endian
//	bytes 3..3+n  counter, big-endian, minimal length n in 1..8
//	then          ciphertext (as long as the plaintext), then the 16-byte GCM tag
const (
	envelopeFixed   = 3
	envelopeVersion = Version
	counterLenMask  = 0x07
	reservedBit     = 0x08
	idMask          = 0x1FFFFFFF
)

// MinEnvelopeSize is the size of an envelope with an empty plaintext and a 1-byte counter.
const MinEnvelopeSize = envelopeFixed + 1 + TagSize

// Envelope is an envelope's header, read without decrypting. The slices alias the input.
type Envelope struct {
	Version    uint8
	KID        uint16
	Counter    uint64
	CounterLen int    // counter bytes on the wire, 1..8
	Header     []byte // the header bytes, authenticated as AAD
	Ciphertext []byte // ciphertext without the tag; as long as the plaintext
	Tag        []byte // 16 bytes
}

// CounterLen is the minimal number of bytes (1..8) that carries counter.
func CounterLen(counter uint64) int {
	n := (bits.Len64(counter) + 7) / 8
	if n == 0 {
		n = 1
	}
	return n
}

// EnvelopeSize is the length of the envelope of a plaintext of n bytes sent with counter.
func EnvelopeSize(counter uint64, n int) int {
	return envelopeFixed + CounterLen(counter) + n + TagSize
}

// ParseEnvelope reads an envelope's header. Errors: ErrMalformed (a *DecodeError: too short,
// reserved bit set, counter not minimally encoded), ErrVersion.
func ParseEnvelope(b []byte) (Envelope, error) {
	var e Envelope
	if len(b) < MinEnvelopeSize {
		return e, malformed(whatEnvelope, fmt.Sprintf("%d bytes, shorter than the minimum %d", len(b), MinEnvelopeSize), nil)
	}
	e.Version = b[0] >> 4
	if e.Version != envelopeVersion {
		return e, fmt.Errorf("%w: envelope version %d, want %d", ErrVersion, e.Version, envelopeVersion)
	}
	if b[0]&reservedBit != 0 {
		return e, malformed(whatEnvelope, "reserved bit set", nil)
	}
	e.CounterLen = int(b[0]&counterLenMask) + 1
	hl := envelopeFixed + e.CounterLen
	if len(b) < hl+TagSize {
		return e, malformed(whatEnvelope, fmt.Sprintf("%d bytes, too short for a %d-byte counter and the tag", len(b), e.CounterLen), nil)
	}
	if e.CounterLen > 1 && b[envelopeFixed] == 0 {
		return e, malformed(whatEnvelope, "counter not minimally encoded", nil)
	}
	e.KID = binary.BigEndian.Uint16(b[1:3])
	for _, c := range b[envelopeFixed:hl] {
		e.Counter = e.Counter<<8 | uint64(c)
	}
	e.Header = b[:hl]
	e.Ciphertext = b[hl : len(b)-TagSize]
	e.Tag = b[len(b)-TagSize:]
	return e, nil
}

// Channel seals and opens the envelopes of one key (one key level and, for pairing keys, one
// direction). The nonce is never random:
//
//	nonce = IV XOR (0x00 0x00 0x00 || source address || counter as 8 bytes big-endian)
//
// The source address is the low byte of the CAN identifier, so two nodes that share a key
// (binding level, exchange level) never share a nonce as long as each sends every counter
// value at most once: counters are per direction and the freshness layer never reuses one.
// The AAD is the 29-bit CAN identifier as 4 bytes big-endian, then the envelope header, then
// the caller's aad. A Channel is safe for concurrent use.
type Channel struct {
	aead cipher.AEAD
	iv   [NonceSize]byte
	kid  uint16
}

// NewChannel makes a channel for one AES-256 key, its IV and its key ID.
func NewChannel(key [32]byte, iv [12]byte, kid uint16) *Channel {
	aead, err := newGCM(key[:])
	if err != nil {
		// AES-256 with a 32-byte key and the standard GCM parameters cannot fail.
		panic(fmt.Sprintf("suite: channel: %v", err))
	}
	return &Channel{aead: aead, iv: iv, kid: kid}
}

// NewLevelChannel makes a channel from derived level keys.
func NewLevelChannel(l LevelKeys) *Channel { return NewChannel(l.Key, l.IV, l.KID) }

// KID returns the channel's key ID.
func (c *Channel) KID() uint16 { return c.kid }

func (c *Channel) nonce(id uint32, counter uint64) [NonceSize]byte {
	n := c.iv
	n[3] ^= byte(id)
	var ctr [8]byte
	binary.BigEndian.PutUint64(ctr[:], counter)
	for i, b := range ctr {
		n[4+i] ^= b
	}
	return n
}

// channelAAD keeps only the 29 identifier bits, so flag bits a driver may carry above them
// (such as SocketCAN's extended-frame flag) never change the AAD.
func channelAAD(id uint32, header, aad []byte) []byte {
	out := make([]byte, 4, 4+len(header)+len(aad))
	binary.BigEndian.PutUint32(out, id&idMask)
	out = append(out, header...)
	return append(out, aad...)
}

// Seal encrypts plaintext for CAN identifier id with the given counter and returns the envelope.
// The caller owns the counter: it must never pass the same value twice for one key and source.
func (c *Channel) Seal(id uint32, counter uint64, plaintext, aad []byte) []byte {
	n := CounterLen(counter)
	hl := envelopeFixed + n
	out := make([]byte, hl, hl+len(plaintext)+TagSize)
	out[0] = envelopeVersion<<4 | byte(n-1)
	binary.BigEndian.PutUint16(out[1:3], c.kid)
	for i := range n {
		out[hl-1-i] = byte(counter >> (8 * i))
	}
	nonce := c.nonce(id, counter)
	return c.aead.Seal(out, nonce[:], plaintext, channelAAD(id, out[:hl], aad))
}

// Open authenticates and decrypts an envelope received with CAN identifier id and returns the
// counter it carried; replay checking is the caller's. Errors: ErrMalformed (a *DecodeError),
// ErrVersion, ErrWrongKey (the KID is not this channel's), ErrAuth (tag failure: tampering, wrong
// identifier, wrong aad or wrong key).
func (c *Channel) Open(id uint32, envelope, aad []byte) (counter uint64, plaintext []byte, err error) {
	e, err := ParseEnvelope(envelope)
	if err != nil {
		return 0, nil, err
	}
	if e.KID != c.kid {
		return 0, nil, fmt.Errorf("%w: envelope kid %04x, channel kid %04x", ErrWrongKey, e.KID, c.kid)
	}
	nonce := c.nonce(id, e.Counter)
	pt, err := c.aead.Open(nil, nonce[:], envelope[len(e.Header):], channelAAD(id, e.Header, aad))
	if err != nil {
		return 0, nil, ErrAuth
	}
	return e.Counter, pt, nil
}
