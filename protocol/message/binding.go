package message

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// AccessData tells a partner how to reach an entity. It is nested in other structures and
// versioned by them. JSON names are those of the authority's HTTP API.
type AccessData struct {
	Type     string `cbor:"1,keyasint" json:"type"`     // "can" or "http"
	ChainID  string `cbor:"2,keyasint" json:"chain_id"` // ledger the binding is recorded on
	DeviceID string `cbor:"3,keyasint" json:"device_id"`
	Endpoint string `cbor:"4,keyasint" json:"endpoint"` // CAN base address ("0x40") or URL
}

// Validate checks the fields' presence and sizes.
func (a *AccessData) Validate() error {
	c := checker{name: "AccessData"}
	c.text("Type", 1, a.Type, true)
	c.check(a.Type == "can" || a.Type == "http", "Type", 1, "type %q, want can or http", a.Type)
	c.text("ChainID", 2, a.ChainID, true)
	c.text("DeviceID", 3, a.DeviceID, true)
	c.text("Endpoint", 4, a.Endpoint, true)
	return c.err
}

// GenerateKeysRequest asks a device to make its binding key pair for a partner
// (POST /api/binding/generate-keys; carried over CAN as binding-transfer).
type GenerateKeysRequest struct {
	V                 uint8      `cbor:"0,keyasint" json:"-"`
	PartnerAccessData AccessData `cbor:"1,keyasint" json:"partner_access_data"`
}

// Validate checks the request.
func (m *GenerateKeysRequest) Validate() error {
	c := checker{name: "GenerateKeysRequest"}
	c.version(m.V)
	if c.err != nil {
		return c.err
	}
	return m.PartnerAccessData.Validate()
}

// Encode returns the deterministic CBOR form.
func (m *GenerateKeysRequest) Encode() ([]byte, error) { return encode(m) }

// DecodeGenerateKeysRequest parses the CBOR form strictly.
func DecodeGenerateKeysRequest(b []byte) (*GenerateKeysRequest, error) {
	m := new(GenerateKeysRequest)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// EncodeJSON returns the HTTP body {"partner_access_data": {...}}.
func (m *GenerateKeysRequest) EncodeJSON() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// DecodeGenerateKeysRequestJSON parses the HTTP body strictly (unknown fields rejected).
func DecodeGenerateKeysRequestJSON(b []byte) (*GenerateKeysRequest, error) {
	var m GenerateKeysRequest
	if err := strictJSON(b, &m); err != nil {
		return nil, err
	}
	m.V = Version1
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// GenerateKeysResponse carries the device's new semi-public key and the binding ID.
type GenerateKeysResponse struct {
	V             uint8  `cbor:"0,keyasint"`
	SemiPublicKey []byte `cbor:"1,keyasint"` // 65-byte uncompressed SEC1 P-256 point
	BindingID     []byte `cbor:"2,keyasint"` // 16 bytes
	KID           uint16 `cbor:"3,keyasint"` // key ID of SemiPublicKey
	Alg           int    `cbor:"4,keyasint"` // ES256: the key signs and agrees (ECDH) on P-256
}

// Validate checks sizes and the algorithm. That KID matches the key is checked by whoever
// parses the key (VerifyKID).
func (m *GenerateKeysResponse) Validate() error {
	c := checker{name: "GenerateKeysResponse"}
	c.version(m.V)
	c.size("SemiPublicKey", 1, m.SemiPublicKey, PointSize)
	c.size("BindingID", 2, m.BindingID, IDSize)
	if m.Alg != AlgES256 {
		c.fail("Alg", 4, ErrAlgorithm, "alg %d, want %d", m.Alg, AlgES256)
	}
	return c.err
}

// Encode returns the deterministic CBOR form.
func (m *GenerateKeysResponse) Encode() ([]byte, error) { return encode(m) }

// DecodeGenerateKeysResponse parses the CBOR form strictly.
func DecodeGenerateKeysResponse(b []byte) (*GenerateKeysResponse, error) {
	m := new(GenerateKeysResponse)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

type generateKeysResponseJSON struct {
	SemiPublicKey string `json:"semi_public_key"` // standard base64 with padding
	BindingID     string `json:"binding_id"`      // canonical UUID text
}

// EncodeJSON returns the HTTP body {"semi_public_key": <base64>, "binding_id": <uuid>}.
// KID and Alg are implied: the KID is computed from the key, the algorithm is fixed by v1.
func (m *GenerateKeysResponse) EncodeJSON() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(generateKeysResponseJSON{
		SemiPublicKey: base64.StdEncoding.EncodeToString(m.SemiPublicKey),
		BindingID:     FormatUUID(m.BindingID),
	})
}

// DecodeGenerateKeysResponseJSON parses the HTTP body; kid is the KID the caller computed from
// the key (suite.KeyID), since the JSON form does not carry it.
func DecodeGenerateKeysResponseJSON(b []byte, kid func([]byte) uint16) (*GenerateKeysResponse, error) {
	var j generateKeysResponseJSON
	if err := strictJSON(b, &j); err != nil {
		return nil, err
	}
	key, err := base64.StdEncoding.DecodeString(j.SemiPublicKey)
	if err != nil {
		return nil, fieldErr("GenerateKeysResponse", "SemiPublicKey", 1, ErrWrongType, "base64: %v", err)
	}
	id, err := ParseUUID(j.BindingID)
	if err != nil {
		return nil, err
	}
	m := &GenerateKeysResponse{V: Version1, SemiPublicKey: key, BindingID: id, Alg: AlgES256}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	m.KID = kid(key)
	return m, nil
}

func strictJSON(b []byte, v any) error {
	if len(b) > MaxMessageSize {
		return fmt.Errorf("%w: JSON body of %d bytes", ErrSize, len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if strings.Contains(err.Error(), "unknown field") {
			return fmt.Errorf("%w: %v", ErrUnknownField, err)
		}
		return fmt.Errorf("%w: JSON: %v", ErrMalformed, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: JSON: trailing data", ErrMalformed)
	}
	return nil
}

// FormatUUID writes a 16-byte ID as canonical UUID text.
func FormatUUID(id []byte) string {
	if len(id) != IDSize {
		return hex.EncodeToString(id)
	}
	h := hex.EncodeToString(id)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ParseUUID parses canonical UUID text into 16 bytes.
func ParseUUID(s string) ([]byte, error) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return nil, fmt.Errorf("%w: UUID %q", ErrInvalid, s)
	}
	b, err := hex.DecodeString(s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36])
	if err != nil {
		return nil, fmt.Errorf("%w: UUID %q: %v", ErrInvalid, s, err)
	}
	return b, nil
}
