package flash

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/modbatt/hilrun/bench/flash/fwxfer"
	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/clock"
)

// Options supply what New cannot find in the rig file.
type Options struct {
	Method string // overrides the device's flash method when set

	// BootLoader returns the emulated device's boot loader (method emulated).
	BootLoader func(d *rig.Device) (BootLoader, error)
	// CANSender returns a transfer sender towards d through the pack via (method can): it owns
	// the bus connection and the firmware_update pairing's Protect.
	CANSender func(d, via *rig.Device) (*fwxfer.Sender, error)

	Clock clock.Clock
	Log   *slog.Logger
}

// New builds the Flasher for device d of rig r.
func New(r *rig.Rig, d *rig.Device, o Options) (Flasher, error) {
	f := d.Flash
	method := f.Method
	if o.Method != "" {
		method = o.Method
	}
	switch method {
	case rig.FlashEmulated:
		if o.BootLoader == nil {
			return nil, fmt.Errorf("%w: %s: no emulated device in this process", ErrMethod, d.Name)
		}
		bl, err := o.BootLoader(d)
		if err != nil {
			return nil, err
		}
		return Emulated{Target: bl}, nil
	case rig.FlashSTM32UART:
		if f.Port == "" {
			return nil, fmt.Errorf("%w: %s: stm32-uart needs flash.port", ErrMethod, d.Name)
		}
		return STM32UART{Port: f.Port, Baud: f.Baud, Address: f.Address, Verify: f.VerifyAfterWrite(), Clock: o.Clock, Log: o.Log}, nil
	case rig.FlashCommand:
		if f.Tool == "" {
			return nil, fmt.Errorf("%w: %s: command needs flash.tool", ErrMethod, d.Name)
		}
		var timeout time.Duration
		if f.Timeout != "" {
			t, err := time.ParseDuration(f.Timeout)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: flash.timeout: %w", ErrMethod, d.Name, err)
			}
			timeout = t
		}
		return Command{Tool: f.Tool, Args: f.Args, Device: *d, Timeout: timeout}, nil
	case rig.FlashCAN:
		via, ok := r.Device(f.Via)
		if !ok {
			return nil, fmt.Errorf("%w: %s: no device %q to update through", ErrMethod, d.Name, f.Via)
		}
		if o.CANSender == nil {
			return nil, fmt.Errorf("%w: %s: an update over CAN needs the rig's buses and a firmware_update pairing (run it from a suite)", ErrMethod, d.Name)
		}
		s, err := o.CANSender(d, via)
		if err != nil {
			return nil, err
		}
		return CAN{Sender: s}, nil
	}
	return nil, fmt.Errorf("%w: %s: method %q", ErrMethod, d.Name, method)
}
