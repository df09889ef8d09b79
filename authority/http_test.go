package authority

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// TestBadInput: bad requests get a JSON error with the right status and code, are counted, and
// the service keeps serving.
func TestBadInput(t *testing.T) {
	w := newWorld(t, 1)
	defer w.close()
	b := w.bind(w.pack, w.mods[0])
	r := w.issue(b, "battery_management", w.pack, w.mods[0])
	gk := func(extra string) string {
		return `{"access_data":{"type":"can","chain_id":"c","device_id":"BM-00009","endpoint":"0x09"},"role":"module",` +
			`"partner_access_data":{"type":"can","chain_id":"c","device_id":"PC-12345","endpoint":"0x40"}` + extra + `}`
	}
	big := `{"reason":"` + strings.Repeat("x", DefaultMaxBody) + `"}`
	for _, tc := range []struct {
		name, method, path, ctype, body string
		status                          int
		code                            Code
	}{
		{"malformed JSON", "POST", "/api/binding/generate-keys", "application/json", `{"access_data":`, 400, CodeBadRequest},
		{"not an object", "POST", "/api/pairing/issue", "application/json", `[1,2]`, 400, CodeBadRequest},
		{"trailing data", "POST", "/api/pairing/issue", "application/json", `{} {}`, 400, CodeBadRequest},
		{"unknown field", "POST", "/api/binding/generate-keys", "application/json", gk(`,"private_key":"x"`), 400, CodeBadRequest},
		{"wrong content type", "POST", "/api/binding/generate-keys", "text/plain", gk(""), 415, CodeUnsupportedMedia},
		{"no content type", "POST", "/api/pairing/issue", "", `{}`, 415, CodeUnsupportedMedia},
		{"oversize body", "POST", "/api/binding/" + b + "/revoke", "application/json", big, 413, CodeTooLarge},
		{"unknown role", "POST", "/api/binding/generate-keys", "application/json", strings.Replace(gk(""), `"module"`, `"charger"`, 1), 400, CodeUnknownRole},
		{"device not on the bus", "POST", "/api/binding/generate-keys", "application/json", gk(""), 502, CodeDeviceFailed},
		{"bad access data", "POST", "/api/binding/generate-keys", "application/json", strings.Replace(gk(""), `"can"`, `"carrier-pigeon"`, 1), 400, CodeBadRequest},
		{"binding exists", "POST", "/api/binding/generate-keys", "application/json",
			strings.NewReplacer("BM-00009", "BM-00001", "0x09", "0x01", `"c"`, `"web4-test"`).Replace(gk("")), 409, CodeBindingExists},
		{"unknown binding", "GET", "/api/binding/00000000-0000-4000-8000-000000000000", "", "", 404, CodeUnknownBinding},
		{"bad binding ID", "GET", "/api/binding/xyz", "", "", 400, CodeBadRequest},
		{"partner key without entity", "GET", "/api/binding/" + b + "/partner-key", "", "", 400, CodeBadRequest},
		{"partner key for a stranger", "GET", "/api/binding/" + b + "/partner-key?entity=APP-HOST-67890", "", "", 403, CodeNotAParty},
		{"unknown entities", "POST", "/api/pairing/issue", "application/json", `{"context":"diagnostics","entities":["PC-12345","BM-00077"]}`, 404, CodeUnknownEntity},
		{"unknown context", "POST", "/api/pairing/issue", "application/json", `{"context":"party","entities":["PC-12345","BM-00001"]}`, 400, CodeBadRequest},
		{"bad policy", "POST", "/api/pairing/issue", "application/json", `{"context":"diagnostics","entities":["PC-12345","BM-00001"],"policy":{"command":"rot13"}}`, 400, CodeBadRequest},
		{"validity too long", "POST", "/api/pairing/issue", "application/json", `{"context":"diagnostics","entities":["PC-12345","BM-00001"],"validity_seconds":99999999999}`, 400, CodeBadRequest},
		{"unknown pairing", "GET", "/api/pairing/00000000-0000-4000-8000-000000000000", "", "", 404, CodeUnknownPairing},
		{"completion not base64", "POST", "/api/pairing/" + r.PairingID + "/complete", "application/json", `{"completion":"***"}`, 400, CodeBadRequest},
		{"modify an issued pairing", "POST", "/api/pairing/" + r.PairingID + "/modify", "application/json", `{"expires_at":"2026-03-20T00:00:00Z"}`, 409, CodeConflict},
		{"modify with nothing", "POST", "/api/pairing/" + r.PairingID + "/modify", "application/json", `{}`, 400, CodeBadRequest},
		{"unknown reason", "POST", "/api/pairing/" + r.PairingID + "/revoke", "application/json", `{"reason":"boredom"}`, 400, CodeBadRequest},
		{"key loss without entity", "POST", "/api/binding/" + b + "/revoke", "application/json", `{"reason":"key_loss"}`, 400, CodeBadRequest},
		{"unknown endpoint", "GET", "/api/nothing", "", "", 404, CodeNotFound},
		{"wrong method", "POST", "/api/authority", "application/json", "{}", 405, CodeMethod},
		{"wrong method on complete", "DELETE", "/api/pairing/" + r.PairingID + "/complete", "", "", 405, CodeMethod},
		{"ledger index", "GET", "/api/ledger/-1", "", "", 400, CodeBadRequest},
		{"ledger beyond the end", "GET", "/api/ledger/999999", "", "", 404, CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, w.srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := w.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var eb errorBody
			if err := json.Unmarshal(body, &eb); err != nil {
				t.Fatalf("not a JSON error: %s", body)
			}
			if resp.StatusCode != tc.status || eb.Error.Code != tc.code || eb.Error.Message == "" {
				t.Fatalf("got %d %s %q, want %d %s", resp.StatusCode, eb.Error.Code, eb.Error.Message, tc.status, tc.code)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("content type %q", ct)
			}
			// Still serving.
			if _, _, err := w.c.Authority(w.ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
	st, err := w.c.Stats(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Errors[string(CodeBadRequest)] < 10 || st.Errors[string(CodeMethod)] != 2 || st.Errors[string(CodeTooLarge)] != 1 {
		t.Fatalf("error counts %v", st.Errors)
	}
	// The pairing survived the abuse.
	pS, mS := w.pairUp(b, certOf(t, r), w.pack, w.mods[0])
	if _, err := w.c.Complete(w.ctx, r.PairingID, w.completion(pS, mS, w.clk.Now())); err != nil {
		t.Fatal(err)
	}
}

// TestBindingMismatch: the second generate-keys call must mirror the first.
func TestBindingMismatch(t *testing.T) {
	w := newWorld(t, 2)
	defer w.close()
	r1, err := w.c.GenerateKeys(w.ctx, GenerateKeysRequest{AccessData: w.pack.access, Role: "pack", PartnerAccessData: w.mods[0].access})
	if err != nil {
		t.Fatal(err)
	}
	// Another module tries to finish the pack's binding with module 1.
	_, err = w.c.GenerateKeys(w.ctx, GenerateKeysRequest{AccessData: w.mods[1].access, Role: "module", PartnerAccessData: w.pack.access, BindingID: r1.BindingID})
	if !errors.Is(err, ErrBindingMismatch) {
		t.Fatalf("got %v", err)
	}
	if _, err := w.c.PartnerKey(w.ctx, r1.BindingID, w.pack.id()); !errors.Is(err, ErrBindingIncomplete) {
		t.Fatalf("partner key of a pending binding: %v", err)
	}
	if _, err := w.c.IssuePairing(w.ctx, IssuePairingRequest{Context: "diagnostics", Entities: [2]string{w.pack.id(), w.mods[0].id()}}); !errors.Is(err, ErrBindingIncomplete) {
		t.Fatalf("issue on a pending binding: %v", err)
	}
	r2, err := w.c.GenerateKeys(w.ctx, GenerateKeysRequest{AccessData: w.mods[0].access, Role: "module", PartnerAccessData: w.pack.access, BindingID: r1.BindingID})
	if err != nil || r2.BindingID != r1.BindingID {
		t.Fatalf("second side: %v", err)
	}
	// The answer's key is the device's own public key.
	raw := b64(t, r2.SemiPublicKey)
	if k := w.mods[0].keys[r1.BindingID].Public(); string(k.Bytes()) != string(raw) {
		t.Fatal("semi-public key is not the module's")
	}
	if _, err := w.c.GenerateKeys(w.ctx, GenerateKeysRequest{AccessData: w.mods[0].access, Role: "module", PartnerAccessData: w.pack.access, BindingID: r1.BindingID}); !errors.Is(err, ErrConflict) {
		t.Fatalf("third call: %v", err)
	}
}

// TestHTTPKeyGenerator: the authority asks a device's own HTTP API (the app's) for its key with
// the upstream request shape, and refuses an answer for another binding ID.
func TestHTTPKeyGenerator(t *testing.T) {
	var dev *suite.PrivateKey
	answerID := ""
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		req, err := message.DecodeGenerateKeysRequestJSON(b)
		if err != nil || r.URL.Path != "/api/binding/generate-keys" || req.PartnerAccessData.DeviceID != "PC-12345" {
			http.Error(rw, fmt.Sprintf("bad request %s: %v", r.URL.Path, err), 400)
			return
		}
		dev, _ = suite.GenerateKey(newReader("app"))
		id, _ := message.ParseUUID(r.Header.Get(BindingIDHeader))
		if answerID != "" {
			id, _ = message.ParseUUID(answerID)
		}
		out, _ := (&message.GenerateKeysResponse{V: message.Version1, SemiPublicKey: dev.Public().Bytes(), BindingID: id, Alg: message.AlgES256}).EncodeJSON()
		rw.Header().Set("Content-Type", "application/json")
		rw.Write(out)
	}))
	defer srv.Close()
	g := HTTPKeyGenerator{Client: srv.Client()}
	req := KeyRequest{Subject: message.AccessData{Type: "http", ChainID: "c", DeviceID: "APP-1", Endpoint: srv.URL + "/api"},
		Partner: message.AccessData{Type: "can", ChainID: "c", DeviceID: "PC-12345", Endpoint: "0x40"}, BindingID: mustID("11111111-2222-4333-8444-555555555555")}
	pub, err := g.GenerateKeys(context.Background(), req)
	if err != nil || !pub.Equal(dev.Public()) {
		t.Fatalf("key: %v", err)
	}
	answerID = "99999999-2222-4333-8444-555555555555"
	if _, err := g.GenerateKeys(context.Background(), req); err == nil || !strings.Contains(err.Error(), "binding ID") {
		t.Fatalf("foreign binding ID accepted: %v", err)
	}
}
