package module

import (
	"bytes"
	"context"
	"errors"
	"sync"

	"github.com/modbatt/hilrun/bench/flash/fwxfer"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/isotp"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
	"github.com/modbatt/hilrun/protocol/suite"
)

// BootLoader is the module's boot loader as the update receiver uses it: Receive checks an
// image against the authority's signature and stores it (refusing unsigned, foreign-signed,
// corrupted and other devices' images), Boot makes the stored image the running one and
// returns its identity. bench/flash.Loader is one.
type BootLoader interface {
	Receive(ctx context.Context, img, sig []byte) error
	Boot(ctx context.Context) (image.Image, error)
}

// DefaultMaxImage is the largest image the module accepts over CAN. The ATmega64M1 holds
// 64 KiB; the emulated module runs a bench program, so the limit is that program's size class.
const DefaultMaxImage = 32 << 20

// ErrNoBootLoader refuses an image when the module has no boot loader to store it.
var ErrNoBootLoader = errors.New("module: no boot loader")

// SetBootLoader installs the boot loader that stores and boots images received over CAN
// (Config.BootLoader, for a device built without one). It takes effect at the next transfer.
func (d *Device) SetBootLoader(bl BootLoader) {
	d.loader.Store(&bl)
}

// Image is the identity of the image the module runs (the one reported in its boot report).
func (d *Device) Image() image.Image {
	d.imgMu.Lock()
	defer d.imgMu.Unlock()
	return d.cfg.Image
}

func (d *Device) setImage(img image.Image) {
	d.imgMu.Lock()
	d.cfg.Image = img
	d.imgMu.Unlock()
}

// imageSink hands a complete image to the current boot loader. A boot loader that can check
// an offer (fwxfer.OfferChecker) checks the authority's signature there, before the bytes go
// over; at commit the bytes are checked against the hash it signed, and the signature is not
// charged a second time.
type imageSink struct {
	d        *Device
	mu       sync.Mutex
	verified []byte // the signature the offer of the running transfer was checked with
}

func (s *imageSink) CheckOffer(ctx context.Context, size int, hash [32]byte, sig []byte) error {
	bl := s.d.loader.Load()
	if bl == nil || *bl == nil {
		return ErrNoBootLoader
	}
	oc, ok := (*bl).(fwxfer.OfferChecker)
	if !ok {
		return nil // checked at commit
	}
	s.d.charge(ctx, suite.OpVerify, 1) // the authority's signature, P-256 in software
	err := oc.CheckOffer(ctx, size, hash, sig)
	s.mu.Lock()
	s.verified = nil
	if err == nil {
		s.verified = append([]byte(nil), sig...)
	}
	s.mu.Unlock()
	if err != nil {
		s.d.count(func(st *Stats) { st.UpdatesRefused++ })
	}
	return err
}

func (s *imageSink) Receive(ctx context.Context, img, sig []byte) error {
	bl := s.d.loader.Load()
	if bl == nil || *bl == nil {
		return ErrNoBootLoader
	}
	s.mu.Lock()
	checked := s.verified != nil && bytes.Equal(s.verified, sig)
	s.mu.Unlock()
	if !checked {
		s.d.charge(ctx, suite.OpVerify, 1)
	}
	err := (*bl).Receive(ctx, img, sig)
	s.d.count(func(st *Stats) {
		if err != nil {
			st.UpdatesRefused++
		}
	})
	return err
}

// engineConn carries a transfer's messages through the link engine, which owns the bus: the
// receiver only sends (its input comes from the engine's events).
type engineConn struct{ eng *session.Engine }

func (c engineConn) Send(ctx context.Context, m isotp.Message) error { return c.eng.SendSealed(ctx, m) }

func (c engineConn) Receive(ctx context.Context) (isotp.Message, error) {
	<-ctx.Done()
	return isotp.Message{}, ctx.Err()
}

// updater is the module's side of a firmware transfer for one run of the link engine.
type updater struct {
	rx *fwxfer.Receiver
	in chan isotp.Message
}

// newUpdater makes the receiver of the engine at addr: transfers from the pack, sealed under
// the firmware_update pairing (docs/protocol.md 4.14).
func (d *Device) newUpdater(eng *session.Engine, addr uint8) *updater {
	u := &updater{in: make(chan isotp.Message, 8)}
	u.rx = &fwxfer.Receiver{Conn: engineConn{eng}, Addr: addr, Sink: &imageSink{d: d}, MaxSize: d.cfg.MaxImage,
		Protect: eng.PairingProtect(canid.AddrPack, message.ContextFirmwareUpdate, message.ClassFirmware),
		Log:     d.log, Committed: func(ctx context.Context) { d.committed(ctx) }}
	return u
}

// serve handles the transfer's messages in order until ctx ends.
func (u *updater) serve(ctx context.Context, d *Device) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-u.in:
			if err := u.rx.Handle(ctx, m); err != nil && ctx.Err() == nil {
				d.log.Debug("module: firmware message dropped", "err", err)
			}
		}
	}
}

// take queues a transfer message from the engine (never blocks the loop; the sender resends
// what was dropped).
func (u *updater) take(d *Device, m isotp.Message) {
	if m.ID.Type != canid.TypeFirmware {
		return
	}
	select {
	case u.in <- m:
	default:
		d.count(func(s *Stats) { s.Rejected[CauseBusy]++ })
	}
}

// committed runs after the acknowledgement of an accepted image went out: the boot loader
// boots it and the module restarts into it.
func (d *Device) committed(ctx context.Context) {
	bl := d.loader.Load()
	if bl == nil || *bl == nil {
		return
	}
	img, err := (*bl).Boot(ctx)
	if err != nil {
		d.log.Warn("module: boot of the received image", "err", err)
		return
	}
	select {
	case d.rebootCh <- img:
	default:
	}
}

// reboot restarts the module into img, as a reset after programming does: RAM state is that
// of power-on (unregistered, Off, no time, hardware limits), NVM (keys, bindings, pairings,
// counters) stays, and the boot stage reports the new image.
func (d *Device) reboot(img image.Image) {
	d.log.Info("module: rebooting into the received image", "from", d.Image().String(), "to", img.String())
	d.stopWeb4()
	d.setImage(img)
	d.count(func(s *Stats) { s.Updates++ })
	d.isolated, d.diag, d.lim, d.model.balOn = false, false, d.hwLim, false
	d.dropID()
	d.maxState, d.timeSet, d.seq = legacy.StateOff, false, 0
	d.diagUntil = timeZero
	d.boot()
}
