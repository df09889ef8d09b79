package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modbatt/hilrun/authority"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
	"github.com/modbatt/hilrun/protocol/suite"
)

const bindingID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0"

type rig struct {
	app  *App
	bus  *emu.Bus
	auth *authority.Authority
	h    http.Handler
}

func newRig(t testing.TB) *rig {
	t.Helper()
	b, err := emu.New(emu.Config{Pacing: emu.AsFastAsPossible})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	auth, err := authority.Open(authority.Options{Dir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Close() })
	srv := httptest.NewServer(auth.Handler())
	t.Cleanup(srv.Close)
	ctx := context.Background()
	a, err := New(ctx, Config{Endpoint: b.Join("app"), Clock: clock.Real{}, Rand: rand.Reader, Store: session.NewMemStore(),
		Authority: &authority.Client{BaseURL: srv.URL}, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); a.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &rig{app: a, bus: b, auth: auth, h: a.Handler()}
}

func (r *rig) post(body string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/binding/generate-keys", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	return w
}

const packBody = `{"partner_access_data":{"type":"can","chain_id":"web4-local","device_id":"pack-0","endpoint":"0x40"}}`

func decodeAnswer(t *testing.T, w *httptest.ResponseRecorder) *suite.PublicKey {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var out struct {
		SemiPublicKey string `json:"semi_public_key"`
		BindingID     string `json:"binding_id"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(out.SemiPublicKey)
	pub, err := suite.ParsePublicKey(raw)
	if err != nil || out.BindingID != bindingID {
		t.Fatalf("answer %+v: %v", out, err)
	}
	return pub
}

func TestGenerateKeysOwn(t *testing.T) {
	r := newRig(t)
	pub := decodeAnswer(t, r.post(packBody, map[string]string{authority.BindingIDHeader: bindingID}))
	l, ok, err := r.app.Engine().Link(context.Background(), canid.AddrPack)
	if err != nil || !ok || l.OwnKID != pub.KID() {
		t.Fatalf("link %+v %v %v, key %04x", l, ok, err, pub.KID())
	}
}

// TestGenerateKeysRelay: with the relay headers the app asks the device over CAN.
func TestGenerateKeysRelay(t *testing.T) {
	r := newRig(t)
	pack, err := session.New(session.Config{Identity: session.Identity{EntityID: "pack-0", Role: message.RolePack, Addr: canid.AddrPack,
		Access: message.AccessData{Type: "can", ChainID: "web4-local", DeviceID: "pack-0", Endpoint: "0x40"}},
		Endpoint: r.bus.Join("pack"), Clock: clock.Real{}, Rand: rand.Reader, Store: session.NewMemStore(), Authority: r.auth.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go pack.Run(ctx)
	body := `{"partner_access_data":{"type":"http","chain_id":"web4-local","device_id":"hilrun-app","endpoint":"http://localhost:8080/api"}}`
	pub := decodeAnswer(t, r.post(body, map[string]string{authority.BindingIDHeader: bindingID,
		authority.DeviceIDHeader: "pack-0", authority.DeviceEndpointHeader: "0x40"}))
	l, ok, _ := pack.Link(ctx, canid.AddrApp)
	if !ok || l.OwnKID != pub.KID() {
		t.Fatalf("pack link %+v, relayed key %04x", l, pub.KID())
	}
}

func TestGenerateKeysBadInput(t *testing.T) {
	r := newRig(t)
	h := map[string]string{authority.BindingIDHeader: bindingID}
	cases := []struct {
		name string
		body string
		hdr  map[string]string
		want int
	}{
		{"no binding ID", packBody, nil, http.StatusBadRequest},
		{"bad binding ID", packBody, map[string]string{authority.BindingIDHeader: "nope"}, http.StatusBadRequest},
		{"not JSON", "{", h, http.StatusBadRequest},
		{"unknown member", `{"partner_access_data":{"type":"can","chain_id":"c","device_id":"d","endpoint":"0x40"},"x":1}`, h, http.StatusBadRequest},
		{"empty access", `{"partner_access_data":{}}`, h, http.StatusBadRequest},
		{"bad relay endpoint", packBody, map[string]string{authority.BindingIDHeader: bindingID, authority.DeviceIDHeader: "m", authority.DeviceEndpointHeader: "zz"}, http.StatusBadRequest},
		{"partner not on CAN", `{"partner_access_data":{"type":"can","chain_id":"c","device_id":"d","endpoint":"nowhere"}}`, h, http.StatusBadRequest},
		{"absent device", packBody, map[string]string{authority.BindingIDHeader: bindingID, authority.DeviceIDHeader: "m", authority.DeviceEndpointHeader: "0x07"}, http.StatusBadGateway},
		{"too large", `{"partner_access_data":"` + strings.Repeat("a", maxBody) + `"}`, h, http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		if w := r.post(c.body, c.hdr); w.Code != c.want {
			t.Errorf("%s: status %d, want %d (%s)", c.name, w.Code, c.want, w.Body)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/api/binding/generate-keys", bytes.NewReader([]byte(packBody)))
	req.Header.Set("Content-Type", "text/plain")
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	if w.Code != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d", w.Code)
	}
}

func FuzzGenerateKeysHandler(f *testing.F) {
	f.Add([]byte(packBody), bindingID)
	f.Add([]byte(`{"partner_access_data":{"type":"http","chain_id":"c","device_id":"d","endpoint":"u"}}`), bindingID)
	f.Add([]byte(`{}`), "")
	f.Add([]byte(`[1,2]`), "00000000-0000-0000-0000-000000000000")
	r := newRig(f)
	f.Fuzz(func(t *testing.T, body []byte, bid string) {
		req := httptest.NewRequest(http.MethodPost, "/api/binding/generate-keys", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(authority.BindingIDHeader, bid)
		w := httptest.NewRecorder()
		r.h.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	})
}
