package session

import (
	"testing"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
)

// TestRelayedShortTelemetry: the pack relays a module's single-frame samples to the app with
// the module's address as source; the app verifies them under its pack pairing, per source, and
// locks a source out (with one escalation) after three forged frames.
func TestRelayedShortTelemetry(t *testing.T) {
	w := newWorld(t, nil)
	app := w.start(w.identity("app", message.RoleApp, canid.AddrApp), nil, nil)
	pack := w.start(w.identity("pack-0", message.RolePack, canid.AddrPack), nil, nil)
	w.bind(app, pack)
	w.pair(app, pack, nil)

	for i, src := range []uint8{0x05, 0x05, 0x07} {
		s := message.ShortTelemetry{{Signal: message.SignalCurrent, Raw: uint16(0xFF83 + i)}}
		if err := pack.eng.RelayShortTelemetry(w.ctx, canid.AddrApp, src, s); err != nil {
			t.Fatal(err)
		}
		got := waitFor(t, app, func(e EventShortTelemetry) bool { return true })
		if got.Peer != src || !got.Relayed || len(got.Samples) != 1 || got.Samples[0] != s[0] {
			t.Fatalf("relayed frame %d: %+v", i, got)
		}
	}
	// Each source counts on its own: the second of 0x05 has counter 1, the first of 0x07 0.
	forger := w.bus.Join("forger")
	defer forger.Close()
	id := canid.New(canid.TypeTelemetryShort, true, canid.LevelExchange, canid.AddrApp, 0x05)
	for i := range 4 {
		f := bus.Frame{ID: id.Encode(), Extended: true, Len: 8, Data: [64]byte{0x02, 0x00, byte(i), 0x09, 1, 2, 3, byte(i)}}
		if err := forger.Send(w.ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	esc := waitFor(t, app, func(e EventEscalation) bool { return e.Local })
	if esc.Peer != 0x05 || esc.Escalation.Reason != message.ReasonMACFailures || esc.Escalation.Target != message.L6PairingValidation {
		t.Fatalf("escalation %+v %+v", esc, esc.Escalation)
	}
	waitStat(t, app, CauseAuth, 3)
	waitStat(t, app, CauseLockedOut, 1)
	// The other source is not locked out.
	if err := pack.eng.RelayShortTelemetry(w.ctx, canid.AddrApp, 0x07, message.ShortTelemetry{{Signal: message.SignalSOC, Raw: 600}}); err != nil {
		t.Fatal(err)
	}
	if got := waitFor(t, app, func(e EventShortTelemetry) bool { return true }); got.Peer != 0x07 {
		t.Fatalf("frame of another source after the lock-out: %+v", got)
	}
}
