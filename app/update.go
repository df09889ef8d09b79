package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/modbatt/hilrun/bench/flash/fwxfer"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/isotp"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

// ContextFirmwareUpdate is the pairing context module updates run under.
const ContextFirmwareUpdate = "firmware_update"

// UpdateAckTimeout is how long the app waits for each acknowledgement of an update: long
// enough for the module's signature check at commit (P-256 in software on the ATmega64M1
// costs seconds).
const UpdateAckTimeout = 8 * time.Second

// ErrUpdate is wrapped by an update whose module did not come back with the image sent.
var ErrUpdate = errors.New("app: module update")

// PairForUpdate pairs the app with the pack and the pack with the module in the
// firmware_update context (docs/protocol.md 4.14): both hops of an update need it. The
// pairings replace the links' current ones (renewal semantics); pair again in another
// context afterwards to leave firmware_update.
func (a *App) PairForUpdate(ctx context.Context, entity string) error {
	if _, err := a.module(entity); err != nil {
		return err
	}
	if _, err := a.PairPack(ctx, ContextFirmwareUpdate); err != nil {
		return err
	}
	_, err := a.PairModule(ctx, ContextFirmwareUpdate, entity)
	return err
}

// UpdateModule sends a signed image to a module through the pack over CAN (docs/protocol.md
// 4.14): offer, chunks and commit sealed under the app×pack firmware_update pairing on CAN1,
// which the pack re-seals under its firmware_update pairing with the module on CAN2. The
// module checks the image's hash and signature, stores it, acknowledges the commit and
// restarts into it; UpdateModule then waits for its boot report (L1 announce of kind image)
// and returns it once it names the image sent. progress (may be nil) is told the bytes the
// module acknowledged. Both pairings must be in place (PairForUpdate). A refusal by the
// module is a *fwxfer.RefusedError with its status.
func (a *App) UpdateModule(ctx context.Context, entity string, img, sig []byte, progress func(sent, total int)) (*message.Announce, error) {
	m, err := a.module(entity)
	if err != nil {
		return nil, err
	}
	acks := make(chan isotp.Message, 16)
	a.mu.Lock()
	id := a.nextW
	a.nextW++
	a.waiters[id] = func(ev session.Event) bool {
		if t, ok := ev.(session.EventTransfer); ok && t.Msg.ID.Type == canid.TypeBulkAck && t.Msg.ID.Src == m.Addr {
			select {
			case acks <- t.Msg:
			default: // the sender resends on timeout
			}
		}
		return false
	}
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.waiters, id)
		a.mu.Unlock()
	}()
	sum := sha256.Sum256(img)
	boot := a.expect(func(ev session.Event) bool {
		an, ok := ev.(session.EventAnnounce)
		return ok && an.Peer == m.Addr && an.Announce.Kind == message.AnnounceImage && bytes.Equal(an.Announce.ImageHash, sum[:])
	})
	defer func() {
		a.mu.Lock()
		delete(a.waiters, boot.id)
		a.mu.Unlock()
	}()
	s := &fwxfer.Sender{Conn: updateConn{a.eng, acks}, Src: canid.AddrApp, Dst: m.Addr, Timeout: UpdateAckTimeout, Clock: a.cfg.Clock,
		Protect: a.eng.PairingProtect(a.cfg.Pack.Addr, message.ContextFirmwareUpdate, message.ClassFirmware)}
	if err := s.Send(ctx, img, sig, progress); err != nil {
		return nil, fmt.Errorf("app: update %s: %w", entity, err)
	}
	ev, err := boot.wait(ctx, "the boot report of "+entity+" after its update")
	if err != nil {
		return nil, fmt.Errorf("%w: %s accepted the image but did not report it: %w", ErrUpdate, entity, err)
	}
	an := ev.(session.EventAnnounce).Announce
	if an.EntityID != m.EntityID {
		return an, fmt.Errorf("%w: the boot report at %#02x names %s, not %s", ErrUpdate, m.Addr, an.EntityID, entity)
	}
	return an, nil
}

// updateConn sends an update's sealed messages through the app's engine and receives the
// module's acknowledgements from its events.
type updateConn struct {
	eng  *session.Engine
	acks <-chan isotp.Message
}

func (c updateConn) Send(ctx context.Context, m isotp.Message) error { return c.eng.SendSealed(ctx, m) }

func (c updateConn) Receive(ctx context.Context) (isotp.Message, error) {
	select {
	case m := <-c.acks:
		return m, nil
	case <-ctx.Done():
		return isotp.Message{}, ctx.Err()
	}
}
