package authority

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// stats counts requests and errors by code.
type stats struct {
	mu       sync.Mutex
	requests uint64
	errors   map[Code]uint64
}

func (s *stats) request() {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
}

func (s *stats) fail(c Code) {
	s.mu.Lock()
	s.errors[c]++
	s.mu.Unlock()
}

// Stats returns the request and error counts.
func (a *Authority) Stats() Stats {
	a.stat.mu.Lock()
	defer a.stat.mu.Unlock()
	out := Stats{Requests: a.stat.requests, Errors: map[string]uint64{}}
	for c, n := range a.stat.errors {
		out.Errors[string(c)] = n
	}
	return out
}

// Handler returns the HTTP API (docs/authority.md).
func (a *Authority) Handler() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, f func(r *http.Request) (any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			v, err := f(r)
			if err != nil {
				a.writeError(w, r, asError(err))
				return
			}
			writeJSON(w, http.StatusOK, v)
		})
	}
	handle("POST /api/binding/generate-keys", func(r *http.Request) (any, error) {
		var req GenerateKeysRequest
		if err := a.readJSON(r, &req); err != nil {
			return nil, err
		}
		return a.GenerateKeys(r.Context(), req)
	})
	handle("GET /api/binding/{id}", func(r *http.Request) (any, error) { return a.Binding(r.PathValue("id")) })
	handle("GET /api/binding/{id}/partner-key", func(r *http.Request) (any, error) {
		return a.PartnerKey(r.PathValue("id"), r.URL.Query().Get("entity"), r.Header.Get(ProofHeader))
	})
	handle("POST /api/binding/{id}/verify", func(r *http.Request) (any, error) { return a.VerifyBinding(r.PathValue("id")) })
	handle("POST /api/binding/{id}/revoke", func(r *http.Request) (any, error) {
		var req RevokeBindingRequest
		if err := a.readJSON(r, &req); err != nil {
			return nil, err
		}
		return a.RevokeBinding(r.PathValue("id"), req)
	})
	handle("POST /api/pairing/issue", func(r *http.Request) (any, error) {
		var req IssuePairingRequest
		if err := a.readJSON(r, &req); err != nil {
			return nil, err
		}
		return a.IssuePairing(req)
	})
	handle("GET /api/pairing/{id}", func(r *http.Request) (any, error) { return a.Pairing(r.PathValue("id")) })
	handle("POST /api/pairing/{id}/complete", func(r *http.Request) (any, error) {
		var req CompleteRequest
		if err := a.readJSON(r, &req); err != nil {
			return nil, err
		}
		return a.Complete(r.PathValue("id"), req)
	})
	handle("POST /api/pairing/{id}/revoke", func(r *http.Request) (any, error) {
		var req RevokePairingRequest
		if err := a.readJSON(r, &req); err != nil {
			return nil, err
		}
		return a.RevokePairing(r.PathValue("id"), req)
	})
	handle("POST /api/pairing/{id}/modify", func(r *http.Request) (any, error) {
		var req ModifyPairingRequest
		if err := a.readJSON(r, &req); err != nil {
			return nil, err
		}
		return a.ModifyPairing(r.PathValue("id"), req)
	})
	handle("POST /api/validate", func(r *http.Request) (any, error) {
		var req ValidateRequest
		if err := a.readJSON(r, &req); err != nil {
			return nil, err
		}
		return a.Validate(req)
	})
	handle("GET /api/authority", func(r *http.Request) (any, error) {
		k := a.PublicKey()
		return &AuthorityInfo{Issuer: a.opt.Issuer, PublicKey: base64.StdEncoding.EncodeToString(k.Bytes()), KID: kidHex(k.KID())}, nil
	})
	handle("GET /api/ledger", func(r *http.Request) (any, error) {
		n, h, err := a.Ledger()
		if err != nil {
			return nil, internal("ledger does not verify", err)
		}
		return &LedgerInfo{Length: n, Head: hex.EncodeToString(h)}, nil
	})
	handle("GET /api/ledger/{index}", func(r *http.Request) (any, error) {
		i, err := strconv.ParseUint(r.PathValue("index"), 10, 64)
		if err != nil {
			return nil, errf(CodeBadRequest, "index %q", r.PathValue("index"))
		}
		return a.LedgerEntry(i)
	})
	handle("GET /api/stats", func(r *http.Request) (any, error) { s := a.Stats(); return &s, nil })

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.stat.request()
		if _, pattern := mux.Handler(r); pattern == "" {
			a.writeError(w, r, a.unrouted(mux, r))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// unrouted tells a wrong method from an unknown path.
func (a *Authority) unrouted(mux *http.ServeMux, r *http.Request) *Error {
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if m == r.Method {
			continue
		}
		alt := r.Clone(r.Context())
		alt.Method = m
		if _, p := mux.Handler(alt); p != "" {
			return errf(CodeMethod, "%s %s: use %s", r.Method, r.URL.Path, m)
		}
	}
	return errf(CodeNotFound, "no endpoint %s %s", r.Method, r.URL.Path)
}

func (a *Authority) writeError(w http.ResponseWriter, r *http.Request, e *Error) {
	a.stat.fail(e.Code)
	lvl := a.log.Info
	if e.Code == CodeInternal {
		lvl = a.log.Error
	}
	lvl("request refused", "method", r.Method, "path", r.URL.Path, "code", string(e.Code), "message", e.Message, "cause", e.Err)
	var body errorBody
	body.Error.Code, body.Error.Message = e.Code, e.Message
	if e.Code == CodeInternal {
		body.Error.Message = "internal error; see the authority's log"
	}
	writeJSON(w, e.Code.Status(), body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"response does not encode"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// readJSON checks the content type, bounds the body and decodes it strictly.
func (a *Authority) readJSON(r *http.Request, v any) error {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, a.opt.MaxBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return errf(CodeTooLarge, "body beyond %d bytes", mb.Limit)
		}
		return errf(CodeBadRequest, "read body: %v", err)
	}
	return DecodeJSON(b, v)
}

func checkContentType(ct string) error {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return errf(CodeUnsupportedMedia, "Content-Type %q, want application/json", ct)
	}
	return nil
}

// DecodeJSON decodes one request body strictly: one JSON object, no unknown fields, nothing
// after it. Errors are *Error with code bad_request.
func DecodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errf(CodeBadRequest, "JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errf(CodeBadRequest, "JSON: data after the object")
	}
	if len(bytes.TrimSpace(b)) == 0 || bytes.TrimSpace(b)[0] != '{' {
		return errf(CodeBadRequest, "JSON: body is not an object")
	}
	return nil
}

// SweepInterval is how often Serve marks overdue partial pairings timed out.
const SweepInterval = 5 * time.Second

// Serve serves the API on ln until ctx ends, then shuts down gracefully (in-flight requests get
// up to 5 s). It returns nil after a shutdown caused by ctx.
func (a *Authority) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	t := a.opt.Clock.NewTimer(SweepInterval)
	defer t.Stop()
	for {
		select {
		case err := <-errc:
			return fmt.Errorf("authority: serve: %w", err)
		case <-t.C():
			if n, err := a.Sweep(); err != nil {
				a.log.Error("sweep", "err", err)
			} else if n > 0 {
				a.log.Info("partial pairings timed out", "count", n)
			}
			t.Reset(SweepInterval)
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := srv.Shutdown(sctx)
			<-errc
			if err != nil {
				return fmt.Errorf("authority: shutdown: %w", err)
			}
			return nil
		}
	}
}
