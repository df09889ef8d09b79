package module

import (
	"context"
	"fmt"

	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

// Fault hooks and bench controls. Each runs on the device loop and needs Run to be running.

func (d *Device) cell(k int) error {
	if k < 0 || k >= d.cfg.Cells {
		return fmt.Errorf("%w: cell %d of %d", ErrConfig, k, d.cfg.Cells)
	}
	return nil
}

// TempStep adds deltaC to cell k's temperature reading from the next read on (a failing
// sensor or a hot spot); a step beyond 10 °C raises the temperature-step escalation.
func (d *Device) TempStep(ctx context.Context, k int, deltaC float64) error {
	return d.call(ctx, func() error {
		if err := d.cell(k); err != nil {
			return err
		}
		d.model.tOffset[k] += deltaC
		return nil
	})
}

// VoltageStep adds deltaV to cell k's voltage reading from the next read on.
func (d *Device) VoltageStep(ctx context.Context, k int, deltaV float64) error {
	return d.call(ctx, func() error {
		if err := d.cell(k); err != nil {
			return err
		}
		d.model.vOffset[k] += deltaV
		return nil
	})
}

// KillCell makes cell k stop answering on the chain: it reads 0 V, the module reports a
// fault, and 0x507 names it.
func (d *Device) KillCell(ctx context.Context, k int) error {
	return d.call(ctx, func() error {
		if err := d.cell(k); err != nil {
			return err
		}
		d.model.dead[k] = true
		return nil
	})
}

// SetDemand sets the load's current demand in amps (positive charges) for the On state.
func (d *Device) SetDemand(ctx context.Context, amps float64) error {
	return d.call(ctx, func() error { d.demand = amps; return nil })
}

// LoseKeys makes the module lose its binding keys (a damaged key store): the engine forgets
// keys, bindings and pairings and the module sends the key-loss announce (clear, L1, with its
// escalation to L7) to the pack. An unregistered module loses them when its engine next
// starts (at registration) and announces the loss then.
func (d *Device) LoseKeys(ctx context.Context) error {
	var eng *session.Engine
	err := d.call(ctx, func() error {
		if d.cfg.NoWeb4 {
			return fmt.Errorf("%w: Web4 is off", ErrConfig)
		}
		if d.web == nil {
			d.keyLoss = true
			return nil
		}
		eng = d.web.eng
		return nil
	})
	if err != nil || eng == nil {
		return err
	}
	return loseKeys(ctx, eng)
}

func loseKeys(ctx context.Context, eng *session.Engine) error {
	if err := eng.LoseKeys(ctx); err != nil {
		return err
	}
	return eng.Announce(ctx, canid.AddrPack, message.AnnounceKeyLoss)
}

// FactoryReset wipes every key, counter block, binding and pairing from NVM, keeps the
// immutable identity, drops the module ID and announces as a factory-default module.
func (d *Device) FactoryReset(ctx context.Context) error {
	return d.call(ctx, func() error {
		d.stopWeb4()
		if err := d.nvm.Wipe(identityRecords...); err != nil {
			return fmt.Errorf("module: factory reset: %w", err)
		}
		d.isolated, d.diag, d.lim = false, false, d.hwLim
		d.model.balOn = false
		d.dropID()
		d.sendAnnouncement()
		return nil
	})
}

// Link returns the module's Web4 link to the pack (false when no engine runs or no link).
func (d *Device) Link(ctx context.Context) (session.LinkInfo, bool, error) {
	eng := d.engine()
	if eng == nil {
		return session.LinkInfo{}, false, nil
	}
	return eng.Link(ctx, canid.AddrPack)
}

// Engine returns the running link engine, nil when none runs (for suites that watch it).
func (d *Device) Engine() *session.Engine { return d.engine() }

// ModuleID returns the module's current legacy ID (0xFF when unregistered).
func (d *Device) ModuleID() uint8 { return d.Stats().ModuleID }

// State returns the contactor state.
func (d *Device) State() legacy.State { return d.Stats().State }
