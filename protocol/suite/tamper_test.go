package suite

import (
	"crypto"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func enc(t testing.TB, v any) []byte {
	t.Helper()
	b, err := encMode.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// craftSign1 signs payload under an arbitrary protected header, so that header checks are
// tested on otherwise valid signatures.
func craftSign1(t testing.TB, k *PrivateKey, prot []byte, unprot map[int64]any, payload any, external []byte, tag uint64) []byte {
	t.Helper()
	pl, _ := payload.([]byte)
	tbs, err := sigStructure(prot, external, pl)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(tbs)
	der, err := k.sig.Sign(nil, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := derToRaw(der)
	if err != nil {
		t.Fatal(err)
	}
	if unprot == nil {
		unprot = map[int64]any{}
	}
	return enc(t, cbor.Tag{Number: tag, Content: []any{prot, unprot, payload, sig}})
}

func TestSign1Tamper(t *testing.T) {
	k, other := fixedKey(t, "web4/v1 test key A"), fixedKey(t, "web4/v1 test key B")
	payload, ext := []byte("payload"), []byte("ext")
	kid := kidBytes(k.Public().KID())
	good, err := Sign1(k, payload, ext, nil)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := append([]byte{}, good...)
		b[i] ^= 0x01
		return b
	}
	stdProt := enc(t, map[int64]any{1: -7, 4: kid})
	tests := []struct {
		name string
		key  *PublicKey
		msg  []byte
		ext  []byte
		want error
	}{
		{"intact", k.Public(), good, ext, nil},
		{"payload byte", k.Public(), flip(12), ext, ErrBadSignature},
		{"signature byte", k.Public(), flip(len(good) - 1), ext, ErrBadSignature},
		{"external aad", k.Public(), good, []byte("exu"), ErrBadSignature},
		{"no external aad", k.Public(), good, nil, ErrBadSignature},
		{"other key", other.Public(), good, ext, ErrWrongKey},
		{"kid in header", k.Public(), flip(8), ext, ErrWrongKey},
		{"alg ES384", k.Public(), craftSign1(t, k, enc(t, map[int64]any{1: -35, 4: kid}), nil, payload, ext, 18), ext, ErrUnsupportedAlg},
		{"alg missing", k.Public(), craftSign1(t, k, enc(t, map[int64]any{4: kid}), nil, payload, ext, 18), ext, ErrMalformed},
		{"alg text", k.Public(), craftSign1(t, k, enc(t, map[int64]any{1: "ES256", 4: kid}), nil, payload, ext, 18), ext, ErrMalformed},
		{"kid missing", k.Public(), craftSign1(t, k, enc(t, map[int64]any{1: -7}), nil, payload, ext, 18), ext, ErrMalformed},
		{"kid 3 bytes", k.Public(), craftSign1(t, k, enc(t, map[int64]any{1: -7, 4: append(kid, 0)}), nil, payload, ext, 18), ext, ErrMalformed},
		{"kid unprotected", k.Public(), craftSign1(t, k, stdProt, map[int64]any{4: kid}, payload, ext, 18), ext, ErrMalformed},
		{"crit header", k.Public(), craftSign1(t, k, enc(t, map[int64]any{1: -7, 2: []any{99}, 4: kid}), nil, payload, ext, 18), ext, ErrMalformed},
		{"detached payload", k.Public(), craftSign1(t, k, stdProt, nil, nil, ext, 18), ext, ErrMalformed},
		{"wrong tag", k.Public(), craftSign1(t, k, stdProt, nil, payload, ext, 98), ext, ErrMalformed},
		{"untagged", k.Public(), good[1:], ext, ErrMalformed},
		{"truncated", k.Public(), good[:len(good)-1], ext, ErrMalformed},
		{"trailing byte", k.Public(), append(append([]byte{}, good...), 0), ext, ErrMalformed},
		{"short signature", k.Public(), enc(t, cbor.Tag{Number: 18, Content: []any{stdProt, map[int64]any{}, payload, make([]byte, 63)}}), ext, ErrMalformed},
		{"empty", k.Public(), nil, ext, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Verify1(tc.key, tc.msg, tc.ext)
			if tc.want == nil {
				if err != nil || string(got) != string(payload) {
					t.Fatalf("Verify1 = %q, %v", got, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify1 error %v, want %v", err, tc.want)
			}
			for _, other := range []error{ErrMalformed, ErrBadSignature, ErrWrongKey, ErrUnsupportedAlg, ErrAuth, ErrBadPoint, ErrVersion} {
				if other != tc.want && errors.Is(err, other) {
					t.Fatalf("error %v also matches %v", err, other)
				}
			}
			if errors.Is(tc.want, ErrMalformed) {
				var de *DecodeError
				if !errors.As(err, &de) || de.Reason == "" {
					t.Fatalf("malformed input without a *DecodeError reason: %v", err)
				}
			}
		})
	}
}

// sealParts builds a COSE_Encrypt from parts, as Seal would, so each part can be altered.
type sealParts struct {
	prot, rprot []byte
	unprot      map[int64]any
	ct          []byte
	runprot     map[int64]any
	rct         []byte
	recipients  int
	tag         uint64
}

func (p sealParts) encode(t testing.TB) []byte {
	r := []any{p.rprot, p.runprot, p.rct}
	rs := make([]any, p.recipients)
	for i := range rs {
		rs[i] = r
	}
	return enc(t, cbor.Tag{Number: p.tag, Content: []any{p.prot, p.unprot, p.ct, rs}})
}

// splitSeal decodes a message made by Seal into its parts.
func splitSeal(t testing.TB, msg []byte) sealParts {
	t.Helper()
	var tag cbor.Tag
	if err := decMode.Unmarshal(msg, &tag); err != nil {
		t.Fatal(err)
	}
	var m struct {
		_          struct{} `cbor:",toarray"`
		Prot       []byte
		Unprot     map[int64]any
		CT         []byte
		Recipients []struct {
			_      struct{} `cbor:",toarray"`
			Prot   []byte
			Unprot map[int64]any
			CT     []byte
		}
	}
	if err := decMode.Unmarshal(enc(t, tag.Content), &m); err != nil {
		t.Fatal(err)
	}
	r := m.Recipients[0]
	return sealParts{prot: m.Prot, rprot: r.Prot, unprot: m.Unprot, ct: m.CT, runprot: r.Unprot, rct: r.CT, recipients: 1, tag: tag.Number}
}

func TestOpenTamper(t *testing.T) {
	k, other := fixedKey(t, "web4/v1 test key B"), fixedKey(t, "web4/v1 test key A")
	e := fixedKey(t, "web4/v1 test ephemeral key")
	ext := []byte("ext")
	good, err := sealWith(k.Public(), e, [12]byte{}, []byte("secret half"), ext)
	if err != nil {
		t.Fatal(err)
	}
	if enc := splitSeal(t, good).encode(t); string(enc) != string(good) {
		t.Fatalf("splitSeal does not round-trip:\n%x\n%x", enc, good)
	}
	mod := func(f func(p *sealParts)) []byte {
		p := splitSeal(t, good)
		f(&p)
		return p.encode(t)
	}
	ephKey := func(p *sealParts) map[any]any { return p.runprot[-1].(map[any]any) }
	tests := []struct {
		name string
		key  *PrivateKey
		msg  []byte
		ext  []byte
		want error
	}{
		{"intact", k, good, ext, nil},
		{"ciphertext byte", k, mod(func(p *sealParts) { p.ct[0] ^= 1 }), ext, ErrAuth},
		{"tag byte", k, mod(func(p *sealParts) { p.ct[len(p.ct)-1] ^= 1 }), ext, ErrAuth},
		{"iv byte", k, mod(func(p *sealParts) { p.unprot[5].([]byte)[0] ^= 1 }), ext, ErrAuth},
		{"external aad", k, good, []byte("exu"), ErrAuth},
		{"other ephemeral key", k, mod(func(p *sealParts) {
			q := other.Public().Bytes()
			ephKey(p)[int64(-2)], ephKey(p)[int64(-3)] = q[1:33], q[33:]
		}), ext, ErrAuth},
		{"ephemeral x off curve", k, mod(func(p *sealParts) { ephKey(p)[int64(-2)].([]byte)[0] ^= 1 }), ext, ErrBadPoint},
		{"ephemeral crv P-384", k, mod(func(p *sealParts) { ephKey(p)[int64(-1)] = 2 }), ext, ErrUnsupportedAlg},
		{"ephemeral x short", k, mod(func(p *sealParts) { ephKey(p)[int64(-2)] = []byte{1} }), ext, ErrMalformed},
		{"ephemeral missing", k, mod(func(p *sealParts) { delete(p.runprot, -1) }), ext, ErrMalformed},
		{"wrong recipient", other, good, ext, ErrWrongKey},
		{"recipient kid", k, mod(func(p *sealParts) { p.runprot[4] = []byte{0, 0} }), ext, ErrWrongKey},
		{"recipient kid missing", k, mod(func(p *sealParts) { delete(p.runprot, 4) }), ext, ErrMalformed},
		{"content alg A128GCM", k, mod(func(p *sealParts) { p.prot = enc(t, map[int64]any{1: 1}) }), ext, ErrUnsupportedAlg},
		{"content alg missing", k, mod(func(p *sealParts) { p.prot = nil }), ext, ErrMalformed},
		{"recipient alg ECDH-ES+HKDF-512", k, mod(func(p *sealParts) { p.rprot = enc(t, map[int64]any{1: -26}) }), ext, ErrUnsupportedAlg},
		{"recipient extra header", k, mod(func(p *sealParts) { p.rprot = enc(t, map[int64]any{1: -25, 7: 1}) }), ext, ErrMalformed},
		{"recipient ciphertext", k, mod(func(p *sealParts) { p.rct = []byte{1} }), ext, ErrMalformed},
		{"two recipients", k, mod(func(p *sealParts) { p.recipients = 2 }), ext, ErrMalformed},
		{"no recipients", k, mod(func(p *sealParts) { p.recipients = 0 }), ext, ErrMalformed},
		{"iv short", k, mod(func(p *sealParts) { p.unprot[5] = []byte{1, 2} }), ext, ErrMalformed},
		{"iv missing", k, mod(func(p *sealParts) { delete(p.unprot, 5) }), ext, ErrMalformed},
		{"ciphertext shorter than tag", k, mod(func(p *sealParts) { p.ct = p.ct[:15] }), ext, ErrMalformed},
		{"wrong tag", k, mod(func(p *sealParts) { p.tag = 16 }), ext, ErrMalformed},
		{"truncated", k, good[:len(good)-1], ext, ErrMalformed},
		{"trailing byte", k, append(append([]byte{}, good...), 0), ext, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Open(tc.key, tc.msg, tc.ext)
			if tc.want == nil {
				if err != nil || string(got) != "secret half" {
					t.Fatalf("Open = %q, %v", got, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open error %v, want %v", err, tc.want)
			}
			for _, o := range []error{ErrMalformed, ErrBadSignature, ErrWrongKey, ErrUnsupportedAlg, ErrAuth, ErrBadPoint, ErrVersion} {
				if o != tc.want && errors.Is(err, o) {
					t.Fatalf("error %v also matches %v", err, o)
				}
			}
		})
	}
}

func TestChannelTamper(t *testing.T) {
	key, iv := [32]byte(seq(32, 1)), [12]byte(seq(12, 100))
	c := NewChannel(key, iv, 0xBEEF)
	const id = 0x04414005
	good := c.Seal(id, 0x1234, []byte("set state on"), []byte("aad"))
	flip := func(i int, m byte) []byte {
		b := append([]byte{}, good...)
		b[i] ^= m
		return b
	}
	// Re-encode the counter non-minimally (3 bytes, leading zero), with the tag left as it was.
	nonMinimal := append([]byte{0x12, 0xBE, 0xEF, 0x00}, good[3:]...)
	tooLong := c.Seal(id, 1, nil, nil)
	tooLong[0] |= 0x07
	tests := []struct {
		name string
		ch   *Channel
		id   uint32
		env  []byte
		aad  []byte
		want error
	}{
		{"intact", c, id, good, []byte("aad"), nil},
		{"ciphertext byte", c, id, flip(6, 1), []byte("aad"), ErrAuth},
		{"tag byte", c, id, flip(len(good)-1, 0x80), []byte("aad"), ErrAuth},
		{"counter", c, id, flip(4, 1), []byte("aad"), ErrAuth},
		{"identifier", c, id ^ 1<<20, good, []byte("aad"), ErrAuth},
		{"flag bits above the identifier", c, id | 0x80000000, good, []byte("aad"), nil},
		{"source address", c, id ^ 1, good, []byte("aad"), ErrAuth},
		{"aad", c, id, good, []byte("aae"), ErrAuth},
		{"other key same kid", NewChannel([32]byte(seq(32, 2)), iv, 0xBEEF), id, good, []byte("aad"), ErrAuth},
		{"other iv same kid", NewChannel(key, [12]byte(seq(12, 101)), 0xBEEF), id, good, []byte("aad"), ErrAuth},
		{"kid", c, id, flip(2, 1), []byte("aad"), ErrWrongKey},
		{"version", c, id, flip(0, 0x30), []byte("aad"), ErrVersion},
		{"reserved bit", c, id, flip(0, 0x08), []byte("aad"), ErrMalformed},
		{"counter length", c, id, flip(0, 0x07), []byte("aad"), ErrAuth},
		{"counter length past the end", c, id, tooLong, nil, ErrMalformed},
		{"counter not minimal", c, id, nonMinimal, []byte("aad"), ErrMalformed},
		{"short", c, id, good[:MinEnvelopeSize-1], []byte("aad"), ErrMalformed},
		{"empty", c, id, nil, []byte("aad"), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctr, pt, err := tc.ch.Open(tc.id, tc.env, tc.aad)
			if tc.want == nil {
				if err != nil || ctr != 0x1234 || string(pt) != "set state on" {
					t.Fatalf("Open = %x %q %v", ctr, pt, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open error %v, want %v", err, tc.want)
			}
			for _, o := range []error{ErrMalformed, ErrBadSignature, ErrWrongKey, ErrUnsupportedAlg, ErrAuth, ErrBadPoint, ErrVersion} {
				if o != tc.want && errors.Is(err, o) {
					t.Fatalf("error %v also matches %v", err, o)
				}
			}
		})
	}
}
