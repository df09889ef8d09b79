package module

import (
	"errors"
	"math"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/protocol/canid"
)

// handleFrame routes one received frame: legacy to the legacy logic, Web4 to the link
// engine, anything else counted and dropped.
func (d *Device) handleFrame(r bus.Received) {
	d.count(func(s *Stats) { s.RxFrames++ })
	f := r.Frame
	if err := f.Validate(); err != nil {
		// A transport should never hand over such a frame; refuse it before anything reads it.
		d.count(func(s *Stats) { s.Rejected[CauseMalformed]++ })
		return
	}
	switch canid.Classify(f.ID, f.Extended) {
	case canid.Legacy:
		d.handleLegacy(f)
	case canid.Web4:
		if id, err := canid.Decode(f.ID, f.Extended); err == nil && id.Src == canid.AddrPack {
			d.heardPack()
		}
		if d.web == nil {
			d.count(func(s *Stats) { s.Rejected[CauseWeb4Idle]++ })
			return
		}
		d.web.eng.Feed(r)
	default:
		d.count(func(s *Stats) { s.Rejected[CauseUnknownID]++ })
	}
}

func (d *Device) handleLegacy(f bus.Frame) {
	if !f.Extended {
		return // app-bus traffic has no business on CAN2; not for a module
	}
	dec, err := legacy.Decode(f)
	if err != nil {
		c := CauseMalformed
		var ie *legacy.IDError
		if errors.As(err, &ie) {
			c = CauseUnknownID
		}
		d.count(func(s *Stats) { s.Rejected[c]++ })
		d.log.Debug("module: bad legacy frame", "frame", f.String(), "err", err)
		return
	}
	if dec.Msg.MsgID().Direction() != legacy.PackToModule {
		return // another module's frame
	}
	d.heardPack()
	to := dec.ModuleID
	mine := to == d.moduleID || (to == legacy.ModuleBroadcast && d.registered())
	switch m := dec.Msg.(type) {
	case *legacy.Registration:
		if to == legacy.ModuleUnregistered || mine {
			d.register(m)
		}
		return
	case *legacy.AnnounceRequest:
		if !d.registered() && (to == legacy.ModuleUnregistered || to == legacy.ModuleBroadcast) {
			d.sendAnnouncement()
		}
		return
	case *legacy.MaxState:
		if to == legacy.ModuleBroadcast || mine {
			d.setMaxState(m.State)
		}
		return
	}
	if !mine {
		return
	}
	switch m := dec.Msg.(type) {
	case *legacy.HardwareRequest:
		if d.payloadFor(m.ModuleID) {
			d.sendHardware()
		}
	case *legacy.StatusRequest:
		if d.payloadFor(m.ModuleID) && d.statusAt.IsZero() {
			d.statusAt = d.clk.Now().Add(d.cfg.StatusDelay)
		}
	case *legacy.CellDetailRequest:
		if !d.payloadFor(m.ModuleID) {
			return
		}
		if int(m.CellID) >= d.cfg.Cells {
			d.count(func(s *Stats) { s.Rejected[CauseBadRequest]++ })
			return
		}
		d.sendCellDetail(int(m.CellID))
	case *legacy.StateChange:
		if d.payloadFor(m.ModuleID) {
			d.isolated = false
			d.count(func(s *Stats) { s.StateChanges++ })
			d.setState(m.State)
		}
	case *legacy.SetTime:
		d.timeSet, d.epoch, d.timeAt, d.timeReqAt = true, m.Epoch, d.clk.Now(), timeZero
	case *legacy.Deregister:
		if d.payloadFor(m.ModuleID) {
			d.deregister()
		}
	case *legacy.AllDeregister:
		d.deregister()
	case *legacy.AllIsolate:
		d.count(func(s *Stats) { s.Isolations++ })
		d.setState(legacy.StateOff)
	}
}

// payloadFor checks the module ID a request carries in its payload against the module's own;
// a request addressed to this module that names another is bad input.
func (d *Device) payloadFor(id uint8) bool {
	if id == d.moduleID {
		return true
	}
	d.count(func(s *Stats) { s.Rejected[CauseBadRequest]++ })
	return false
}

func (d *Device) registered() bool { return d.moduleID != legacy.ModuleUnregistered }

// heardPack restarts the silence timer.
func (d *Device) heardPack() {
	if d.registered() {
		d.silenceAt = d.clk.Now().Add(d.cfg.SilenceTimeout)
	}
}

func (d *Device) register(m *legacy.Registration) {
	if m.Manufacturer != d.cfg.Manufacturer || m.Part != d.cfg.Part || m.UniqueID != d.cfg.UniqueID {
		d.count(func(s *Stats) { s.Registrations.Refused++; s.Rejected[CauseRefused]++ })
		return
	}
	d.count(func(s *Stats) { s.Registrations.Accepted++ })
	prev := d.moduleID
	d.moduleID = m.ModuleID
	d.silenceAt = d.clk.Now().Add(d.cfg.SilenceTimeout)
	d.log.Info("module: registered", "module_id", m.ModuleID, "controller", m.ControllerID)
	if !d.timeSet && d.timeReqAt.IsZero() {
		d.requestTime()
	}
	if prev != m.ModuleID {
		d.restartWeb4()
	}
}

func (d *Device) deregister() {
	d.count(func(s *Stats) { s.Deregistrations++ })
	d.dropID()
}

// dropID returns the module to unregistered: relays open, ID 0xFF, Web4 stopped.
func (d *Device) dropID() {
	d.moduleID = legacy.ModuleUnregistered
	d.setState(legacy.StateOff)
	d.statusAt, d.silenceAt, d.timeReqAt = timeZero, timeZero, timeZero
	d.stopWeb4()
}

// packSilent is the 11.1 s fallback.
func (d *Device) packSilent() {
	if !d.registered() {
		return
	}
	d.log.Info("module: pack silent, dropping module ID", "module_id", d.moduleID, "after", d.cfg.SilenceTimeout)
	d.count(func(s *Stats) { s.SilenceFallbacks++ })
	d.dropID()
	d.sendAnnouncement()
}

func (d *Device) setMaxState(s legacy.State) {
	d.maxState = s
	d.setState(d.requested)
}

// setState records the state the pack asked for and moves to it, capped by the max state and
// by a latched isolate. The request is remembered: a later, higher max state lets the module
// reach it without a new 0x514.
func (d *Device) setState(want legacy.State) {
	d.requested = want
	if want > d.maxState {
		want = d.maxState
	}
	if d.isolated {
		want = legacy.StateOff
	}
	d.state = want
}

func (d *Device) requestTime() {
	if !d.registered() || d.timeSet {
		return
	}
	d.count(func(s *Stats) { s.TimeRequests++ })
	d.sendLegacy(&legacy.TimeRequest{})
	d.timeReqAt = d.clk.Now().Add(d.cfg.TimeRequestPeriod)
}

// sendLegacy sends a module-bus frame from the module's current ID with the next sequence
// number.
func (d *Device) sendLegacy(m legacy.Message) {
	f, err := legacy.EncodeModule(m, d.moduleID, d.seq)
	d.seq = (d.seq + 1) & legacy.MaxSeq
	if err != nil {
		d.count(func(s *Stats) { s.Rejected[CauseEncode]++ })
		d.log.Warn("module: encoding", "msg", m.MsgID(), "err", err)
		return
	}
	if err := d.cfg.Bus.Send(d.runCtx, f); err != nil {
		d.count(func(s *Stats) { s.TxErrors++ })
		d.log.Debug("module: send", "frame", f.String(), "err", err)
		return
	}
	d.count(func(s *Stats) { s.TxFrames++ })
}

func (d *Device) sendAnnouncement() {
	d.count(func(s *Stats) { s.Announcements++ })
	d.sendLegacy(&legacy.Announcement{FirmwareBuild: d.cfg.FirmwareBuild, Manufacturer: d.cfg.Manufacturer,
		Part: d.cfg.Part, UniqueID: d.cfg.UniqueID})
}

func (d *Device) sendHardware() {
	d.count(func(s *Stats) { s.HardwareAnswers++ })
	d.sendLegacy(&legacy.Hardware{MaxChargeA: clamp(d.cfg.MaxChargeA, 0, 6553.5), MaxDischargeA: clamp(d.cfg.MaxDischargeA, 0, 6553.5),
		MaxChargeEndV: clamp(4.2*float64(d.cfg.Cells), 0, 655.35), HWVersion: d.cfg.HWVersion})
}

// answerStatus sends 0x502, 0x503, 0x504 and 0x507 in the firmware's order.
func (d *Device) answerStatus() {
	if !d.registered() {
		return
	}
	d.count(func(s *Stats) { s.StatusAnswers++ })
	c := d.model
	lo, hi, avg := c.voltStats()
	tlo, thi, tavg := c.tempStats()
	d.sendLegacy(&legacy.Status1{State: d.state, Status: d.statusFlags(), SOC: halfPercent(c.socAvg()), SOH: halfPercent(c.soh),
		CellCount: uint8(d.cfg.Cells), Current: clamp(round(c.current, 0.02), -655.36, 655.34), Voltage: clamp(round(c.total(), 0.015), 0, 983.025)})
	d.sendLegacy(&legacy.Status2{MinCellV: mv(lo), MaxCellV: mv(hi), AvgCellV: mv(avg), TotalV: clamp(round(c.total(), 0.015), 0, 983.025)})
	d.sendLegacy(&legacy.Status3{MinTemp: degC(tlo), MaxTemp: degC(thi), AvgTemp: degC(tavg)})
	d.sendLegacy(d.cellComm())
}

func (d *Device) cellComm() *legacy.CellComm1 {
	m := &legacy.CellComm1{FewestCellMsgs: uint8(d.model.reads), MostCellMsgs: uint8(d.model.reads), FirstI2CFault: 0xFF}
	if k, ok := d.model.firstDead(); ok {
		m.FewestCellMsgs = 0
		m.FramingErrors = uint8(d.commFail)
		m.FirstI2CFault = uint8(k)
		for _, dead := range d.model.dead {
			if dead {
				m.I2CErrors++
			}
		}
	}
	return m
}

func (d *Device) sendCellDetail(k int) {
	d.count(func(s *Stats) { s.CellDetails++ })
	c := d.model
	d.sendLegacy(&legacy.CellDetail{CellID: uint8(k), CellCount: uint8(d.cfg.Cells), Temp: degC(c.tRead[k]), Voltage: mv(c.vRead[k]),
		SOC: halfPercent(100 * c.soc[k]), SOH: halfPercent(c.soh)})
}

// Status flags in the high nibble of 0x502 byte 0 (see the package doc).
const (
	FlagFault     = 0x1
	FlagBalancing = 0x2
	FlagDiag      = 0x4
	FlagIsolated  = 0x8
)

func (d *Device) statusFlags() uint8 {
	var f uint8
	if d.model.anyDead() || d.model.limited {
		f |= FlagFault
	}
	if d.model.balOn {
		f |= FlagBalancing
	}
	if d.diag {
		f |= FlagDiag
	}
	if d.isolated {
		f |= FlagIsolated
	}
	return f
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// round rounds v to a multiple of step, so encoders never see an in-between value.
func round(v, step float64) float64 { return math.Round(v/step) * step }

func mv(v float64) float64          { return clamp(math.Round(v*1000)/1000, 0, 65.535) }
func degC(t float64) float64        { return clamp(math.Round(t*100)/100, -55.35, 600) }
func halfPercent(p float64) float64 { return clamp(math.Round(p*2)/2, 0, 127.5) }
