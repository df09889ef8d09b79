package suite

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// CBOR tags of the COSE structures (RFC 9052 section 2).
const (
	tagSign1   = 18
	tagEncrypt = 96
)

// COSE header labels and COSE_Key parameters (RFC 9052, RFC 9053).
const (
	hdrAlg       = 1
	hdrCrit      = 2
	hdrKID       = 4
	hdrIV        = 5
	hdrEphemeral = -1

	keyKty    = 1
	keyCrv    = -1
	keyX      = -2
	keyY      = -3
	ktyEC2    = 2
	crvP256   = 1
	kidLength = 2
)

// The limits below bound what a decoder allocates for hostile input; profile v1 structures are
// small and flat.
const (
	maxNesting  = 8
	maxElements = 64
	maxPairs    = 32
)

// encMode encodes with RFC 8949 core deterministic rules; decMode rejects duplicate map keys,
// indefinite lengths and trailing bytes. Both are immutable once built.
var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(fmt.Sprintf("suite: CBOR encoder options: %v", err))
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		MaxNestedLevels:  maxNesting,
		MaxArrayElements: maxElements,
		MaxMapPairs:      maxPairs,
		TagsMd:           cbor.TagsAllowed,
	}.DecMode()
	if err != nil {
		panic(fmt.Sprintf("suite: CBOR decoder options: %v", err))
	}
}

// bstr returns b, or an empty non-nil slice, so that it encodes as a byte string and never null.
func bstr(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// untag decodes a tagged CBOR item and checks its tag number.
func untag(what string, msg []byte, tag uint64) ([]byte, error) {
	var t cbor.RawTag
	if err := decMode.Unmarshal(msg, &t); err != nil {
		return nil, malformed(what, "not a tagged CBOR item", err)
	}
	if t.Number != tag {
		return nil, malformed(what, fmt.Sprintf("tag %d, want %d", t.Number, tag), nil)
	}
	return t.Content, nil
}

// header is a decoded COSE header map with integer labels.
type header map[int64]cbor.RawMessage

func decodeHeader(what string, b []byte) (header, error) {
	h := header{}
	if len(b) == 0 {
		return h, nil // a zero-length protected header means an empty map
	}
	if err := decMode.Unmarshal(b, &h); err != nil {
		return nil, malformed(what, "header is not a map with integer labels", err)
	}
	return h, nil
}

func (h header) int(what string, label int64) (int64, bool, error) {
	raw, ok := h[label]
	if !ok {
		return 0, false, nil
	}
	var v int64
	if err := decMode.Unmarshal(raw, &v); err != nil {
		return 0, true, malformed(what, fmt.Sprintf("header %d is not an integer", label), err)
	}
	return v, true, nil
}

func (h header) bytes(what string, label int64) ([]byte, bool, error) {
	raw, ok := h[label]
	if !ok {
		return nil, false, nil
	}
	if len(raw) == 0 || raw[0]>>5 != 2 {
		return nil, true, malformed(what, fmt.Sprintf("header %d is not a byte string", label), nil)
	}
	var v []byte
	if err := decMode.Unmarshal(raw, &v); err != nil {
		return nil, true, malformed(what, fmt.Sprintf("header %d is not a byte string", label), err)
	}
	return v, true, nil
}

// kid reads a 2-byte key ID header.
func (h header) kid(what string) (uint16, bool, error) {
	b, ok, err := h.bytes(what, hdrKID)
	if err != nil || !ok {
		return 0, ok, err
	}
	if len(b) != kidLength {
		return 0, true, malformed(what, fmt.Sprintf("kid is %d bytes, want %d", len(b), kidLength), nil)
	}
	return uint16(b[0])<<8 | uint16(b[1]), true, nil
}

// only rejects labels other than the allowed ones, so nothing unauthenticated or unknown
// (crit in particular) slips through.
func (h header) only(what string, allowed ...int64) error {
	for l := range h {
		ok := false
		for _, a := range allowed {
			ok = ok || l == a
		}
		if !ok {
			return malformed(what, fmt.Sprintf("unexpected header label %d", l), nil)
		}
	}
	return nil
}

func kidBytes(kid uint16) []byte { return []byte{byte(kid >> 8), byte(kid)} }

// isBstr reports whether raw is a CBOR byte string (major type 2).
func isBstr(raw cbor.RawMessage) bool { return len(raw) > 0 && raw[0]>>5 == 2 }

func decodeBstr(what, field string, raw cbor.RawMessage) ([]byte, error) {
	if !isBstr(raw) {
		return nil, malformed(what, field+" is not a byte string", nil)
	}
	var v []byte
	if err := decMode.Unmarshal(raw, &v); err != nil {
		return nil, malformed(what, field+" is not a byte string", err)
	}
	return bstr(v), nil
}
