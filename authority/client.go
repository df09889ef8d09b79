package authority

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// Client calls an authority's HTTP API. Failures the authority reports come back as *Error with
// the code of the JSON body, so callers test errors.Is(err, authority.ErrNotAParty).
type Client struct {
	BaseURL string       // e.g. http://127.0.0.1:8443 (without /api)
	HTTP    *http.Client // nil means http.DefaultClient
}

// maxAnswer bounds an answer body.
const maxAnswer = 1 << 20

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	return c.doWith(ctx, method, path, nil, in, out)
}

func (c *Client) doWith(ctx context.Context, method, path string, header http.Header, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("authority client: encode: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, body)
	if err != nil {
		return fmt.Errorf("authority client: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("authority client: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("authority client: %s %s: read: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		if json.Unmarshal(b, &eb) != nil || eb.Error.Code == "" {
			return &Error{Code: CodeInternal, Status: resp.StatusCode, Message: fmt.Sprintf("%s %s: %s: %.200s", method, path, resp.Status, b)}
		}
		return &Error{Code: eb.Error.Code, Message: eb.Error.Message, Status: resp.StatusCode}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("authority client: %s %s: answer: %w", method, path, err)
	}
	return nil
}

func esc(s string) string { return url.PathEscape(s) }

// GenerateKeys calls POST /api/binding/generate-keys.
func (c *Client) GenerateKeys(ctx context.Context, req GenerateKeysRequest) (*GenerateKeysResponse, error) {
	var out GenerateKeysResponse
	return &out, c.do(ctx, http.MethodPost, "/api/binding/generate-keys", req, &out)
}

// Bind runs both generate-keys calls of one binding: a (with role ra) first, then b. It returns
// the binding ID.
func (c *Client) Bind(ctx context.Context, a message.AccessData, ra string, b message.AccessData, rb string) (string, error) {
	r1, err := c.GenerateKeys(ctx, GenerateKeysRequest{AccessData: a, Role: ra, PartnerAccessData: b})
	if err != nil {
		return "", err
	}
	r2, err := c.GenerateKeys(ctx, GenerateKeysRequest{AccessData: b, Role: rb, PartnerAccessData: a, BindingID: r1.BindingID})
	if err != nil {
		return r1.BindingID, err
	}
	return r2.BindingID, nil
}

// Binding calls GET /api/binding/{id}.
func (c *Client) Binding(ctx context.Context, id string) (*BindingInfo, error) {
	var out BindingInfo
	return &out, c.do(ctx, http.MethodGet, "/api/binding/"+esc(id), nil, &out)
}

// PartnerKey calls GET /api/binding/{id}/partner-key?entity=E.
func (c *Client) PartnerKey(ctx context.Context, id, entity string) (*PartnerKeyResponse, error) {
	return c.PartnerKeyProved(ctx, id, entity, "")
}

// PartnerKeyProved is PartnerKey with a Web4-Proof header (SignRequest with OpPartnerKey).
func (c *Client) PartnerKeyProved(ctx context.Context, id, entity, proof string) (*PartnerKeyResponse, error) {
	var out PartnerKeyResponse
	var h http.Header
	if proof != "" {
		h = http.Header{ProofHeader: {proof}}
	}
	return &out, c.doWith(ctx, http.MethodGet, "/api/binding/"+esc(id)+"/partner-key?entity="+url.QueryEscape(entity), h, nil, &out)
}

// PartnerPublicKey is PartnerKey with the key parsed and, when auth is not nil, checked against
// the binding record the authority signed (valid at now).
func (c *Client) PartnerPublicKey(ctx context.Context, id, entity string, auth *suite.PublicKey, now time.Time) (*suite.PublicKey, *PartnerKeyResponse, error) {
	r, err := c.PartnerKey(ctx, id, entity)
	if err != nil {
		return nil, nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(r.SemiPublicKey)
	if err != nil {
		return nil, r, fmt.Errorf("authority client: partner key: %w", err)
	}
	pub, err := suite.ParsePublicKey(raw)
	if err != nil {
		return nil, r, fmt.Errorf("authority client: partner key: %w", err)
	}
	if auth != nil {
		cert, err := base64.StdEncoding.DecodeString(r.BindingCertificate)
		if err != nil {
			return nil, r, fmt.Errorf("authority client: binding certificate: %w", err)
		}
		bid, _ := message.ParseUUID(id)
		_, certKey, err := message.VerifyBindingCertificate(cert, auth, message.BindingExpect{Subject: r.Partner, Audience: entity, BindingID: bid}, now)
		if err != nil {
			return nil, r, fmt.Errorf("authority client: binding certificate: %w", err)
		}
		if !certKey.Equal(pub) {
			return nil, r, fmt.Errorf("authority client: binding certificate names another key than the answer")
		}
	}
	return pub, r, nil
}

// VerifyBinding calls POST /api/binding/{id}/verify (L7 verification).
func (c *Client) VerifyBinding(ctx context.Context, id string) (*L7, error) {
	var out L7
	return &out, c.do(ctx, http.MethodPost, "/api/binding/"+esc(id)+"/verify", nil, &out)
}

// RevokeBinding calls POST /api/binding/{id}/revoke (L7 revocation).
func (c *Client) RevokeBinding(ctx context.Context, id string, req RevokeBindingRequest) (*RevokeBindingResponse, error) {
	var out RevokeBindingResponse
	return &out, c.do(ctx, http.MethodPost, "/api/binding/"+esc(id)+"/revoke", req, &out)
}

// IssuePairing calls POST /api/pairing/issue.
func (c *Client) IssuePairing(ctx context.Context, req IssuePairingRequest) (*IssuePairingResponse, error) {
	var out IssuePairingResponse
	return &out, c.do(ctx, http.MethodPost, "/api/pairing/issue", req, &out)
}

// CertificateBytes decodes the certificate of an issue answer.
func (r *IssuePairingResponse) CertificateBytes() ([]byte, error) {
	return base64.StdEncoding.DecodeString(r.Certificate)
}

// Pairing calls GET /api/pairing/{id}.
func (c *Client) Pairing(ctx context.Context, id string) (*PairingInfo, error) {
	var out PairingInfo
	return &out, c.do(ctx, http.MethodGet, "/api/pairing/"+esc(id), nil, &out)
}

// Complete calls POST /api/pairing/{id}/complete with an encoded message.Completion.
func (c *Client) Complete(ctx context.Context, id string, completion []byte) (*L6, error) {
	var out L6
	req := CompleteRequest{Completion: base64.StdEncoding.EncodeToString(completion)}
	return &out, c.do(ctx, http.MethodPost, "/api/pairing/"+esc(id)+"/complete", req, &out)
}

// RevokePairing calls POST /api/pairing/{id}/revoke (L6 revocation).
func (c *Client) RevokePairing(ctx context.Context, id, reason string) (*L6, error) {
	var out L6
	return &out, c.do(ctx, http.MethodPost, "/api/pairing/"+esc(id)+"/revoke", RevokePairingRequest{Reason: reason}, &out)
}

// ModifyPairing calls POST /api/pairing/{id}/modify (L6 modification).
func (c *Client) ModifyPairing(ctx context.Context, id string, req ModifyPairingRequest) (*L6, error) {
	var out L6
	return &out, c.do(ctx, http.MethodPost, "/api/pairing/"+esc(id)+"/modify", req, &out)
}

// Authority calls GET /api/authority and parses the key.
func (c *Client) Authority(ctx context.Context) (*suite.PublicKey, *AuthorityInfo, error) {
	var out AuthorityInfo
	if err := c.do(ctx, http.MethodGet, "/api/authority", nil, &out); err != nil {
		return nil, nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(out.PublicKey)
	if err != nil {
		return nil, &out, fmt.Errorf("authority client: authority key: %w", err)
	}
	k, err := suite.ParsePublicKey(raw)
	return k, &out, err
}

// Ledger calls GET /api/ledger.
func (c *Client) Ledger(ctx context.Context) (*LedgerInfo, error) {
	var out LedgerInfo
	return &out, c.do(ctx, http.MethodGet, "/api/ledger", nil, &out)
}

// LedgerEntry calls GET /api/ledger/{index}; the caller can recompute its hash (Entry.ComputeHash).
func (c *Client) LedgerEntry(ctx context.Context, index uint64) (*Entry, error) {
	var out Entry
	return &out, c.do(ctx, http.MethodGet, fmt.Sprintf("/api/ledger/%d", index), nil, &out)
}

// Stats calls GET /api/stats.
func (c *Client) Stats(ctx context.Context) (*Stats, error) {
	var out Stats
	return &out, c.do(ctx, http.MethodGet, "/api/stats", nil, &out)
}

// Validate calls POST /api/validate: a signed verdict on a pairing (level 6) or binding (7).
func (c *Client) Validate(ctx context.Context, level int, subject string, request []byte) (*ValidateResponse, error) {
	var out ValidateResponse
	req := ValidateRequest{Level: level, Subject: subject, Request: base64.StdEncoding.EncodeToString(request)}
	return &out, c.do(ctx, http.MethodPost, "/api/validate", req, &out)
}
