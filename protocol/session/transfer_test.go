package session

import (
	"bytes"
	"errors"
	"testing"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/freshness"
	"github.com/modbatt/hilrun/protocol/isotp"
	"github.com/modbatt/hilrun/protocol/message"
)

// pairIn pairs a and b in a context under the authority's policy for it.
func (w *world) pairIn(a, b *node, pctx message.Context, policy message.Policy) {
	t := w.t
	t.Helper()
	md := w.metadata(a, b, pctx, policy)
	is := w.issue(a, b, md)
	if err := a.eng.InstallPairing(w.ctx, is.Certificate); err != nil {
		t.Fatal(err)
	}
	if err := a.eng.Deliver(w.ctx, Hop{Dst: b.cfg.Identity.Addr}, canid.TypePairingCert, is.Certificate); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a, func(e EventPaired) bool { return e.Peer == b.cfg.Identity.Addr && e.Context == pctx })
	waitFor(t, b, func(e EventPaired) bool { return e.Peer == a.cfg.Identity.Addr && e.Context == pctx })
}

var firmwarePolicy = message.Policy{message.ClassFirmware: message.ProtPairing, message.ClassCommand: message.ProtPairing,
	message.ClassStatus: message.ProtClear, message.ClassValidation: message.ProtBinding}

func TestTransferSealedUnderFirmwarePairing(t *testing.T) {
	w := newWorld(t, nil)
	pack, module := packAndModule(t, w, nil)
	w.bind(pack, module)
	w.pairIn(pack, module, message.ContextFirmwareUpdate, firmwarePolicy)

	ps := pack.eng.PairingProtect(0x01, message.ContextFirmwareUpdate, message.ClassFirmware)
	ms := module.eng.PairingProtect(canid.AddrPack, message.ContextFirmwareUpdate, message.ClassFirmware)
	plain := []byte{0x03, 0x00, 0x07} // a commit of transfer 7
	id, wire, err := ps.Seal(canid.New(canid.TypeFirmware, false, canid.LevelExchange, 0x01, canid.AddrPack), plain)
	if err != nil {
		t.Fatal(err)
	}
	if want := canid.New(canid.TypeFirmware, true, canid.LevelPairing, 0x01, canid.AddrPack); id != want {
		t.Fatalf("sealed identifier %s, want %s", id, want)
	}
	if err := pack.eng.SendSealed(w.ctx, isotp.Message{ID: id, Data: wire}); err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, module, func(e EventTransfer) bool { return e.Msg.ID.Type == canid.TypeFirmware })
	if !bytes.Equal(got.Msg.Data, wire) {
		t.Fatal("the engine changed a transfer message it hands up")
	}
	pt, err := ms.Open(got.Msg.ID, got.Msg.Data)
	if err != nil || !bytes.Equal(pt, plain) {
		t.Fatalf("open: %x, %v", pt, err)
	}
	if _, err := ms.Open(got.Msg.ID, got.Msg.Data); !errors.Is(err, freshness.ErrReplay) {
		t.Fatalf("replayed message: %v", err)
	}

	// The acknowledgement goes back on bulk-ack under the module's direction key.
	aid, awire, err := ms.Seal(canid.New(canid.TypeBulkAck, false, 0, canid.AddrPack, 0x01), []byte{0x81, 0, 7, 0, 0, 0, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	if err := module.eng.SendSealed(w.ctx, isotp.Message{ID: aid, Data: awire}); err != nil {
		t.Fatal(err)
	}
	ack := waitFor(t, pack, func(e EventTransfer) bool { return e.Msg.ID.Type == canid.TypeBulkAck })
	if _, err := ps.Open(ack.Msg.ID, ack.Msg.Data); err != nil {
		t.Fatal(err)
	}

	// Tampered, clear, and messages for a transfer under another context are refused.
	bad := append([]byte(nil), wire...)
	bad[len(bad)-1] ^= 1
	if _, err := ms.Open(id, bad); err == nil {
		t.Fatal("tampered message opened")
	}
	if _, err := ms.Open(canid.New(canid.TypeFirmware, false, 0, 0x01, canid.AddrPack), plain); !errors.Is(err, ErrBelowPolicy) {
		t.Fatalf("clear message: %v", err)
	}
	other := module.eng.PairingProtect(canid.AddrPack, message.ContextBatteryManagement, message.ClassFirmware)
	if _, _, err := other.Seal(id, plain); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("seal under the wrong context: %v", err)
	}
	if err := pack.eng.SendSealed(w.ctx, isotp.Message{ID: canid.New(canid.TypeFirmware, false, 0, 0x01, canid.AddrPack), Data: plain}); !errors.Is(err, ErrWrongLevel) {
		t.Fatalf("clear firmware message sent: %v", err)
	}
}

func TestTransferRefusedOutsideFirmwareContext(t *testing.T) {
	w := newWorld(t, nil)
	pack, module := packAndModule(t, w, nil)
	w.bind(pack, module)
	w.pair(pack, module, nil) // battery_management: no firmware class
	ps := pack.eng.PairingProtect(0x01, message.ContextBatteryManagement, message.ClassFirmware)
	if _, _, err := ps.Seal(canid.New(canid.TypeFirmware, false, 0, 0x01, canid.AddrPack), []byte{3, 0, 1}); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("firmware under a policy without the class: %v", err)
	}
}
