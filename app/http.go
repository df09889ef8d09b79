package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/modbatt/hilrun/authority"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
	"github.com/modbatt/hilrun/protocol/suite"
)

// maxBody bounds a generate-keys request body.
const maxBody = 16 << 10

// Handler serves the app's API: POST /api/binding/generate-keys. Without relay headers it makes
// the app's own key for the partner; with Web4-Device-ID and Web4-Device-Endpoint naming a CAN
// device it asks that device over CAN (a generate-keys binding transfer) and answers as the
// device would. The binding ID travels in the Web4-Binding-ID header and is echoed.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/binding/generate-keys", a.serveGenerateKeys)
	return mux
}

type httpError struct {
	Error string `json:"error"`
}

func writeErr(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(httpError{Error: fmt.Sprintf(format, args...)})
}

func (a *App) serveGenerateKeys(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeErr(w, http.StatusUnsupportedMediaType, "content type %q, want application/json", ct)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "read body: %v", err)
		return
	}
	if len(body) > maxBody {
		writeErr(w, http.StatusRequestEntityTooLarge, "body over %d bytes", maxBody)
		return
	}
	req, err := message.DecodeGenerateKeysRequestJSON(body)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "%v", err)
		return
	}
	bid, err := message.ParseUUID(r.Header.Get(authority.BindingIDHeader))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "%s header: %v", authority.BindingIDHeader, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*a.cfg.Timeout)
	defer cancel()
	var pub *suite.PublicKey
	dev := r.Header.Get(authority.DeviceIDHeader)
	if dev == "" || dev == a.cfg.EntityID {
		pub, err = a.eng.GenerateKey(ctx, req.PartnerAccessData)
	} else {
		pub, err = a.relayKeys(ctx, dev, r.Header.Get(authority.DeviceEndpointHeader), req.PartnerAccessData)
	}
	switch {
	case errors.Is(err, session.ErrUnknownPeer):
		writeErr(w, http.StatusBadRequest, "partner: %v", err)
		return
	case err != nil:
		writeErr(w, http.StatusBadGateway, "%v", err)
		return
	}
	out, err := (&message.GenerateKeysResponse{V: message.Version1, SemiPublicKey: pub.Bytes(), BindingID: bid,
		KID: pub.KID(), Alg: message.AlgES256}).EncodeJSON()
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "%v", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// relayKeys asks a CAN device for its key over the bus.
func (a *App) relayKeys(ctx context.Context, device, endpoint string, partner message.AccessData) (*suite.PublicKey, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(endpoint), "0x"), 16, 8)
	if err != nil {
		return nil, fmt.Errorf("%w: device %s endpoint %q is not a CAN address", session.ErrUnknownPeer, device, endpoint)
	}
	ans, err := a.eng.RequestKeys(ctx, a.hop(uint8(v)), partner)
	if err != nil {
		return nil, fmt.Errorf("app: relay to %s: %w", device, err)
	}
	pub, err := suite.ParsePublicKey(ans.SemiPublicKey)
	if err != nil {
		return nil, fmt.Errorf("app: key from %s: %w", device, err)
	}
	if pub.KID() != ans.KID {
		return nil, fmt.Errorf("app: key from %s: kid %04x, key has %04x", device, ans.KID, pub.KID())
	}
	return pub, nil
}

// hop is how the app reaches a device: directly for the pack, through the pack for a module.
func (a *App) hop(addr uint8) session.Hop {
	return session.Hop{Dst: addr, Via: a.cfg.Pack.Addr}
}
