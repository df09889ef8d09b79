package session

import (
	"bytes"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
)

// dropOnce loses the first frame of type t that from sends.
func dropOnce(t *testing.T, w *world, from *node, typ canid.Type) emu.FaultID {
	t.Helper()
	id, err := w.bus.AddFault(emu.Fault{Kind: emu.Drop, Mask: 0x3F<<20 | 0xFF, Value: uint32(typ)<<20 | uint32(from.cfg.Identity.Addr),
		Fmt: emu.ExtendedOnly, From: from.cfg.Identity.EntityID, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestHandshakeRetry loses exactly one handshake message of a pack × module pairing and shows
// that delivering the certificate again (to both entities, as the app's retry does) completes
// the pairing with the keys of the first attempt, and that the messages sent again are
// counted and harmless where they were not lost.
func TestHandshakeRetry(t *testing.T) {
	cases := []struct {
		name string
		lost func(pack, module *node) (*node, canid.Type)
	}{
		{"certificate to the module", func(p, _ *node) (*node, canid.Type) { return p, canid.TypePairingCert }},
		{"pack's key half", func(p, _ *node) (*node, canid.Type) { return p, canid.TypeKeyHalf }},
		{"module's key half", func(_, m *node) (*node, canid.Type) { return m, canid.TypeKeyHalf }},
		{"module's completion", func(_, m *node) (*node, canid.Type) { return m, canid.TypeCompletion }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, nil)
			pack, module := packAndModule(t, w, nil)
			w.bind(pack, module)
			md := w.metadata(pack, module, message.ContextBatteryManagement, nil)
			is := w.issue(pack, module, md)
			from, typ := tc.lost(pack, module)
			drop := dropOnce(t, w, from, typ)

			if err := pack.eng.InstallPairing(w.ctx, is.Certificate); err != nil {
				t.Fatal(err)
			}
			// A lost first frame leaves the sender without flow control: N_Bs fails the delivery.
			_ = pack.eng.Deliver(w.ctx, Hop{Dst: 0x01}, canid.TypePairingCert, is.Certificate)
			deadline := time.Now().Add(5 * time.Second)
			for n, _ := w.bus.Fired(drop); n == 0; n, _ = w.bus.Fired(drop) {
				if time.Now().After(deadline) {
					t.Fatal("the message to lose was never sent")
				}
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond) // let what got through settle

			// The retry: the certificate again, to the pack (locally) and to the module.
			if err := pack.eng.InstallPairing(w.ctx, is.Certificate); err != nil {
				t.Fatalf("certificate again at the pack: %v", err)
			}
			if err := pack.eng.Deliver(w.ctx, Hop{Dst: 0x01}, canid.TypePairingCert, is.Certificate); err != nil {
				t.Fatalf("certificate again to the module: %v", err)
			}
			c := waitFor(t, pack, func(e EventCompletion) bool { return bytes.Equal(e.PairingID, md.PairingID) })
			comp, err := message.DecodeCompletion(c.Completion)
			if err != nil {
				t.Fatal(err)
			}
			if len(comp.Proofs) != 2 {
				t.Fatalf("completion with %d proofs", len(comp.Proofs))
			}
			if n, _ := w.bus.Fired(drop); n != 1 {
				t.Fatalf("fault fired %d times", n)
			}
			if r := pack.eng.Stats().Retransmits + module.eng.Stats().Retransmits; r == 0 {
				t.Fatal("nothing was sent again")
			}
			for _, n := range []*node{pack, module} {
				if s := n.eng.Stats(); s.Rejected[CauseAuth]+s.Rejected[CausePairing]+s.Rejected[CauseUnexpected] != 0 {
					t.Fatalf("%s refused what was sent again: %+v", n.cfg.Identity.EntityID, s)
				}
			}
			ack, err := pack.eng.Command(w.ctx, 0x01, chargeCmd())
			if err != nil || ack.Status != message.StatusOK {
				t.Fatalf("command under the pairing: %v %v", ack, err)
			}

			// Delivered once more, everything arrives twice: ignored and counted, and a later
			// pairing (a renewal) is not disturbed by the stale halves.
			dup := pack.eng.Stats().Duplicates + module.eng.Stats().Duplicates
			if err := pack.eng.InstallPairing(w.ctx, is.Certificate); err != nil {
				t.Fatal(err)
			}
			if err := pack.eng.Deliver(w.ctx, Hop{Dst: 0x01}, canid.TypePairingCert, is.Certificate); err != nil {
				t.Fatal(err)
			}
			waitFor(t, pack, func(e EventCompletion) bool { return bytes.Equal(e.PairingID, md.PairingID) })
			deadline = time.Now().Add(5 * time.Second)
			for pack.eng.Stats().Duplicates+module.eng.Stats().Duplicates < dup+2 {
				if time.Now().After(deadline) {
					t.Fatalf("duplicates not counted: pack %+v module %+v", pack.eng.Stats(), module.eng.Stats())
				}
				time.Sleep(5 * time.Millisecond)
			}
			w.pair(pack, module, nil)
		})
	}
}
