package module

import (
	"context"
	"errors"
	"fmt"

	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
	"github.com/modbatt/hilrun/protocol/suite"
	"time"
)

// web4 is the running link engine and what stops it.
type web4 struct {
	eng    *session.Engine
	upd    *updater
	addr   uint8
	cancel context.CancelFunc
	done   chan struct{}
}

func (d *Device) engine() *session.Engine { return d.eng.Load() }

// restartWeb4 (re)starts the link engine at the module's current ID over the NVM records.
func (d *Device) restartWeb4() {
	d.stopWeb4()
	if d.cfg.NoWeb4 || !d.registered() {
		return
	}
	addr := d.moduleID
	id := session.Identity{EntityID: d.cfg.EntityID, Role: message.RoleModule, Addr: addr,
		Access:       d.access(addr),
		ImageVersion: d.cfg.Image.Version, ImageHash: append([]byte(nil), d.cfg.Image.Hash[:]...)}
	ctx, cancel := context.WithCancel(d.runCtx)
	// Charged on the engine's context, so stopping it cuts a P-256 wait short.
	cost := func(op suite.Op, n int) { d.charge(ctx, op, n) }
	eng, err := session.New(session.Config{Identity: id, Endpoint: d.cfg.Bus, External: true, Clock: d.clk,
		Rand: d.cfg.Rand, Store: engineStore{d.nvm}, Authority: d.cfg.Authority, Cost: cost,
		Logger: d.log.With("web4", addr), Peers: []session.Peer{{Addr: canid.AddrPack, Role: message.RolePack}},
		Upstream: canid.AddrPack, PairingTimeout: d.cfg.PairingTimeout})
	if err != nil {
		cancel()
		d.log.Error("module: link engine", "err", err)
		return
	}
	w := &web4{eng: eng, upd: d.newUpdater(eng, addr), addr: addr, cancel: cancel, done: make(chan struct{})}
	d.wg.Add(1)
	go func() { defer d.wg.Done(); w.upd.serve(ctx, d) }()
	go func() {
		defer close(w.done)
		if err := eng.Run(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("module: link engine stopped", "err", err)
		}
	}()
	d.web = w
	d.eng.Store(eng)
	d.count(func(s *Stats) { s.Web4Restarts++ })
	d.telemAt = d.clk.Now().Add(d.cfg.TelemetryPeriod)
	if !d.cfg.NoShortTelemetry {
		d.shortAt = d.clk.Now().Add(d.cfg.ShortTelemetryPeriod)
	}
	lost := d.keyLoss
	d.keyLoss = false
	// Boot report: the running image's version and hash, in the clear (L1, kind image). Nobody
	// asks for it again, so a report lost to an ISO-TP timeout is sent again.
	d.goWeb(func(ctx context.Context) {
		if err := clock.Retry(ctx, d.clk, bootReportAttempts, time.Second, func(ctx context.Context) error {
			return eng.Announce(ctx, canid.AddrPack, message.AnnounceImage)
		}); err != nil && ctx.Err() == nil {
			d.log.Debug("module: image announce", "err", err)
		}
		if lost {
			if err := loseKeys(ctx, eng); err != nil && ctx.Err() == nil {
				d.log.Warn("module: key loss", "err", err)
			}
		}
	})
}

// access is the module's access data as the authority and its partners name it.
func (d *Device) access(addr uint8) message.AccessData {
	return message.AccessData{Type: "can", ChainID: d.cfg.ChainID, DeviceID: d.cfg.EntityID, Endpoint: fmt.Sprintf("0x%02x", addr)}
}

// stopWeb4 stops the engine and waits for it and every call on it.
func (d *Device) stopWeb4() {
	w := d.web
	if w == nil {
		return
	}
	d.web = nil
	d.eng.Store(nil)
	d.telemAt, d.shortAt = timeZero, timeZero
	w.cancel()
	<-w.done
	d.wg.Wait()
}

// handleEvent acts on what the engine reports.
func (d *Device) handleEvent(ev session.Event) {
	switch e := ev.(type) {
	case session.EventCommand:
		st, state := d.execute(e.Command)
		d.count(func(s *Stats) {
			if s.Commands == nil {
				s.Commands = map[string]uint64{}
			}
			s.Commands[st.String()]++
		})
		d.goWeb(func(context.Context) {
			if err := e.Reply(st, &state); err != nil {
				d.log.Debug("module: ACK", "err", err)
			}
		})
	case session.EventTransfer:
		if d.web != nil {
			d.web.upd.take(d, e.Msg)
		}
	case session.EventBound:
		d.log.Info("module: bound", "peer", e.Peer, "binding", message.FormatUUID(e.BindingID))
	case session.EventPaired:
		d.log.Info("module: paired", "peer", e.Peer, "context", e.Context)
	case session.EventPairingRefused:
		d.log.Info("module: pairing refused", "peer", e.Peer, "err", e.Err)
	case session.EventPairingTimeout:
		d.log.Info("module: partial pairing timed out", "peer", e.Peer)
	case session.EventEscalation:
		d.log.Info("module: escalation", "reason", e.Escalation.Reason, "target", e.Escalation.Target, "sent", e.Sent)
	}
}

// execute runs an L5 command against the model and returns the ACK's status and the state
// after it.
func (d *Device) execute(c *message.Command) (message.Status, uint8) {
	st := d.apply(c)
	d.log.Info("module: command", "code", c.Code, "status", st)
	return st, uint8(d.state)
}

func (d *Device) apply(c *message.Command) message.Status {
	if c.Target != 0 && c.Target != d.moduleID {
		return message.StatusBadArgs
	}
	switch c.Code {
	case message.CmdChargeDischarge:
		ca, da := float64(*c.ChargeLimit)/10, float64(*c.DischargeLimit)/10
		if ca > d.cfg.MaxChargeA || da > d.cfg.MaxDischargeA {
			return message.StatusBadArgs
		}
		d.lim.chargeEnable, d.lim.dischargeEnable, d.lim.chargeA, d.lim.dischargeA = *c.ChargeEnable, *c.DischargeEnable, ca, da
	case message.CmdSafetyLimits:
		maxV, minV := float64(*c.CellMaxMV)/1000, float64(*c.CellMinMV)/1000
		if maxV > d.hwLim.cellMaxV+0.05 || minV < 2.0 {
			return message.StatusBadArgs
		}
		d.lim.cellMaxV, d.lim.cellMinV = maxV, minV
		d.lim.tempMaxC, d.lim.tempMinC = float64(*c.TempMaxDC)/10, float64(*c.TempMinDC)/10
		d.lim.currentMaxA = float64(*c.CurrentMax) / 10
	case message.CmdCellBalancing:
		d.model.balOn = *c.BalanceEnable
		d.model.balTarget = float64(*c.BalanceTargetMV) / 1000
		for k := range d.model.balance {
			d.model.balance[k] = c.BalanceMask == nil || (k/8 < len(c.BalanceMask) && c.BalanceMask[k/8]&(1<<(k%8)) != 0)
		}
	case message.CmdDiagnosticMode:
		d.diag = *c.DiagEnable
		d.diagUntil = timeZero
		if d.diag && *c.DiagDuration > 0 {
			d.diagUntil = d.clk.Now().Add(secs(*c.DiagDuration))
		}
	case message.CmdEmergencyIsolate:
		d.count(func(s *Stats) { s.Isolations++ })
		d.isolated = true
		d.setState(legacy.StateOff)
	default:
		return message.StatusUnsupported
	}
	return message.StatusOK
}

// sendTelemetry hands the engine one telemetry record for the pack; the pairing's policy
// decides its protection. Nothing goes out before the module is paired.
func (d *Device) sendTelemetry() {
	w := d.web
	if w == nil {
		return
	}
	c := d.model
	lo, hi, _ := c.voltStats()
	tlo, thi, _ := c.tempStats()
	d.telSeq++
	t := &message.Telemetry{Seq: d.telSeq, At: d.clk.Now().Unix(), Addr: d.moduleID, State: uint8(d.state),
		SOC: uint8(clamp(halfPercent(c.socAvg())*2, 0, 200)), VoltageMV: uint32(c.total() * 1000), CurrentMA: int32(c.current * 1000),
		CellMinMV: uint16(clamp(lo*1000, 0, 65535)), CellMaxMV: uint16(clamp(hi*1000, 0, 65535)),
		TempMinDC: int16(clamp(tlo*10, -32768, 32767)), TempMaxDC: int16(clamp(thi*10, -32768, 32767))}
	d.goWeb(func(ctx context.Context) {
		err := w.eng.SendTelemetry(ctx, canid.AddrPack, t)
		switch {
		case err == nil:
			d.count(func(s *Stats) { s.Telemetry++ })
		case errors.Is(err, session.ErrNotPaired), errors.Is(err, session.ErrNotAllowed), ctx.Err() != nil:
		default:
			d.log.Debug("module: telemetry", "err", err)
		}
	})
}

// escalateStep raises the docs/protocol.md 8.1 trigger for a temperature or voltage step; the
// engine applies the rate limits of R8.
func (d *Device) escalateStep(reason message.Reason) {
	w := d.web
	d.count(func(s *Stats) { s.StepTriggers++ })
	if w == nil {
		return
	}
	d.goWeb(func(ctx context.Context) {
		err := w.eng.Escalate(ctx, canid.AddrPack, message.L5PairedCommand, reason, message.UrgencyHigh, 0)
		if err != nil && !errors.Is(err, session.ErrRateLimited) && ctx.Err() == nil {
			d.log.Debug("module: escalation", "reason", reason, "err", err)
		}
	})
}

// bootReportAttempts is how often a boot report (or a relayed announce) is tried: after 1, 2
// and 4 s more, inside bring-up's 10 s wait.
const bootReportAttempts = 4
