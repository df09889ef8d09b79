package pack

import (
	"math"

	"github.com/modbatt/hilrun/legacy"
)

// Limits of the app-bus scalings, so a computed value is clamped into what its field carries
// instead of making the encoder refuse the whole frame.
const (
	maxPackV    = 3276.75 // ×0.05 V
	minPackA    = -1600.0 // ×0.05 − 1600 A
	maxPackA    = 1676.75
	maxPackSOC  = 102.39 // ×0.0015625 %
	maxCellV    = 65.535 // mV in u16
	minPackT    = -273.0 // ×0.03125 − 273 °C
	maxPackT    = 1774.96
	maxPackSOH  = 102.0   // ×0.4 %, 8 bits
	maxHalf     = 127.5   // ×0.5 %, 8 bits
	minModA     = -655.36 // ×0.02 − 655.36 A
	maxModA     = 655.34
	maxModV     = 983.025 // ×0.015 V
	minModT     = -55.35  // ×0.01 − 55.35 °C
	maxModT     = 600.0
	balancedMax = 0.010 // V: cell spread up to which the pack reports itself balanced
)

func clamp(v, lo, hi float64) float64 {
	if math.IsNaN(v) {
		return lo
	}
	return math.Max(lo, math.Min(hi, v))
}

// summary is the pack's view of its active modules.
type summary struct {
	total, active           int
	voltage, current        float64
	soc, soh                float64
	cellHi, cellLo, cellAvg float64
	tHi, tLo, tAvg          float64
	dischargeA, chargeA     float64
	chargeEndV              float64
	fault, balancing        bool
}

// summarise computes the pack values: voltage is the sum of the module voltages (the modules
// are in series) unless the pack measures its HV bus itself; current, SOC and temperatures
// are means over the active modules; SOH is the weakest module's; cell extremes are the
// extremes over all modules, the average cell voltage weighted by cell count; the limits are
// the most restrictive module's, the charge-end voltage the sum.
func (c *core) summarise() summary {
	var s summary
	var cells, nT, nHW int
	first := true
	for _, m := range c.mods {
		if m == nil {
			continue
		}
		s.total++
		if !m.active || m.st1 == nil {
			if m.timeouts > 0 {
				s.fault = true
			}
			continue
		}
		s.active++
		st := m.st1
		s.voltage += st.Voltage
		s.current += st.Current
		s.soc += st.SOC
		if first || st.SOH < s.soh {
			s.soh = st.SOH
		}
		s.fault = s.fault || st.Status&flagFault != 0
		s.balancing = s.balancing || st.Status&flagBalancing != 0
		if m.st2 != nil {
			if cells == 0 || m.st2.MaxCellV > s.cellHi {
				s.cellHi = m.st2.MaxCellV
			}
			if cells == 0 || m.st2.MinCellV < s.cellLo {
				s.cellLo = m.st2.MinCellV
			}
			n := max(int(st.CellCount), 1)
			s.cellAvg += m.st2.AvgCellV * float64(n)
			cells += n
		}
		if m.st3 != nil {
			if nT == 0 || m.st3.MaxTemp > s.tHi {
				s.tHi = m.st3.MaxTemp
			}
			if nT == 0 || m.st3.MinTemp < s.tLo {
				s.tLo = m.st3.MinTemp
			}
			s.tAvg += m.st3.AvgTemp
			nT++
		}
		if m.hw != nil {
			if nHW == 0 || m.hw.MaxDischargeA < s.dischargeA {
				s.dischargeA = m.hw.MaxDischargeA
			}
			if nHW == 0 || m.hw.MaxChargeA < s.chargeA {
				s.chargeA = m.hw.MaxChargeA
			}
			s.chargeEndV += m.hw.MaxChargeEndV
			nHW++
		}
		first = false
	}
	if s.active > 0 {
		s.current /= float64(s.active)
		s.soc /= float64(s.active)
	}
	if cells > 0 {
		s.cellAvg /= float64(cells)
	}
	if nT > 0 {
		s.tAvg /= float64(nT)
	}
	if c.cfg.HVSense != nil {
		if v, ok := c.cfg.HVSense(); ok {
			s.voltage = v
		}
	}
	return s
}

func (c *core) packStatus(s summary) legacy.PackStatus {
	switch {
	case c.target == legacy.StateOff || s.active == 0:
		return legacy.StatusOff
	case s.soc >= 99.5:
		return legacy.StatusFull
	case s.soc <= 0.5:
		return legacy.StatusEmpty
	}
	return legacy.StatusNormal
}

// block sends the app-bus block: 0x410, 0x421, 0x422, 0x423, 0x425, then 0x411–0x416 of the
// next modules in round-robin order.
func (c *core) block(out *output) {
	s := c.summarise()
	c.sendApp(out, &legacy.PackState{State: c.target, SOH: clamp(s.soh, 0, maxPackSOH), Status: c.packStatus(s),
		Balanced: s.active > 0 && s.cellHi-s.cellLo <= balancedMax, Balancing: s.balancing, ModuleFault: s.fault,
		TotalModules: uint8(s.total), ActiveModules: uint8(s.active)})
	c.sendApp(out, &legacy.PackPower{Voltage: clamp(s.voltage, 0, maxPackV), Current: clamp(s.current, minPackA, maxPackA)})
	c.sendApp(out, &legacy.PackCells{SOC: clamp(s.soc, 0, maxPackSOC), High: clamp(s.cellHi, 0, maxCellV),
		Low: clamp(s.cellLo, 0, maxCellV), Avg: clamp(s.cellAvg, 0, maxCellV)})
	c.sendApp(out, &legacy.PackTemps{High: clamp(s.tHi, minPackT, maxPackT), Low: clamp(s.tLo, minPackT, maxPackT),
		Avg: clamp(s.tAvg, minPackT, maxPackT)})
	c.sendApp(out, &legacy.PackLimits{DischargeLimit: clamp(s.dischargeA, minPackA, maxPackA),
		ChargeLimit: clamp(s.chargeA, minPackA, maxPackA), ChargeEndV: clamp(s.chargeEndV, 0, maxPackV)})
	n := c.cfg.ModuleFramesPerBlock
	if n < 0 {
		n = len(c.mods)
	}
	start := int(c.brr)
	for sent, i := 0, 1; sent < n && i <= int(legacy.ModuleLast); i++ {
		id := uint8((start+i-1)%int(legacy.ModuleLast) + 1)
		m := c.mods[id]
		if m == nil || m.st1 == nil {
			continue
		}
		c.brr = id
		sent++
		c.moduleFrames(m, s, out)
	}
}

// moduleFrames sends 0x411–0x416 of one module at the module bus's scalings.
func (c *core) moduleFrames(m *module, s summary, out *output) {
	st := m.st1
	ms := legacy.StatusNormal
	switch {
	case st.State == legacy.StateOff:
		ms = legacy.StatusOff
	case st.SOC >= 99.5:
		ms = legacy.StatusFull
	case st.SOC <= 0.5:
		ms = legacy.StatusEmpty
	}
	state := st.State
	if state > legacy.StateOn {
		state = legacy.StateOff
	}
	ms1 := &legacy.ModuleState{ModuleID: m.id, State: state, SOH: clamp(st.SOH, 0, maxHalf), Status: ms,
		Balancing: st.Status&flagBalancing != 0, FaultCode: st.Status & flagFault, SOC: clamp(st.SOC, 0, maxHalf),
		TotalModules: uint8(s.total), ActiveModules: uint8(s.active), CellCount: st.CellCount}
	if m.st2 != nil {
		ms1.Balanced = m.st2.MaxCellV-m.st2.MinCellV <= balancedMax
	}
	c.sendApp(out, ms1)
	c.sendApp(out, &legacy.ModulePower{ModuleID: m.id, Voltage: clamp(st.Voltage, 0, maxModV), Current: clamp(st.Current, minModA, maxModA)})
	if m.st2 != nil {
		c.sendApp(out, &legacy.ModuleCellVoltages{ModuleID: m.id, High: clamp(m.st2.MaxCellV, 0, maxCellV),
			Low: clamp(m.st2.MinCellV, 0, maxCellV), Avg: clamp(m.st2.AvgCellV, 0, maxCellV)})
	}
	if m.st3 != nil {
		c.sendApp(out, &legacy.ModuleCellTemps{ModuleID: m.id, High: clamp(m.st3.MaxTemp, minModT, maxModT),
			Low: clamp(m.st3.MinTemp, minModT, maxModT), Avg: clamp(m.st3.AvgTemp, minModT, maxModT)})
	}
	// The module bus does not say which cells hold the extremes without a 0x515 sweep, which
	// the pack does not run: 0xFF marks them unknown.
	c.sendApp(out, &legacy.ModuleCellIDs{ModuleID: m.id, MaxVoltCell: 0xFF, MinVoltCell: 0xFF, MaxTempCell: 0xFF, MinTempCell: 0xFF})
	if m.hw != nil {
		c.sendApp(out, &legacy.ModuleLimits{ModuleID: m.id, DischargeLimit: clamp(m.hw.MaxDischargeA, minModA, maxModA),
			ChargeLimit: clamp(m.hw.MaxChargeA, minModA, maxModA), ChargeEndV: clamp(m.hw.MaxChargeEndV, 0, maxModV)})
	}
}
