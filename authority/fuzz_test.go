package authority

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/modbatt/hilrun/protocol/suite"
)

// FuzzDecodeRequests feeds every request decoder of the API (JSON bodies and the CBOR
// completion inside one) and the parsers behind them. They must never panic, and every failure
// must be an *Error with a client-side code.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range []string{
		`{"access_data":{"type":"can","chain_id":"c","device_id":"PC-1","endpoint":"0x40"},"role":"pack","partner_access_data":{"type":"http","chain_id":"c","device_id":"APP","endpoint":"http://localhost:8080/api"}}`,
		`{"binding_id":"00000000-0000-4000-8000-000000000000","context":"diagnostics","entities":["a","b"],"addrs":[64,1],"validity_seconds":60,"policy":{"command":"pairing"}}`,
		`{"completion":"pwEBAlAAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"reason":"key_loss","entity":"BM-00001"}`,
		`{"expires_at":"2026-05-01T00:00:00Z","policy":{"telemetry":"exchange"}}`,
		`{"level":6,"subject":"00000000-0000-4000-8000-000000000000","request":"AA=="}`,
		`{}`, `[]`, `null`, `{"a":1}`, `{"completion":"` + base64.StdEncoding.EncodeToString([]byte{0xa0}) + `"}`,
	} {
		for k := range 7 {
			f.Add(uint8(k), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		check := func(err error) {
			if err == nil {
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code.Status() >= 500 {
				t.Fatalf("decoder error %v is not a client *Error", err)
			}
		}
		switch kind % 7 {
		case 0:
			var r GenerateKeysRequest
			if err := DecodeJSON(body, &r); err == nil {
				_ = r.AccessData.Validate() // message's typed errors; GenerateKeys wraps them
				_, err := ParseRole(r.Role)
				check(err)
				if r.BindingID != "" {
					_, err := parseID(r.BindingID)
					check(err)
				}
			} else {
				check(err)
			}
		case 1:
			var r IssuePairingRequest
			if err := DecodeJSON(body, &r); err == nil {
				_, err := ParseContext(r.Context)
				check(err)
				if r.Policy != nil {
					_, err := ParsePolicy(r.Policy)
					check(err)
				}
			} else {
				check(err)
			}
		case 2:
			var r CompleteRequest
			if err := DecodeJSON(body, &r); err == nil {
				_, _, err := decodeCompletion(r)
				check(err)
			} else {
				check(err)
			}
			// The same bytes as the CBOR completion itself.
			_, _, err := decodeCompletion(CompleteRequest{Completion: base64.StdEncoding.EncodeToString(body)})
			check(err)
		case 3:
			var r RevokeBindingRequest
			if err := DecodeJSON(body, &r); err == nil {
				_, err := ParseReason(r.Reason)
				check(err)
			} else {
				check(err)
			}
		case 4:
			var r ModifyPairingRequest
			check(DecodeJSON(body, &r))
		case 5:
			var r RevokePairingRequest
			check(DecodeJSON(body, &r))
		case 6:
			var r ValidateRequest
			if err := DecodeJSON(body, &r); err == nil {
				_, err := parseID(r.Subject)
				check(err)
			} else {
				check(err)
			}
		}
	})
}

// FuzzUnmarshalEntry: stored ledger entries are bytes from a file. A decoded entry re-encodes
// to the same bytes.
func FuzzUnmarshalEntry(f *testing.F) {
	e := &Entry{Index: 3, Time: 1700000000000, Prev: make([]byte, 32), Kind: KindPairingIssued, Subject: make([]byte, 16), Data: map[string]string{"a": "b"}}
	e.Hash = e.ComputeHash()
	b, _ := MarshalEntry(e)
	f.Add(b)
	f.Add([]byte{0x88})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := UnmarshalEntry(b)
		if err != nil {
			if !errors.Is(err, ErrEntryMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		re, err := MarshalEntry(e)
		if err != nil || !bytes.Equal(re, b) {
			t.Fatalf("round trip differs: %x vs %x (%v)", re, b, err)
		}
	})
}

// FuzzHandler sends arbitrary bodies to every endpoint of a live authority (bound pack and
// module, one issued pairing). Whatever arrives, the answer is JSON, never a 500, and the
// ledger still verifies.
func FuzzHandler(f *testing.F) {
	w := newWorld(f, 1)
	f.Cleanup(w.close)
	b := w.bind(w.pack, w.mods[0])
	r := w.issue(b, "battery_management", w.pack, w.mods[0])
	routes := []struct{ method, path string }{
		{"POST", "/api/binding/generate-keys"},
		{"POST", "/api/pairing/issue"},
		{"POST", "/api/pairing/" + r.PairingID + "/complete"},
		{"POST", "/api/pairing/" + r.PairingID + "/modify"},
		{"POST", "/api/pairing/" + r.PairingID + "/revoke"},
		{"POST", "/api/binding/" + b + "/revoke"},
		{"GET", "/api/binding/" + b + "/partner-key?entity=PC-12345"},
		{"POST", "/api/binding/" + b + "/verify"},
		{"POST", "/api/validate"},
	}
	for i := range routes {
		f.Add(uint8(i), []byte(`{}`))
		f.Add(uint8(i), []byte(`{"completion":"oA=="}`))
		f.Add(uint8(i), []byte(`{"reason":"operator"}`))
		f.Add(uint8(i), []byte(`{"context":"diagnostics","entities":["PC-12345","BM-00001"]}`))
		f.Add(uint8(i), []byte(`{"level":7,"subject":"`+b+`","request":"AA=="}`))
	}
	h := w.a.Handler()
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := routes[int(route)%len(routes)]
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s → %d %s", rt.method, rt.path, rec.Code, rec.Body.Bytes())
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %q", rec.Body.Bytes())
		}
		if rec.Code != http.StatusOK {
			var eb errorBody
			if json.Unmarshal(rec.Body.Bytes(), &eb) != nil || eb.Error.Code == "" {
				t.Fatalf("error without a code: %s", rec.Body.Bytes())
			}
		}
		if _, _, err := w.a.Ledger(); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzRequestProof: the Web4-Proof header is network input (base64 COSE_Sign1 over CBOR).
func FuzzRequestProof(f *testing.F) {
	k, err := suite.GenerateKey(newReader("proof key"))
	if err != nil {
		f.Fatal(err)
	}
	subject := bytes.Repeat([]byte{3}, 16)
	good, err := SignRequest(k, OpPartnerKey, subject, "PC-12345", t0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("")
	f.Add("0oRDoQEmoFgA")
	f.Fuzz(func(t *testing.T, header string) {
		err := verifyRequest(header, k.Public(), OpPartnerKey, subject, "PC-12345", t0)
		if err == nil {
			return // the good proof, or an equivalent form of it (line breaks in base64, high-s signature)
		}
		var e *Error
		if !errors.As(err, &e) || e.Code.Status() >= 500 {
			t.Fatalf("untyped error %v", err)
		}
	})
}
