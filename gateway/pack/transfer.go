package pack

import (
	"context"
	"fmt"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/isotp"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

// A module update (docs/protocol.md 4.14) runs end to end between the app and the module; the
// pack relays each message of it between the buses, one at a time: a firmware message from the
// app (CAN1, addressed to the module) is opened under the app pairing and sealed again under
// the module's pairing for CAN2 with the pack as source; the module's bulk-ack (CAN2, addressed
// to the pack) goes the other way, to the app with the module's address as source. Both hops
// must be paired in the firmware_update context with the firmware class in their policy. The
// pack keeps no image: memory stays one message per direction, and the module's own checks
// of hash and signature are the ones that count.

// transferQueue bounds the messages waiting for the relay (a stop-and-wait transfer has one
// in flight; retransmissions may add a few).
const transferQueue = 16

type transferMsg struct {
	fromApp bool
	msg     isotp.Message
}

// transfer takes a transfer message from an engine's events (never blocks the caller).
func (g *gateway) transfer(fromApp bool, e session.EventTransfer) {
	select {
	case g.xfers <- transferMsg{fromApp, e.Msg}:
	default:
		g.reject(CauseEventsFull)
	}
}

// transfers relays transfer messages in the order they arrived.
func (g *gateway) transfers(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-g.xfers:
			if err := g.relayTransfer(ctx, t.fromApp, t.msg); err != nil {
				g.fail("firmware transfer", err)
				continue
			}
			g.count(&g.transferred)
		}
	}
}

func (g *gateway) protect(e *session.Engine, peer uint8) *session.PairingProtect {
	return e.PairingProtect(peer, message.ContextFirmwareUpdate, message.ClassFirmware)
}

// relayTransfer re-protects one transfer message for the other bus.
func (g *gateway) relayTransfer(ctx context.Context, fromApp bool, m isotp.Message) error {
	id := m.ID
	if fromApp {
		if id.Type != canid.TypeFirmware || id.Src != canid.AddrApp || !g.isModule(id.Dst) {
			return fmt.Errorf("%w: %s is not a firmware message from the app for a module", session.ErrPairingState, id)
		}
		pt, err := g.protect(g.can1, canid.AddrApp).Open(id, m.Data)
		if err != nil {
			return err
		}
		out, wire, err := g.protect(g.can2, id.Dst).Seal(canid.New(id.Type, false, 0, id.Dst, g.d.Addr()), pt)
		if err != nil {
			return err
		}
		return g.can2.SendSealed(ctx, isotp.Message{ID: out, Data: wire})
	}
	if id.Type != canid.TypeBulkAck || id.Dst != g.d.Addr() {
		return fmt.Errorf("%w: %s is not a module's bulk-ack for the pack", session.ErrPairingState, id)
	}
	pt, err := g.protect(g.can2, id.Src).Open(id, m.Data)
	if err != nil {
		return err
	}
	out, wire, err := g.protect(g.can1, canid.AddrApp).Seal(canid.New(id.Type, false, 0, canid.AddrApp, id.Src), pt)
	if err != nil {
		return err
	}
	return g.can1.SendSealed(ctx, isotp.Message{ID: out, Data: wire})
}

// isModule reports whether addr is one of the module addresses the pack proxies for.
func (g *gateway) isModule(addr uint8) bool {
	for _, m := range g.d.cfg.Modules {
		if m == addr {
			return true
		}
	}
	return false
}
