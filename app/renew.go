package app

import (
	"context"
	"time"

	"github.com/modbatt/hilrun/protocol/session"
)

// Renewal defaults (docs/protocol.md §8, R2): renew when less than RenewFraction of a
// pairing's validity remains or RenewMargin before expires_at, whichever comes first.
const (
	RenewFraction   = 10 // percent
	RenewMargin     = 5 * time.Minute
	renewBackoffMin = time.Second
	renewBackoffMax = time.Minute
)

// renewal is a pairing the app set up and keeps renewed.
type renewal struct {
	key       string // entity whose pairing this is (the pack's ID for app×pack)
	pctx      string
	ents      [2]string
	relayed   bool
	validFrom time.Time
	expiresAt time.Time
	retryAt   time.Time     // zero unless a renewal failed
	backoff   time.Duration // the next retry's delay
}

// due is when the renewal should run.
func (r *renewal) due() time.Time {
	if !r.retryAt.IsZero() {
		return r.retryAt
	}
	return renewAt(r.validFrom, r.expiresAt)
}

// renewAt is the renewal point of a pairing valid from..to: the earlier of "less than 10 % of
// the validity remains" and "5 minutes before expiry".
func renewAt(from, to time.Time) time.Time {
	tenth := to.Add(-to.Sub(from) * RenewFraction / 100)
	margin := to.Add(-RenewMargin)
	if margin.Before(tenth) {
		return margin
	}
	return tenth
}

// EventRenewal reports an automatic renewal of a pairing: Err nil and NewPairingID set when it
// succeeded; otherwise the attempt failed and is retried at RetryAt (zero: not retried, the
// pairing expired).
type EventRenewal struct {
	Entity       string
	Context      string
	OldPairingID string
	NewPairingID string
	Err          error
	RetryAt      time.Time
	peer         uint8
}

// PeerAddr is the pack's address: every pairing the app renews goes through it.
func (e EventRenewal) PeerAddr() uint8 { return e.peer }

// NextRenewal reports the renewal the app's renewal loop is waiting for: the entity and when.
func (a *App) NextRenewal() (entity string, at time.Time, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.armedKey, a.armedAt, a.armedKey != ""
}

// track records a pairing the app set up, for renewal.
func (a *App) track(r *renewal) {
	a.mu.Lock()
	a.renewals[r.key] = r
	a.mu.Unlock()
	select {
	case a.renewWake <- struct{}{}:
	default:
	}
}

// renewLoop renews each tracked pairing when it falls due, on the app's clock, until ctx ends.
func (a *App) renewLoop(ctx context.Context) {
	t := a.cfg.Clock.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for {
		a.mu.Lock()
		var next *renewal
		for _, r := range a.renewals {
			if next == nil || r.due().Before(next.due()) {
				next = r
			}
		}
		a.mu.Unlock()
		if next != nil {
			t.Reset(next.due().Sub(a.cfg.Clock.Now()))
			a.mu.Lock()
			a.armedKey, a.armedAt = next.key, next.due()
			a.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-a.renewWake:
			t.Stop()
		case <-t.C():
			a.mu.Lock()
			a.armedKey, a.armedAt = "", time.Time{}
			cur := a.renewals[next.key]
			a.mu.Unlock()
			if cur == next && !a.cfg.Clock.Now().Before(next.due()) {
				a.renew(ctx, next)
			}
		}
	}
}

// renew re-pairs one pairing in its context; on failure it schedules a retry with back-off
// until the pairing expires.
func (a *App) renew(ctx context.Context, r *renewal) {
	old, _ := a.PairingID(r.key)
	a.log.Info("app: renewing pairing", "entity", r.key, "context", r.pctx, "pairing", old, "expires_at", r.expiresAt)
	pid, err := a.pair(ctx, r.pctx, r.ents, r.key, r.relayed)
	if err == nil {
		a.log.Info("app: pairing renewed", "entity", r.key, "context", r.pctx, "old", old, "new", pid)
		a.publish(EventRenewal{Entity: r.key, Context: r.pctx, OldPairingID: old, NewPairingID: pid, peer: a.cfg.Pack.Addr})
		return
	}
	if ctx.Err() != nil {
		return
	}
	if r.backoff == 0 {
		r.backoff = renewBackoffMin
	}
	retry := a.cfg.Clock.Now().Add(r.backoff)
	r.backoff = min(2*r.backoff, renewBackoffMax)
	a.mu.Lock()
	if retry.Before(r.expiresAt) {
		r.retryAt = retry
	} else {
		retry = time.Time{}
		if a.renewals[r.key] == r {
			delete(a.renewals, r.key)
		}
	}
	a.mu.Unlock()
	a.log.Warn("app: pairing renewal failed", "entity", r.key, "context", r.pctx, "pairing", old, "err", err, "retry_at", retry, "expires_at", r.expiresAt)
	a.publish(EventRenewal{Entity: r.key, Context: r.pctx, OldPairingID: old, Err: err, RetryAt: retry, peer: a.cfg.Pack.Addr})
}

// publish hands an app event to every subscriber (dropped for one that does not keep up).
func (a *App) publish(ev EventRenewal) {
	a.mu.Lock()
	subs := append([]chan session.Event(nil), a.subs...)
	a.mu.Unlock()
	for _, s := range subs {
		select {
		case s <- ev:
		default:
		}
	}
}
