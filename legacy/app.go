package legacy

import (
	"strconv"
	"strings"
)

// App-bus (CAN1) messages, identified by their pack-0 identifier; pack 1 adds 0x100 on the wire.

const (
	IDAppCommand         MsgID = 0x400
	IDAppTime            MsgID = 0x401
	IDModuleCommand      MsgID = 0x404
	IDKeepAlive          MsgID = 0x405
	IDModuleListRequest  MsgID = 0x406
	IDPackState          MsgID = 0x410
	IDModuleState        MsgID = 0x411
	IDModulePower        MsgID = 0x412
	IDModuleCellVoltages MsgID = 0x413
	IDModuleCellTemps    MsgID = 0x414
	IDModuleCellIDs      MsgID = 0x415
	IDModuleLimits       MsgID = 0x416
	IDModuleList         MsgID = 0x41F
	IDPackPower          MsgID = 0x421
	IDPackCells          MsgID = 0x422
	IDPackTemps          MsgID = 0x423
	IDPackLimits         MsgID = 0x425
)

// Controls is the control block of 0x400 and, shifted by one byte, of 0x404.
type Controls struct {
	Contactor State   // bits 0–1
	Balance   uint8   // bits 2–3: cell-balance control
	Isolation uint8   // bits 4–5: active-isolation enable
	HVBusV    float64 // bits 16–31, ×0.015 V
}

func controlFields(shift uint8) [4]*field {
	return [4]*field{
		stateField("contactor", shift, 2),
		uintField("balance", shift+2, 2),
		uintField("isolation", shift+4, 2),
		phys("hv_bus", shift+16, 16, scaleV015, "V"),
	}
}

var (
	fAppCtl = controlFields(0)
	fModCtl = controlFields(8)
)

func (c *Controls) walk(w walker, f [4]*field) {
	w.visit(f[0], &c.Contactor)
	w.visit(f[1], &c.Balance)
	w.visit(f[2], &c.Isolation)
	w.visit(f[3], &c.HVBusV)
}

// AppCommand (0x400, A→P, 8 bytes): the app's requested pack state, every 250 ms.
type AppCommand struct{ Controls }

func (*AppCommand) MsgID() MsgID    { return IDAppCommand }
func (m *AppCommand) walk(w walker) { m.Controls.walk(w, fAppCtl) }

// AppTime (0x401, A→P, 8 bytes).
type AppTime struct{ Epoch uint64 } // seconds since 1970

var fATEpoch = uintField("epoch", 0, 64)

func (*AppTime) MsgID() MsgID    { return IDAppTime }
func (m *AppTime) walk(w walker) { w.visit(fATEpoch, &m.Epoch) }

// ModuleCommand (0x404, A→P, 8 bytes): byte 0 module ID (0x00 all), then the 0x400 controls
// shifted by 8 bits (contactor bits 8–9 … HV bus voltage bits 24–39).
type ModuleCommand struct {
	ModuleID uint8
	Controls
}

var fAppModuleAny = moduleIDField("module_id", 0, true)

func (*ModuleCommand) MsgID() MsgID { return IDModuleCommand }
func (m *ModuleCommand) walk(w walker) {
	w.visit(fAppModuleAny, &m.ModuleID)
	m.Controls.walk(w, fModCtl)
}

// KeepAlive (0x405, A→P, 8 bytes): byte 0 module ID (0x00 when not about one module).
type KeepAlive struct{ ModuleID uint8 }

func (*KeepAlive) MsgID() MsgID    { return IDKeepAlive }
func (m *KeepAlive) walk(w walker) { w.visit(fAppModuleAny, &m.ModuleID) }

// ModuleListRequest (0x406, A→P, 8 unused bytes): asks for 0x41F.
type ModuleListRequest struct{}

func (*ModuleListRequest) MsgID() MsgID { return IDModuleListRequest }
func (*ModuleListRequest) walk(walker)  {}

// ModuleList (0x41F, P→A, 8 bytes): bit n (little-endian numbering) set = module ID n registered.
type ModuleList struct{ Modules uint64 }

var fMLBits = &field{name: "modules", start: 0, size: 64, text: func(raw uint64) string {
	var ids []string
	for i := 0; i < 64; i++ {
		if raw&(1<<i) != 0 {
			ids = append(ids, strconv.Itoa(i))
		}
	}
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ",")
}}

func (*ModuleList) MsgID() MsgID    { return IDModuleList }
func (m *ModuleList) walk(w walker) { w.visit(fMLBits, &m.Modules) }

// Has reports whether module id is in the list.
func (m *ModuleList) Has(id uint8) bool { return id < 64 && m.Modules&(1<<id) != 0 }

// Set adds module id to the list (ids ≥ 64 are ignored).
func (m *ModuleList) Set(id uint8) {
	if id < 64 {
		m.Modules |= 1 << id
	}
}

// PackState (0x410, P→A, 8 bytes, the last 4 unused).
type PackState struct {
	State         State      // bits 0–1
	SOH           float64    // bits 2–9, ×0.4 %
	Status        PackStatus // bits 10–11
	Balanced      bool       // bit 12
	Balancing     bool       // bit 13
	ModuleFault   bool       // bit 14
	TotalModules  uint8      // bits 16–23
	ActiveModules uint8      // bits 24–31
}

func statusField(name string, start uint8) *field {
	return &field{name: name, start: start, size: 2,
		text: func(raw uint64) string { return PackStatus(raw).String() }}
}

var (
	fPSState     = stateField("state", 0, 2)
	fPSSOH       = phys("soh", 2, 8, scaleSOH04, "%")
	fPSStatus    = statusField("status", 10)
	fPSBalanced  = flagField("balanced", 12)
	fPSBalancing = flagField("balancing", 13)
	fPSFault     = flagField("module_fault", 14)
	fPSTotal     = uintField("total_modules", 16, 8)
	fPSActive    = uintField("active_modules", 24, 8)
)

func (*PackState) MsgID() MsgID { return IDPackState }
func (m *PackState) walk(w walker) {
	w.visit(fPSState, &m.State)
	w.visit(fPSSOH, &m.SOH)
	w.visit(fPSStatus, &m.Status)
	w.visit(fPSBalanced, &m.Balanced)
	w.visit(fPSBalancing, &m.Balancing)
	w.visit(fPSFault, &m.ModuleFault)
	w.visit(fPSTotal, &m.TotalModules)
	w.visit(fPSActive, &m.ActiveModules)
}

var fAppModule = moduleIDField("module_id", 0, false)

// ModuleState (0x411, P→A, 8 bytes): one module's state as the pack sees it.
type ModuleState struct {
	ModuleID      uint8      // bits 0–7
	State         State      // bits 8–9
	SOH           float64    // bits 10–17, ×0.5 %
	Status        PackStatus // bits 18–19
	Balanced      bool       // bit 20
	Balancing     bool       // bit 21
	FaultCode     uint8      // bits 22–29
	SOC           float64    // bits 32–39, ×0.5 %
	TotalModules  uint8      // bits 40–47
	ActiveModules uint8      // bits 48–55
	CellCount     uint8      // bits 56–63
}

var (
	fMSTState     = stateField("state", 8, 2)
	fMSTSOH       = phys("soh", 10, 8, scaleHalf, "%")
	fMSTStatus    = statusField("status", 18)
	fMSTBalanced  = flagField("balanced", 20)
	fMSTBalancing = flagField("balancing", 21)
	fMSTFault     = uintField("fault_code", 22, 8)
	fMSTSOC       = phys("soc", 32, 8, scaleHalf, "%")
	fMSTTotal     = uintField("total_modules", 40, 8)
	fMSTActive    = uintField("active_modules", 48, 8)
	fMSTCells     = uintField("cell_count", 56, 8)
)

func (*ModuleState) MsgID() MsgID { return IDModuleState }
func (m *ModuleState) walk(w walker) {
	w.visit(fAppModule, &m.ModuleID)
	w.visit(fMSTState, &m.State)
	w.visit(fMSTSOH, &m.SOH)
	w.visit(fMSTStatus, &m.Status)
	w.visit(fMSTBalanced, &m.Balanced)
	w.visit(fMSTBalancing, &m.Balancing)
	w.visit(fMSTFault, &m.FaultCode)
	w.visit(fMSTSOC, &m.SOC)
	w.visit(fMSTTotal, &m.TotalModules)
	w.visit(fMSTActive, &m.ActiveModules)
	w.visit(fMSTCells, &m.CellCount)
}

// ModulePower (0x412, P→A, 8 bytes, the last 3 unused).
type ModulePower struct {
	ModuleID uint8   // bits 0–7
	Voltage  float64 // bits 8–23, ×0.015 V
	Current  float64 // bits 24–39, ×0.02 − 655.36 A
}

var (
	fMPVoltage = phys("voltage", 8, 16, scaleV015, "V")
	fMPCurrent = phys("current", 24, 16, scaleA02, "A")
)

func (*ModulePower) MsgID() MsgID { return IDModulePower }
func (m *ModulePower) walk(w walker) {
	w.visit(fAppModule, &m.ModuleID)
	w.visit(fMPVoltage, &m.Voltage)
	w.visit(fMPCurrent, &m.Current)
}

// ModuleCellVoltages (0x413, P→A, 8 bytes, the last unused).
type ModuleCellVoltages struct {
	ModuleID       uint8   // bits 0–7
	High, Low, Avg float64 // bits 8–23, 24–39, 40–55, ×0.001 V
}

var (
	fMCVHigh = phys("high_cell", 8, 16, scaleMilli, "V")
	fMCVLow  = phys("low_cell", 24, 16, scaleMilli, "V")
	fMCVAvg  = phys("avg_cell", 40, 16, scaleMilli, "V")
)

func (*ModuleCellVoltages) MsgID() MsgID { return IDModuleCellVoltages }
func (m *ModuleCellVoltages) walk(w walker) {
	w.visit(fAppModule, &m.ModuleID)
	w.visit(fMCVHigh, &m.High)
	w.visit(fMCVLow, &m.Low)
	w.visit(fMCVAvg, &m.Avg)
}

// ModuleCellTemps (0x414, P→A, 8 bytes, the last unused).
type ModuleCellTemps struct {
	ModuleID       uint8   // bits 0–7
	High, Low, Avg float64 // bits 8–23, 24–39, 40–55, ×0.01 − 55.35 °C
}

var (
	fMCTHigh = phys("high_temp", 8, 16, scaleTemp001, "°C")
	fMCTLow  = phys("low_temp", 24, 16, scaleTemp001, "°C")
	fMCTAvg  = phys("avg_temp", 40, 16, scaleTemp001, "°C")
)

func (*ModuleCellTemps) MsgID() MsgID { return IDModuleCellTemps }
func (m *ModuleCellTemps) walk(w walker) {
	w.visit(fAppModule, &m.ModuleID)
	w.visit(fMCTHigh, &m.High)
	w.visit(fMCTLow, &m.Low)
	w.visit(fMCTAvg, &m.Avg)
}

// ModuleCellIDs (0x415, P→A, 8 bytes, the last 3 unused): which cells hold the extremes.
type ModuleCellIDs struct {
	ModuleID    uint8 // byte 0
	MaxVoltCell uint8 // byte 1
	MinVoltCell uint8 // byte 2
	MaxTempCell uint8 // byte 3
	MinTempCell uint8 // byte 4
}

var (
	fMCIMaxV = uintField("max_volt_cell", 8, 8)
	fMCIMinV = uintField("min_volt_cell", 16, 8)
	fMCIMaxT = uintField("max_temp_cell", 24, 8)
	fMCIMinT = uintField("min_temp_cell", 32, 8)
)

func (*ModuleCellIDs) MsgID() MsgID { return IDModuleCellIDs }
func (m *ModuleCellIDs) walk(w walker) {
	w.visit(fAppModule, &m.ModuleID)
	w.visit(fMCIMaxV, &m.MaxVoltCell)
	w.visit(fMCIMinV, &m.MinVoltCell)
	w.visit(fMCIMaxT, &m.MaxTempCell)
	w.visit(fMCIMinT, &m.MinTempCell)
}

// ModuleLimits (0x416, P→A, 8 bytes, the last unused).
type ModuleLimits struct {
	ModuleID       uint8   // bits 0–7
	DischargeLimit float64 // bits 8–23, ×0.02 − 655.36 A
	ChargeLimit    float64 // bits 24–39, ×0.02 − 655.36 A
	ChargeEndV     float64 // bits 40–55, ×0.015 V
}

var (
	fMLDischarge = phys("discharge_limit", 8, 16, scaleA02, "A")
	fMLCharge    = phys("charge_limit", 24, 16, scaleA02, "A")
	fMLChargeEnd = phys("charge_end", 40, 16, scaleV015, "V")
)

func (*ModuleLimits) MsgID() MsgID { return IDModuleLimits }
func (m *ModuleLimits) walk(w walker) {
	w.visit(fAppModule, &m.ModuleID)
	w.visit(fMLDischarge, &m.DischargeLimit)
	w.visit(fMLCharge, &m.ChargeLimit)
	w.visit(fMLChargeEnd, &m.ChargeEndV)
}

// PackPower (0x421, P→A, 8 bytes, the first 4 unused).
type PackPower struct {
	Voltage float64 // bits 32–47, ×0.05 V
	Current float64 // bits 48–63, ×0.05 − 1600 A
}

var (
	fPPVoltage = phys("voltage", 32, 16, scaleV05, "V")
	fPPCurrent = phys("current", 48, 16, scaleA05, "A")
)

func (*PackPower) MsgID() MsgID { return IDPackPower }
func (m *PackPower) walk(w walker) {
	w.visit(fPPVoltage, &m.Voltage)
	w.visit(fPPCurrent, &m.Current)
}

// PackCells (0x422, P→A, 8 bytes).
type PackCells struct {
	SOC            float64 // bits 0–15, ×0.0015625 %
	High, Low, Avg float64 // bits 16–31, 32–47, 48–63, ×0.001 V
}

var (
	fPCSOC  = phys("soc", 0, 16, scaleSOCPack, "%")
	fPCHigh = phys("high_cell", 16, 16, scaleMilli, "V")
	fPCLow  = phys("low_cell", 32, 16, scaleMilli, "V")
	fPCAvg  = phys("avg_cell", 48, 16, scaleMilli, "V")
)

func (*PackCells) MsgID() MsgID { return IDPackCells }
func (m *PackCells) walk(w walker) {
	w.visit(fPCSOC, &m.SOC)
	w.visit(fPCHigh, &m.High)
	w.visit(fPCLow, &m.Low)
	w.visit(fPCAvg, &m.Avg)
}

// PackTemps (0x423, P→A, 8 bytes, the last 2 unused).
type PackTemps struct {
	High, Low, Avg float64 // bits 0–15, 16–31, 32–47, ×0.03125 − 273 °C
}

var (
	fPTHigh = phys("high_temp", 0, 16, scaleTempPack, "°C")
	fPTLow  = phys("low_temp", 16, 16, scaleTempPack, "°C")
	fPTAvg  = phys("avg_temp", 32, 16, scaleTempPack, "°C")
)

func (*PackTemps) MsgID() MsgID { return IDPackTemps }
func (m *PackTemps) walk(w walker) {
	w.visit(fPTHigh, &m.High)
	w.visit(fPTLow, &m.Low)
	w.visit(fPTAvg, &m.Avg)
}

// PackLimits (0x425, P→A, 8 bytes, the last 2 unused).
type PackLimits struct {
	DischargeLimit float64 // bits 0–15, ×0.05 − 1600 A
	ChargeLimit    float64 // bits 16–31, ×0.05 − 1600 A
	ChargeEndV     float64 // bits 32–47, ×0.05 V
}

var (
	fPLDischarge = phys("discharge_limit", 0, 16, scaleA05, "A")
	fPLCharge    = phys("charge_limit", 16, 16, scaleA05, "A")
	fPLChargeEnd = phys("charge_end", 32, 16, scaleV05, "V")
)

func (*PackLimits) MsgID() MsgID { return IDPackLimits }
func (m *PackLimits) walk(w walker) {
	w.visit(fPLDischarge, &m.DischargeLimit)
	w.visit(fPLCharge, &m.ChargeLimit)
	w.visit(fPLChargeEnd, &m.ChargeEndV)
}
