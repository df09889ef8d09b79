package e2e

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/modbatt/hilrun/app"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

// TestAutoRenewal (R2): pairings issued for 10 minutes are renewed by the app on its own, on
// its (simulated) clock, once 5 minutes remain (earlier than the 10 % point); the authority
// shows the new pairings completed, the pack and the module use the new keys, and an L5
// command works after the switch.
func TestAutoRenewal(t *testing.T) {
	sim := clock.NewSim(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	s := newSystemOn(t, 1, sim, func(c *app.Config) { c.PairingValidity = 10 * time.Minute })
	ctx, cancel := context.WithTimeout(s.ctx, 20*time.Second)
	defer cancel()
	sub := s.app.Subscribe(256)
	if err := s.app.Bind(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.app.Pair(ctx, pctx); err != nil {
		t.Fatal(err)
	}
	m := s.mods[0]
	ents := []string{"PC-0001", m.dev.EntityID}
	old := map[string]string{}
	for _, e := range ents {
		old[e], _ = s.app.PairingID(e)
	}
	packKID := pairKID(ctx, t, s.pack.can2, m.dev.Addr)
	modKID := pairKID(ctx, t, m.eng, canid.AddrPack)
	if packKID != modKID {
		t.Fatalf("pack×module pairing KIDs differ before renewal: %04x %04x", packKID, modKID)
	}
	if ack, err := s.app.Command(ctx, m.dev.Addr, chargeEnable()); err != nil || ack.Status != message.StatusOK {
		t.Fatalf("command before renewal: %+v %v", ack, err)
	}

	// The renewal point: 5 minutes before expiry (the 10 % point, 9 minutes in, comes later).
	start := sim.Now()
	var at time.Time
	for {
		if _, when, ok := s.app.NextRenewal(); ok {
			at = when
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no renewal armed")
		case <-time.After(time.Millisecond):
		}
	}
	if d := at.Sub(start); d < 4*time.Minute || d > 5*time.Minute {
		t.Fatalf("renewal armed %v after pairing, want within the minute before 5 minutes", d)
	}
	// Both pairings were issued at the same simulated second: one step past the point renews both.
	sim.Advance(at.Sub(sim.Now()) + time.Second)
	renewed := map[string]string{}
	for ev := range events(ctx, t, sub) {
		if r, ok := ev.(app.EventRenewal); ok {
			if r.Err != nil {
				t.Fatalf("renewal of %s: %v", r.Entity, r.Err)
			}
			if r.OldPairingID != old[r.Entity] || r.NewPairingID == r.OldPairingID {
				t.Fatalf("renewal %+v, old %s", r, old[r.Entity])
			}
			renewed[r.Entity] = r.NewPairingID
			if len(renewed) == len(ents) {
				break
			}
		}
	}
	if sim.Now().Sub(start) >= 6*time.Minute {
		t.Fatalf("renewed only %v after pairing", sim.Now().Sub(start))
	}
	for _, e := range ents {
		pid, _ := s.app.PairingID(e)
		if pid != renewed[e] {
			t.Fatalf("%s: app uses pairing %s, renewed to %s", e, pid, renewed[e])
		}
		if p, err := s.auth.Pairing(pid); err != nil || p.Status != "completed" {
			t.Fatalf("%s new pairing at the authority: %+v %v", e, p, err)
		}
	}
	newID, _ := message.ParseUUID(renewed[m.dev.EntityID])
	for _, l := range []struct {
		name string
		eng  *session.Engine
		peer uint8
		kid  uint16
	}{{"pack", s.pack.can2, m.dev.Addr, packKID}, {"module", m.eng, canid.AddrPack, modKID}} {
		info, ok, err := l.eng.Link(ctx, l.peer)
		if err != nil || !ok || !info.Paired || !bytes.Equal(info.PairingID, newID) || info.PairKID == l.kid {
			t.Fatalf("%s link after renewal: %+v %v %v (old KID %04x)", l.name, info, ok, err, l.kid)
		}
	}
	packNew, _ := message.ParseUUID(renewed["PC-0001"])
	if info, ok, err := s.app.Engine().Link(ctx, canid.AddrPack); err != nil || !ok || !bytes.Equal(info.PairingID, packNew) {
		t.Fatalf("app link after renewal: %+v %v %v", info, ok, err)
	}
	if ack, err := s.app.Command(ctx, m.dev.Addr, chargeEnable()); err != nil || ack.Status != message.StatusOK {
		t.Fatalf("command after renewal: %+v %v", ack, err)
	}
	s.pack.mu.Lock()
	defer s.pack.mu.Unlock()
	for _, err := range s.pack.errs {
		t.Errorf("pack routing: %v", err)
	}
}

func pairKID(ctx context.Context, t *testing.T, eng *session.Engine, peer uint8) uint16 {
	t.Helper()
	info, ok, err := eng.Link(ctx, peer)
	if err != nil || !ok || !info.Paired {
		t.Fatalf("link to %#02x: %+v %v %v", peer, info, ok, err)
	}
	return info.PairKID
}

// events yields the subscription's events until ctx ends (then the test fails).
func events(ctx context.Context, t *testing.T, sub <-chan session.Event) func(func(session.Event) bool) {
	return func(yield func(session.Event) bool) {
		for {
			select {
			case <-ctx.Done():
				t.Fatal("no more renewal events")
				return
			case ev := <-sub:
				if !yield(ev) {
					return
				}
			}
		}
	}
}
