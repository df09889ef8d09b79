package message

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// Version1 is the version of every profile v1 structure (key 0).
const Version1 uint8 = 1

// MaxMessageSize bounds every encoded structure: the largest ISO-TP message without the
// escape sequence of the first frame.
const MaxMessageSize = 4095

// Limits the decoder enforces on nesting and collections.
const (
	maxNested = 8
	maxArray  = 32
	maxPairs  = 32
	maxText   = 64 // bytes, for identifiers, endpoints and version strings
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
	rawMode cbor.DecMode // for the key scan: same limits, no struct typing
)

func init() {
	var err error
	if encMode, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
	opts := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   maxNested,
		MaxArrayElements:  maxArray,
		MaxMapPairs:       maxPairs,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		UTF8:              cbor.UTF8RejectInvalid,
	}
	if decMode, err = opts.DecMode(); err != nil {
		panic(err)
	}
	opts.ExtraReturnErrors = cbor.ExtraDecErrorNone
	if rawMode, err = opts.DecMode(); err != nil {
		panic(err)
	}
}

// Structure is implemented by every structure of the catalogue (pointer receivers).
type Structure interface {
	Validate() error
}

// marshal encodes v deterministically without validating it.
func marshal(v any) ([]byte, error) {
	b, err := encMode.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("message: encode %T: %w", v, err)
	}
	return b, nil
}

// encode validates v and encodes it deterministically.
func encode(v Structure) ([]byte, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	b, err := marshal(v)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %T encodes to %d bytes, limit %d", ErrSize, v, len(b), MaxMessageSize)
	}
	return b, nil
}

// decode parses data strictly into v (a pointer to a struct of the catalogue) and validates it:
// size limit, well-formed CBOR, version 1, no unknown keys, every required key present, right
// types, deterministic encoding, then v.Validate.
func decode(data []byte, v Structure) error {
	name := reflect.TypeOf(v).Elem().Name()
	if len(data) > MaxMessageSize {
		return fieldErr(name, "", -1, ErrSize, "%d bytes, limit %d", len(data), MaxMessageSize)
	}
	var keys map[int64]cbor.RawMessage
	if err := rawMode.Unmarshal(data, &keys); err != nil {
		return classify(name, err)
	}
	if keys == nil {
		return fieldErr(name, "", -1, ErrMalformed, "not a map")
	}
	if err := checkVersion(name, keys[0]); err != nil {
		return err
	}
	if err := checkKeys(name, reflect.TypeOf(v).Elem(), keys); err != nil {
		return err
	}
	if err := decMode.Unmarshal(data, v); err != nil {
		return classify(name, err)
	}
	again, err := marshal(v)
	if err != nil {
		return fieldErr(name, "", -1, ErrMalformed, "%v", err)
	}
	if !bytes.Equal(again, data) {
		return fieldErr(name, "", -1, ErrNonCanonical, "re-encoding differs")
	}
	return v.Validate()
}

func checkVersion(name string, raw cbor.RawMessage) error {
	if raw == nil {
		return fieldErr(name, "V", 0, ErrMissingField, "version")
	}
	var ver uint64
	if err := rawMode.Unmarshal(raw, &ver); err != nil {
		return fieldErr(name, "V", 0, ErrWrongType, "version is not an unsigned integer")
	}
	if ver != uint64(Version1) {
		return fieldErr(name, "V", 0, ErrVersion, "version %d, want %d", ver, Version1)
	}
	return nil
}

// keyTable is what checkKeys needs of a struct type: its known keys and which are required.
type keyTable struct {
	known    map[int64]bool
	required []keyField
}

type keyField struct {
	key  int64
	name string
}

// keyTables holds the table of every catalogue type. It is filled in init and only read after.
var keyTables = map[reflect.Type]*keyTable{}

func init() {
	for _, v := range []any{GenerateKeysRequest{}, GenerateKeysResponse{}, BindingClaims{}, PairingMetadata{},
		EntitySection{}, HandshakeSection{}, PairingCertificate{}, KeyHalf{}, Completion{}, Announce{}, Witness{},
		SignedHandshake{}, PairedHandshake{}, Command{}, Ack{}, Escalation{}, Telemetry{}, PairingValidation{},
		BindingValidation{}, ValidationResult{}} {
		t := reflect.TypeOf(v)
		keyTables[t] = newKeyTable(t)
	}
}

func newKeyTable(t reflect.Type) *keyTable {
	kt := &keyTable{known: make(map[int64]bool, t.NumField())}
	for i := range t.NumField() {
		f := t.Field(i)
		key, omit, ok := tagKey(f)
		if !ok {
			continue
		}
		kt.known[key] = true
		if !omit {
			kt.required = append(kt.required, keyField{key, f.Name})
		}
	}
	return kt
}

// checkKeys compares the map's keys with the struct's keyasint tags: keys the struct does not
// know are ErrUnknownField, tags without omitempty are required.
func checkKeys(name string, t reflect.Type, keys map[int64]cbor.RawMessage) error {
	kt := keyTables[t]
	if kt == nil {
		kt = newKeyTable(t)
	}
	for _, f := range kt.required {
		if _, present := keys[f.key]; !present {
			return fieldErr(name, f.name, f.key, ErrMissingField, "")
		}
	}
	for k, v := range keys {
		if !kt.known[k] {
			return fieldErr(name, "", k, ErrUnknownField, "")
		}
		// null and undefined would decode as a zero value and re-encode the same.
		if len(v) == 1 && (v[0] == 0xf6 || v[0] == 0xf7) {
			return fieldErr(name, "", k, ErrWrongType, "null or undefined")
		}
	}
	return nil
}

func tagKey(f reflect.StructField) (key int64, omitempty, ok bool) {
	tag := f.Tag.Get("cbor")
	if tag == "" || tag == "-" {
		return 0, false, false
	}
	parts := strings.Split(tag, ",")
	k, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return 0, false, false
	}
	for _, p := range parts[1:] {
		if p == "omitempty" {
			omitempty = true
		}
	}
	return k, omitempty, true
}

// classify maps a CBOR library error to the package's sentinels.
func classify(name string, err error) error {
	var typeErr *cbor.UnmarshalTypeError
	var unknown *cbor.UnknownFieldError
	switch {
	case errors.As(err, &typeErr):
		return fieldErr(name, typeErr.StructFieldName, -1, ErrWrongType, "%v", err)
	case errors.As(err, &unknown):
		return fieldErr(name, "", -1, ErrUnknownField, "%v", err)
	}
	return fieldErr(name, "", -1, ErrMalformed, "%v", err)
}
