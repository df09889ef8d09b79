package authority

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// KeyGenerator asks one device to make its binding key pair for a partner and returns the
// public half. The private half stays on the device: the authority never sees it. The
// authority holds one KeyGenerator per role: an HTTP client to the device's own
// /api/binding/generate-keys (the app), or a CAN relay the app provides (pack, modules).
type KeyGenerator interface {
	GenerateKeys(ctx context.Context, req KeyRequest) (*suite.PublicKey, error)
}

// KeyRequest is what the authority tells the device.
type KeyRequest struct {
	Subject   message.AccessData // the device that makes the key
	Partner   message.AccessData // the partner it binds to
	BindingID []byte             // 16 bytes, made by the authority
}

// KeyGeneratorFunc adapts a function to KeyGenerator.
type KeyGeneratorFunc func(ctx context.Context, req KeyRequest) (*suite.PublicKey, error)

// GenerateKeys calls f.
func (f KeyGeneratorFunc) GenerateKeys(ctx context.Context, req KeyRequest) (*suite.PublicKey, error) {
	return f(ctx, req)
}

// BindingIDHeader carries the authority's binding ID to a device's generate-keys endpoint; the
// device answers with the same binding_id.
const BindingIDHeader = "Web4-Binding-ID"

// Headers of a relayed generate-keys call: the device the relay must ask (over CAN).
const (
	DeviceIDHeader       = "Web4-Device-ID"
	DeviceEndpointHeader = "Web4-Device-Endpoint"
)

// HTTPKeyGenerator calls POST <Subject.Endpoint>/binding/generate-keys with the upstream body
// {"partner_access_data": …} and the binding ID in the Web4-Binding-ID header, and reads
// {"semi_public_key", "binding_id"}. Subject.Endpoint is the device's API base, e.g.
// http://localhost:8080/api.
//
// With Relay set, the call goes to <Relay>/binding/generate-keys instead, with the subject's
// device ID and endpoint in the Web4-Device-ID and Web4-Device-Endpoint headers: that is how the
// app relays key generation to the pack and the modules over CAN.
type HTTPKeyGenerator struct {
	Client *http.Client // nil means http.DefaultClient
	Relay  string       // API base of a relay for entities not reached over HTTP; empty: none
}

// maxDeviceAnswer bounds a device's answer.
const maxDeviceAnswer = 16 << 10

// GenerateKeys implements KeyGenerator.
func (g HTTPKeyGenerator) GenerateKeys(ctx context.Context, req KeyRequest) (*suite.PublicKey, error) {
	base := req.Subject.Endpoint
	if g.Relay != "" {
		base = g.Relay
	} else if req.Subject.Type != "http" {
		return nil, fmt.Errorf("http key generator: entity %s is reached over %q and no relay is set", req.Subject.DeviceID, req.Subject.Type)
	}
	body, err := (&message.GenerateKeysRequest{V: message.Version1, PartnerAccessData: req.Partner}).EncodeJSON()
	if err != nil {
		return nil, err
	}
	url := strings.TrimSuffix(base, "/") + "/binding/generate-keys"
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set(BindingIDHeader, message.FormatUUID(req.BindingID))
	if g.Relay != "" {
		hr.Header.Set(DeviceIDHeader, req.Subject.DeviceID)
		hr.Header.Set(DeviceEndpointHeader, req.Subject.Endpoint)
	}
	c := g.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDeviceAnswer+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxDeviceAnswer {
		return nil, fmt.Errorf("device answer beyond %d bytes", maxDeviceAnswer)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("device answered %s: %.200s", resp.Status, b)
	}
	m, err := message.DecodeGenerateKeysResponseJSON(b, suite.KeyID)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(m.BindingID, req.BindingID) {
		return nil, fmt.Errorf("device answered binding ID %s, want %s", message.FormatUUID(m.BindingID), message.FormatUUID(req.BindingID))
	}
	return suite.ParsePublicKey(m.SemiPublicKey)
}
