package suite

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// HKDF labels of profile v1. Each derivation has its own; docs/protocol.md section 2 tabulates the
// inputs of each.
const (
	LabelBindingSecret = "binding secret"
	LabelBindingLevel  = "binding level"
	LabelHandshake     = "handshake"
	LabelPairingKey    = "pairing key"
	LabelPairingIV     = "pairing iv"
	LabelTelemetry     = "telemetry"
	LabelExchange      = "exchange"
	LabelTelemetryMAC  = "telemetry mac"
)

// levelOutput is key (32) || IV (12) || KID (2), the output of one level derivation.
const levelOutput = SecretSize + NonceSize + 2

// LevelKeys is what a Channel needs for one key level: an AES-256 key, the IV its nonces are
// built from, and the key's 16-bit ID.
type LevelKeys struct {
	Key [32]byte
	IV  [12]byte
	KID uint16
}

// Erase zeroises the key material.
func (l *LevelKeys) Erase() {
	Erase(l.Key[:])
	Erase(l.IV[:])
}

func splitLevel(out []byte) LevelKeys {
	var l LevelKeys
	copy(l.Key[:], out[:32])
	copy(l.IV[:], out[32:44])
	l.KID = binary.BigEndian.Uint16(out[44:46])
	Erase(out)
	return l
}

// BindingSecret is the binding ECDH secret both partners compute once at binding and store:
// HKDF over the static ECDH x-coordinate, with both public keys (lower SEC1 encoding first) as
// info, so it is bound to the pair and is the same on both sides. Errors: ErrBadPoint.
func BindingSecret(own *PrivateKey, partner *PublicKey) ([]byte, error) {
	z, err := ECDH(own, partner)
	if err != nil {
		return nil, fmt.Errorf("suite: binding secret: %w", err)
	}
	defer Erase(z)
	a, b := own.pub.sec1[:], partner.sec1[:]
	if bytes.Compare(a, b) > 0 {
		a, b = b, a
	}
	info := make([]byte, 0, 2*PublicKeySize)
	info = append(append(info, a...), b...)
	return HKDF(z, nil, LabelBindingSecret, info, SecretSize), nil
}

// BindingLevelKeys derives the level-10 (binding) channel keys of one binding, shared by both
// directions (the nonce carries the sender's address, see Channel).
func BindingLevelKeys(bindingSecret, bindingID []byte) LevelKeys {
	return splitLevel(HKDF(bindingSecret, nil, LabelBindingLevel, lengthPrefixed(bindingID), levelOutput))
}

// BindingLevelKey is the AES-256 key of BindingLevelKeys.
func BindingLevelKey(bindingSecret []byte, bindingID []byte) [32]byte {
	l := BindingLevelKeys(bindingSecret, bindingID)
	k := l.Key
	l.Erase()
	return k
}

// HandshakeKey is the key of the pairing certificate's handshake section: it needs both halves,
// so only an entity that received the other's half (or the authority that made them) opens it.
func HandshakeKey(halfA, halfB, metadataHash []byte) [32]byte {
	ikm := concat(halfA, halfB)
	defer Erase(ikm)
	out := HKDF(ikm, metadataHash, LabelHandshake, nil, SecretSize)
	var k [32]byte
	copy(k[:], out)
	Erase(out)
	return k
}

// ExchangeKeys derives the channel keys used under a certificate's exchange key (key level 00)
// while the halves are swapped. Both directions share them; the nonce carries the sender's address.
func ExchangeKeys(exchangeKey, pairingID []byte) LevelKeys {
	return splitLevel(HKDF(exchangeKey, nil, LabelExchange, lengthPrefixed(pairingID), levelOutput))
}

// PairingKeys is the operational key material of one pairing. A is the entity listed first in
// the pairing certificate, B the second.
type PairingKeys struct {
	Key                         [64]byte // the pairing key
	AtoB, BtoA, Telemetry       [32]byte
	IVAtoB, IVBtoA, IVTelemetry [12]byte
	KID                         uint16 // key ID of AtoB and BtoA (key level 01)
	TelemetryKID                uint16 // key ID of Telemetry (key level 00)
}

// Erase zeroises all key material.
func (p *PairingKeys) Erase() {
	Erase(p.Key[:])
	Erase(p.AtoB[:])
	Erase(p.BtoA[:])
	Erase(p.Telemetry[:])
	Erase(p.IVAtoB[:])
	Erase(p.IVBtoA[:])
	Erase(p.IVTelemetry[:])
}

// Send returns the keys an entity sends with: AtoB for A, BtoA for B.
func (p *PairingKeys) Send(isA bool) LevelKeys {
	if isA {
		return LevelKeys{Key: p.AtoB, IV: p.IVAtoB, KID: p.KID}
	}
	return LevelKeys{Key: p.BtoA, IV: p.IVBtoA, KID: p.KID}
}

// Receive returns the keys an entity receives with: BtoA for A, AtoB for B.
func (p *PairingKeys) Receive(isA bool) LevelKeys { return p.Send(!isA) }

// TelemetryKeys returns the exchange-level telemetry keys (shared by both directions).
func (p *PairingKeys) TelemetryKeys() LevelKeys {
	return LevelKeys{Key: p.Telemetry, IV: p.IVTelemetry, KID: p.TelemetryKID}
}

// DerivePairingKeys derives a pairing's keys:
//
//	K  = HKDF(IKM = bindingSecret || halfA || halfB, salt = metadataHash,
//	          "pairing key", lp(pairingID) || lp(context), 64)
//	AtoB = K[0:32], BtoA = K[32:64]
//	IVAtoB || IVBtoA || KID = HKDF(K, nil, "pairing iv", nil, 26)
//	Telemetry || IVTelemetry || TelemetryKID = HKDF(K, nil, "telemetry", nil, 46)
//
// where lp(x) is x's length as 2 bytes big-endian followed by x. The binding secret and the
// halves are 32 bytes each.
func DerivePairingKeys(bindingSecret, halfA, halfB, metadataHash, pairingID []byte, context string) PairingKeys {
	var p PairingKeys
	ikm := concat(bindingSecret, halfA, halfB)
	defer Erase(ikm)
	info := append(lengthPrefixed(pairingID), lengthPrefixed([]byte(context))...)
	k := HKDF(ikm, metadataHash, LabelPairingKey, info, PairingKeySize)
	copy(p.Key[:], k)
	Erase(k)
	copy(p.AtoB[:], p.Key[:32])
	copy(p.BtoA[:], p.Key[32:])
	iv := HKDF(p.Key[:], nil, LabelPairingIV, nil, 2*NonceSize+2)
	copy(p.IVAtoB[:], iv[:12])
	copy(p.IVBtoA[:], iv[12:24])
	p.KID = binary.BigEndian.Uint16(iv[24:26])
	Erase(iv)
	t := splitLevel(HKDF(p.Key[:], nil, LabelTelemetry, nil, levelOutput))
	p.Telemetry, p.IVTelemetry, p.TelemetryKID = t.Key, t.IV, t.KID
	t.Erase()
	return p
}

// TelemetryMACKey derives K_TM, the AES-CMAC key of single-frame telemetry (type telemetry-short):
// HKDF(K_P, nil, "telemetry mac", nil, 32). It is kept apart from the telemetry AEAD key because
// CMAC and GCM must not share an AES key: both derive a subkey from AES_K(0).
func (p *PairingKeys) TelemetryMACKey() [32]byte {
	var k [32]byte
	out := HKDF(p.Key[:], nil, LabelTelemetryMAC, nil, len(k))
	copy(k[:], out)
	Erase(out)
	return k
}

// lengthPrefixed is lp(x): a 2-byte big-endian length, then x. Longer inputs are cut at 65535
// bytes; identifiers and context names are far shorter.
func lengthPrefixed(x []byte) []byte {
	if len(x) > 0xFFFF {
		x = x[:0xFFFF]
	}
	out := make([]byte, 2, 2+len(x))
	binary.BigEndian.PutUint16(out, uint16(len(x)))
	return append(out, x...)
}

func concat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
