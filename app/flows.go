package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/modbatt/hilrun/authority"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

func pairKey(a, b string) string { return a + "|" + b }

// BindingID returns the binding the app set up between two entities.
func (a *App) BindingID(x, y string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id, ok := a.bindings[pairKey(x, y)]
	return id, ok
}

// PairingID returns the live pairing the app set up with the pack (entity = the pack's ID) or
// between the pack and a module (entity = the module's ID).
func (a *App) PairingID(entity string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id, ok := a.pairings[entity]
	return id, ok
}

// Certificate returns the last pairing certificate the app delivered for a pairing with the
// pack (entity = the pack's ID) or of the pack with a module (entity = the module's ID).
func (a *App) Certificate(entity string) ([]byte, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.certs[entity]
	return c, ok
}

// DeliverPairing hands a pairing certificate to the pack (and, for a module's pairing, to the
// module) again: suites use it to show that a revoked pairing is refused.
func (a *App) DeliverPairing(ctx context.Context, entity string, cert []byte) error {
	if err := a.eng.Deliver(ctx, a.hop(a.cfg.Pack.Addr), canid.TypePairingCert, cert); err != nil {
		return err
	}
	if m, err := a.module(entity); err == nil {
		return a.eng.Deliver(ctx, a.hop(m.Addr), canid.TypePairingCert, cert)
	}
	return nil
}

func (a *App) module(entity string) (Device, error) {
	for _, m := range a.cfg.Modules {
		if m.EntityID == entity {
			return m, nil
		}
	}
	return Device{}, fmt.Errorf("app: no module %q", entity)
}

// ModuleAt returns the module with a node address.
func (a *App) ModuleAt(addr uint8) (Device, bool) {
	for _, m := range a.cfg.Modules {
		if m.Addr == addr {
			return m, true
		}
	}
	return Device{}, false
}

// BindPack binds the app and the pack through the authority: the authority asks the app (over
// HTTP) and the pack (over CAN, through the app's relay) for their keys; the app then installs
// the pack's binding record and delivers the pack its own, and waits until the pack says it
// is bound.
func (a *App) BindPack(ctx context.Context) (string, error) {
	pack := a.DeviceAccess(a.cfg.Pack)
	bid, err := a.cfg.Authority.Bind(ctx, a.Access(), "app", pack, "pack")
	if err != nil {
		return "", fmt.Errorf("app: bind pack: %w", err)
	}
	own, err := a.record(ctx, bid, a.cfg.EntityID)
	if err != nil {
		return "", err
	}
	if err := a.eng.InstallBinding(ctx, own); err != nil {
		return "", fmt.Errorf("app: install the pack's binding record: %w", err)
	}
	if err := a.deliverRecord(ctx, bid, a.cfg.Pack); err != nil {
		return "", err
	}
	a.mu.Lock()
	a.bindings[pairKey(a.cfg.EntityID, a.cfg.Pack.EntityID)] = bid
	a.mu.Unlock()
	return bid, nil
}

// BindModule binds the pack and a module: both keys are made on the devices (through the
// relay), the pack gets the module's record and the module the pack's, over the bus.
func (a *App) BindModule(ctx context.Context, entity string) (string, error) {
	m, err := a.module(entity)
	if err != nil {
		return "", err
	}
	bid, err := a.cfg.Authority.Bind(ctx, a.DeviceAccess(a.cfg.Pack), "pack", a.DeviceAccess(m), "module")
	if err != nil {
		return "", fmt.Errorf("app: bind %s: %w", entity, err)
	}
	rec, err := a.record(ctx, bid, a.cfg.Pack.EntityID)
	if err != nil {
		return "", err
	}
	if err := a.eng.Deliver(ctx, a.hop(a.cfg.Pack.Addr), canid.TypeBindingXfer, rec); err != nil {
		return "", fmt.Errorf("app: deliver %s's record to the pack: %w", entity, err)
	}
	if err := a.deliverRecord(ctx, bid, m); err != nil {
		return "", err
	}
	a.mu.Lock()
	a.bindings[pairKey(a.cfg.Pack.EntityID, entity)] = bid
	a.mu.Unlock()
	return bid, nil
}

// record fetches the binding record the authority signed for audience.
func (a *App) record(ctx context.Context, bid, audience string) ([]byte, error) {
	r, err := a.cfg.Authority.PartnerKey(ctx, bid, audience)
	if err != nil {
		return nil, fmt.Errorf("app: binding record for %s: %w", audience, err)
	}
	b, err := base64.StdEncoding.DecodeString(r.BindingCertificate)
	if err != nil {
		return nil, fmt.Errorf("app: binding record for %s: %w", audience, err)
	}
	return b, nil
}

// deliverRecord sends a device its partner's binding record and waits for its bound announce.
func (a *App) deliverRecord(ctx context.Context, bid string, d Device) error {
	rec, err := a.record(ctx, bid, d.EntityID)
	if err != nil {
		return err
	}
	x := a.expect(func(ev session.Event) bool {
		an, ok := ev.(session.EventAnnounce)
		return ok && an.Peer == d.Addr && an.Announce.EntityID == d.EntityID && an.Announce.State >= message.StateBound
	})
	if err := a.eng.Deliver(ctx, a.hop(d.Addr), canid.TypeBindingXfer, rec); err != nil {
		return fmt.Errorf("app: deliver binding record to %s: %w", d.EntityID, err)
	}
	if _, err := x.wait(ctx, d.EntityID+" bound"); err != nil {
		return err
	}
	return nil
}

// PairPack pairs the app and the pack in a context: the app opens its certificate, delivers
// the pack's, both swap halves, and the app sends the completion with both signatures to the
// authority.
func (a *App) PairPack(ctx context.Context, context string) (string, error) {
	return a.pair(ctx, context, [2]string{a.cfg.EntityID, a.cfg.Pack.EntityID}, a.cfg.Pack.EntityID, false)
}

// PairModule pairs the pack and a module in a context: both certificates go over CAN (the
// module's through the pack), and the completion comes back from the pack.
func (a *App) PairModule(ctx context.Context, context, entity string) (string, error) {
	if _, err := a.module(entity); err != nil {
		return "", err
	}
	return a.pair(ctx, context, [2]string{a.cfg.Pack.EntityID, entity}, entity, true)
}

func (a *App) pair(ctx context.Context, pctx string, ents [2]string, key string, relayed bool) (string, error) {
	r, err := a.cfg.Authority.IssuePairing(ctx, authority.IssuePairingRequest{Context: pctx, Entities: ents,
		ValiditySeconds: int64(a.cfg.PairingValidity / time.Second)})
	if err != nil {
		return "", fmt.Errorf("app: issue pairing %s×%s: %w", ents[0], ents[1], err)
	}
	cert, err := r.CertificateBytes()
	if err != nil {
		return "", err
	}
	pid, _ := message.ParseUUID(r.PairingID)
	x := a.expect(func(ev session.Event) bool {
		c, ok := ev.(session.EventCompletion)
		return ok && bytes.Equal(c.PairingID, pid)
	})
	if !relayed {
		if err := a.eng.InstallPairing(ctx, cert); err != nil {
			return "", fmt.Errorf("app: open own pairing certificate: %w", err)
		}
	}
	// deliver hands the certificate to the entities on the bus; again, it also hands the app's
	// own copy to its engine, which then sends its key half again.
	deliver := func(again bool) error {
		if !relayed {
			if again {
				if err := a.eng.InstallPairing(ctx, cert); err != nil {
					return fmt.Errorf("app: own pairing certificate again: %w", err)
				}
			}
			if err := a.eng.Deliver(ctx, a.hop(a.cfg.Pack.Addr), canid.TypePairingCert, cert); err != nil {
				return fmt.Errorf("app: deliver pairing certificate to the pack: %w", err)
			}
			return nil
		}
		m, _ := a.module(ents[1])
		err1 := a.eng.Deliver(ctx, a.hop(a.cfg.Pack.Addr), canid.TypePairingCert, cert)
		if err1 != nil {
			err1 = fmt.Errorf("app: deliver pairing certificate to the pack: %w", err1)
		}
		err2 := a.eng.Deliver(ctx, a.hop(m.Addr), canid.TypePairingCert, cert)
		if err2 != nil {
			err2 = fmt.Errorf("app: deliver pairing certificate to %s: %w", m.EntityID, err2)
		}
		return errors.Join(err1, err2)
	}
	if err := deliver(false); err != nil {
		// A delivery lost on the bus (an ISO-TP timeout) is retried below, unless retries are off.
		if ctx.Err() != nil || a.cfg.HandshakeRetry < 0 {
			return "", err
		}
		a.log.Warn("app: pairing certificate not delivered, retrying", "pairing", r.PairingID, "err", err)
	}
	ev, err := x.waitRetrying(ctx, "completion of "+r.PairingID, func() {
		a.mu.Lock()
		a.retries++
		a.mu.Unlock()
		a.log.Info("app: no completion yet, pairing certificate delivered again", "pairing", r.PairingID)
		if err := deliver(true); err != nil && ctx.Err() == nil {
			a.log.Warn("app: pairing certificate again", "pairing", r.PairingID, "err", err)
		}
	})
	if err != nil {
		return r.PairingID, err
	}
	comp := ev.(session.EventCompletion).Completion
	l6, err := a.cfg.Authority.Complete(ctx, r.PairingID, comp)
	if err != nil {
		return r.PairingID, fmt.Errorf("app: complete %s: %w", r.PairingID, err)
	}
	// The pairing counts as validated only on the authority's signed L6 confirmation (R9).
	signed, err := base64.StdEncoding.DecodeString(l6.PairingValidation)
	if err == nil {
		err = checkCompletionConfirmed(a.auth, signed, pid, comp, a.cfg.Clock.Now())
	}
	if err != nil {
		return r.PairingID, fmt.Errorf("app: L6 confirmation of %s: %w", r.PairingID, err)
	}
	a.mu.Lock()
	a.pairings[key] = r.PairingID
	a.certs[key] = cert
	a.mu.Unlock()
	from, err1 := time.Parse(time.RFC3339, r.CreatedAt)
	to, err2 := time.Parse(time.RFC3339, r.ExpiresAt)
	if err1 != nil || err2 != nil {
		a.log.Warn("app: pairing without a readable validity, not renewed", "pairing", r.PairingID,
			"created_at", r.CreatedAt, "expires_at", r.ExpiresAt)
	} else {
		a.track(&renewal{key: key, pctx: pctx, ents: ents, relayed: relayed, validFrom: from, expiresAt: to})
	}
	return r.PairingID, nil
}

// Command sends an L5 command to the pack (target = the pack's address or 0 for every module)
// or to a module behind it (target = its address): the pack executes it or forwards it under
// its own pairing with the module and answers with the module's status.
func (a *App) Command(ctx context.Context, target uint8, cmd *message.Command) (*message.Ack, error) {
	c := *cmd
	c.Target = target
	return a.eng.Command(ctx, a.cfg.Pack.Addr, &c)
}

// Recover runs key-loss recovery for a module (R1): the authority revokes every binding of
// the module (and thereby every pairing of it), the app hands the pack the signed L7
// revocation, re-binds the module with new keys and re-pairs it in the given context.
func (a *App) Recover(ctx context.Context, entity, pctx string) error {
	bid, ok := a.BindingID(a.cfg.Pack.EntityID, entity)
	if !ok {
		return fmt.Errorf("app: no binding of %s to recover", entity)
	}
	rev, err := a.cfg.Authority.RevokeBinding(ctx, bid, authority.RevokeBindingRequest{Reason: "key_loss", Entity: entity})
	if err != nil {
		return fmt.Errorf("app: revoke %s: %w", entity, err)
	}
	l7, err := base64.StdEncoding.DecodeString(rev.BindingValidation)
	if err != nil {
		return err
	}
	if err := a.eng.Deliver(ctx, a.hop(a.cfg.Pack.Addr), canid.TypeBindingValid, l7); err != nil {
		return fmt.Errorf("app: deliver the L7 revocation to the pack: %w", err)
	}
	a.mu.Lock()
	delete(a.pairings, entity)
	delete(a.renewals, entity)
	delete(a.bindings, pairKey(a.cfg.Pack.EntityID, entity))
	a.mu.Unlock()
	if _, err := a.BindModule(ctx, entity); err != nil {
		return err
	}
	_, err = a.PairModule(ctx, pctx, entity)
	return err
}

// ErrNoModule is returned for an address the app has no module at.
var ErrNoModule = errors.New("app: no module at this address")

// Bind binds the pack to the app and every configured module to the pack.
func (a *App) Bind(ctx context.Context) error {
	if _, err := a.BindPack(ctx); err != nil {
		return err
	}
	for _, m := range a.cfg.Modules {
		if _, err := a.BindModule(ctx, m.EntityID); err != nil {
			return err
		}
	}
	return nil
}

// Pair pairs the app with the pack and the pack with every configured module in a context
// (battery_management, diagnostics, firmware_update, emergency).
func (a *App) Pair(ctx context.Context, context string) error {
	if _, err := a.PairPack(ctx, context); err != nil {
		return err
	}
	for _, m := range a.cfg.Modules {
		if _, err := a.PairModule(ctx, context, m.EntityID); err != nil {
			return err
		}
	}
	return nil
}
