package app

import (
	"context"
	"crypto/rand"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/modbatt/hilrun/authority"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/session"
)

func TestRenewAt(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		validity, want time.Duration // want: after t0
	}{
		{10 * time.Minute, 5 * time.Minute},        // 5 minutes before expiry comes first
		{30 * 24 * time.Hour, 27 * 24 * time.Hour}, // 10 % left comes first
		{50 * time.Minute, 45 * time.Minute},       // both at once
		{2 * time.Minute, -3 * time.Minute},        // shorter than the margin: due at once
	} {
		if got := renewAt(t0, t0.Add(c.validity)).Sub(t0); got != c.want {
			t.Errorf("validity %v: renew at +%v, want +%v", c.validity, got, c.want)
		}
	}
}

// TestRenewalRetry: a renewal that fails (here: the authority knows no binding) is retried
// after 1 s, 2 s, 4 s … capped at 1 min, each failure an event, until the pairing expires.
func TestRenewalRetry(t *testing.T) {
	sim := clock.NewSim(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	b, err := emu.New(emu.Config{Pacing: emu.AsFastAsPossible, Clock: sim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	auth, err := authority.Open(authority.Options{Dir: t.TempDir(), NoSync: true, Clock: sim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Close() })
	srv := httptest.NewServer(auth.Handler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := New(ctx, Config{Endpoint: b.Join("app"), Clock: sim, Rand: rand.Reader, Store: session.NewMemStore(),
		Authority: &authority.Client{BaseURL: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	sub := a.Subscribe(64)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); a.Run(rctx) }()
	defer func() { stop(); <-done }()

	from := sim.Now()
	to := from.Add(10 * time.Minute)
	a.track(&renewal{key: "pack-0", pctx: "battery_management", ents: [2]string{a.cfg.EntityID, "pack-0"}, validFrom: from, expiresAt: to})
	next := func() EventRenewal {
		t.Helper()
		for {
			select {
			case <-ctx.Done():
				t.Fatal("no renewal event")
			case ev := <-sub:
				if r, ok := ev.(EventRenewal); ok {
					return r
				}
			}
		}
	}
	// Wait until the loop armed the renewal, then step to it.
	for {
		if _, at, ok := a.NextRenewal(); ok {
			if !at.Equal(from.Add(5 * time.Minute)) {
				t.Fatalf("armed at %v", at)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("nothing armed")
		case <-time.After(time.Millisecond):
		}
	}
	sim.Advance(5 * time.Minute)
	wantDelay := time.Second
	n := 0
	for {
		r := next()
		n++
		if r.Err == nil || r.Entity != "pack-0" || r.NewPairingID != "" {
			t.Fatalf("failure %d: %+v", n, r)
		}
		if r.RetryAt.IsZero() {
			break
		}
		if got := r.RetryAt.Sub(sim.Now()); got != wantDelay {
			t.Fatalf("failure %d: retry in %v, want %v", n, got, wantDelay)
		}
		wantDelay = min(2*wantDelay, time.Minute)
		// Step to the retry once the loop armed it.
		for {
			if _, at, ok := a.NextRenewal(); ok && at.Equal(r.RetryAt) {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatal("retry not armed")
			case <-time.After(time.Millisecond):
			}
		}
		sim.Advance(r.RetryAt.Sub(sim.Now()))
	}
	if sim.Now().After(to) || to.Sub(sim.Now()) > time.Minute {
		t.Fatalf("gave up at %v, expiry %v", sim.Now(), to)
	}
	if _, _, ok := a.NextRenewal(); ok {
		t.Fatal("a renewal is still armed after giving up")
	}
	t.Logf("%d attempts before expiry", n)
}
