package legacy

// Module-bus (CAN2) messages. Layouts follow the module firmware's frame structures; bit
// numbers are little-endian across the payload. Module IDs inside payloads name one assigned
// module (0x01–0x1F); the EID's own module field is checked separately by the identifier code.

// Module-bus message identifiers (base IDs).
const (
	IDAnnouncement      MsgID = 0x500
	IDHardware          MsgID = 0x501
	IDStatus1           MsgID = 0x502
	IDStatus2           MsgID = 0x503
	IDStatus3           MsgID = 0x504
	IDCellDetail        MsgID = 0x505
	IDTimeRequest       MsgID = 0x506
	IDCellComm1         MsgID = 0x507
	IDCellComm2         MsgID = 0x508
	IDRegistration      MsgID = 0x510
	IDHardwareRequest   MsgID = 0x511
	IDStatusRequest     MsgID = 0x512
	IDStateChange       MsgID = 0x514
	IDCellDetailRequest MsgID = 0x515
	IDSetTime           MsgID = 0x516
	IDMaxState          MsgID = 0x517
	IDDeregister        MsgID = 0x518
	IDAnnounceRequest   MsgID = 0x51D
	IDAllDeregister     MsgID = 0x51E
	IDAllIsolate        MsgID = 0x51F
)

// Announcement (0x500, M→P, 8 bytes) is sent by an unregistered module (EID module 0xFF).
type Announcement struct {
	FirmwareBuild uint16 // bytes 0–1
	Manufacturer  uint8  // byte 2
	Part          uint8  // byte 3
	UniqueID      uint32 // bytes 4–7
}

var (
	fAnnFirmware = uintField("fw_build", 0, 16)
	fAnnMfg      = hexField("manufacturer", 16, 8)
	fAnnPart     = hexField("part", 24, 8)
	fAnnUID      = hexField("unique_id", 32, 32)
)

func (*Announcement) MsgID() MsgID { return IDAnnouncement }
func (m *Announcement) walk(w walker) {
	w.visit(fAnnFirmware, &m.FirmwareBuild)
	w.visit(fAnnMfg, &m.Manufacturer)
	w.visit(fAnnPart, &m.Part)
	w.visit(fAnnUID, &m.UniqueID)
}

// Hardware (0x501, M→P, 8 bytes): the module's limits.
type Hardware struct {
	MaxChargeA    float64 // bits 0–15, ×0.1 A
	MaxDischargeA float64 // bits 16–31, ×0.1 A
	MaxChargeEndV float64 // bits 32–47, ×0.01 V
	HWVersion     uint16  // bits 48–63
}

var (
	fHwMaxCharge    = phys("max_charge", 0, 16, scaleDeci, "A")
	fHwMaxDischarge = phys("max_discharge", 16, 16, scaleDeci, "A")
	fHwChargeEnd    = phys("max_charge_end", 32, 16, scaleCenti, "V")
	fHwVersion      = uintField("hw_version", 48, 16)
)

func (*Hardware) MsgID() MsgID { return IDHardware }
func (m *Hardware) walk(w walker) {
	w.visit(fHwMaxCharge, &m.MaxChargeA)
	w.visit(fHwMaxDischarge, &m.MaxDischargeA)
	w.visit(fHwChargeEnd, &m.MaxChargeEndV)
	w.visit(fHwVersion, &m.HWVersion)
}

// Status1 (0x502, M→P, 8 bytes).
type Status1 struct {
	State     State   // bits 0–3 (0–3 defined)
	Status    uint8   // bits 4–7
	SOC       float64 // bits 8–15, ×0.5 %
	SOH       float64 // bits 16–23, ×0.5 %
	CellCount uint8   // bits 24–31
	Current   float64 // bits 32–47, ×0.02 − 655.36 A (positive charges)
	Voltage   float64 // bits 48–63, ×0.015 V
}

var (
	fS1State   = stateField("state", 0, 4)
	fS1Status  = uintField("status", 4, 4)
	fS1SOC     = phys("soc", 8, 8, scaleHalf, "%")
	fS1SOH     = phys("soh", 16, 8, scaleHalf, "%")
	fS1Cells   = uintField("cell_count", 24, 8)
	fS1Current = phys("current", 32, 16, scaleA02, "A")
	fS1Voltage = phys("voltage", 48, 16, scaleV015, "V")
)

func (*Status1) MsgID() MsgID { return IDStatus1 }
func (m *Status1) walk(w walker) {
	w.visit(fS1State, &m.State)
	w.visit(fS1Status, &m.Status)
	w.visit(fS1SOC, &m.SOC)
	w.visit(fS1SOH, &m.SOH)
	w.visit(fS1Cells, &m.CellCount)
	w.visit(fS1Current, &m.Current)
	w.visit(fS1Voltage, &m.Voltage)
}

// Status2 (0x503, M→P, 8 bytes): cell voltages in volts (carried as mV).
type Status2 struct {
	MinCellV, MaxCellV, AvgCellV float64 // bits 0–15, 16–31, 32–47, ×0.001 V
	TotalV                       float64 // bits 48–63, ×0.015 V
}

var (
	fS2Min   = phys("min_cell", 0, 16, scaleMilli, "V")
	fS2Max   = phys("max_cell", 16, 16, scaleMilli, "V")
	fS2Avg   = phys("avg_cell", 32, 16, scaleMilli, "V")
	fS2Total = phys("total", 48, 16, scaleV015, "V")
)

func (*Status2) MsgID() MsgID { return IDStatus2 }
func (m *Status2) walk(w walker) {
	w.visit(fS2Min, &m.MinCellV)
	w.visit(fS2Max, &m.MaxCellV)
	w.visit(fS2Avg, &m.AvgCellV)
	w.visit(fS2Total, &m.TotalV)
}

// Status3 (0x504, M→P, 8 bytes, the last 2 unused): temperatures.
type Status3 struct {
	MinTemp, MaxTemp, AvgTemp float64 // bits 0–15, 16–31, 32–47, ×0.01 − 55.35 °C
}

var (
	fS3Min = phys("min_temp", 0, 16, scaleTemp001, "°C")
	fS3Max = phys("max_temp", 16, 16, scaleTemp001, "°C")
	fS3Avg = phys("avg_temp", 32, 16, scaleTemp001, "°C")
)

func (*Status3) MsgID() MsgID { return IDStatus3 }
func (m *Status3) walk(w walker) {
	w.visit(fS3Min, &m.MinTemp)
	w.visit(fS3Max, &m.MaxTemp)
	w.visit(fS3Avg, &m.AvgTemp)
}

// CellDetail (0x505, M→P, 8 bytes): one cell, answering 0x515.
type CellDetail struct {
	CellID    uint8   // byte 0
	CellCount uint8   // byte 1
	Temp      float64 // bits 16–31, ×0.01 − 55.35 °C
	Voltage   float64 // bits 32–47, ×0.001 V
	SOC       float64 // bits 48–55, ×0.5 %
	SOH       float64 // bits 56–63, ×0.5 %
}

var (
	fCDCell    = uintField("cell_id", 0, 8)
	fCDCount   = uintField("cell_count", 8, 8)
	fCDTemp    = phys("temp", 16, 16, scaleTemp001, "°C")
	fCDVoltage = phys("voltage", 32, 16, scaleMilli, "V")
	fCDSOC     = phys("soc", 48, 8, scaleHalf, "%")
	fCDSOH     = phys("soh", 56, 8, scaleHalf, "%")
)

func (*CellDetail) MsgID() MsgID { return IDCellDetail }
func (m *CellDetail) walk(w walker) {
	w.visit(fCDCell, &m.CellID)
	w.visit(fCDCount, &m.CellCount)
	w.visit(fCDTemp, &m.Temp)
	w.visit(fCDVoltage, &m.Voltage)
	w.visit(fCDSOC, &m.SOC)
	w.visit(fCDSOH, &m.SOH)
}

// TimeRequest (0x506, M→P, empty): the module asks for 0x516.
type TimeRequest struct{}

func (*TimeRequest) MsgID() MsgID { return IDTimeRequest }
func (*TimeRequest) walk(walker)  {}

// CellComm1 (0x507, M→P, 8 bytes, the last 2 unused): health of the cell UART chain.
type CellComm1 struct {
	FewestCellMsgs uint8  // byte 0: fewest messages from any cell (0xFF: none received)
	MostCellMsgs   uint8  // byte 1: most messages from any cell (0x00: none received)
	I2CErrors      uint16 // bytes 2–3: cells reporting an I2C fault
	FramingErrors  uint8  // byte 4: framing errors seen on the chain
	FirstI2CFault  uint8  // byte 5: first cell reporting an I2C fault (0xFF: none)
}

var (
	fCC1Fewest  = uintField("fewest_cell_msgs", 0, 8)
	fCC1Most    = uintField("most_cell_msgs", 8, 8)
	fCC1I2C     = uintField("i2c_errors", 16, 16)
	fCC1Framing = uintField("framing_errors", 32, 8)
	fCC1First   = uintField("first_i2c_fault_cell", 40, 8)
)

func (*CellComm1) MsgID() MsgID { return IDCellComm1 }
func (m *CellComm1) walk(w walker) {
	w.visit(fCC1Fewest, &m.FewestCellMsgs)
	w.visit(fCC1Most, &m.MostCellMsgs)
	w.visit(fCC1I2C, &m.I2CErrors)
	w.visit(fCC1Framing, &m.FramingErrors)
	w.visit(fCC1First, &m.FirstI2CFault)
}

// CellComm2 (0x508, M→P, 8 bytes, the last unused). The upstream tables name this frame
// without a layout; hilrun defines it as these counters of the cell UART chain.
type CellComm2 struct {
	Timeouts       uint16 // bytes 0–1: chain reads that ended before every cell answered
	ChecksumErrors uint16 // bytes 2–3: cell messages with a bad checksum
	Overruns       uint16 // bytes 4–5: receive-buffer overruns
	Responding     uint8  // byte 6: cells that answered the last read
}

var (
	fCC2Timeouts = uintField("timeouts", 0, 16)
	fCC2Checksum = uintField("checksum_errors", 16, 16)
	fCC2Overruns = uintField("overruns", 32, 16)
	fCC2Resp     = uintField("responding_cells", 48, 8)
)

func (*CellComm2) MsgID() MsgID { return IDCellComm2 }
func (m *CellComm2) walk(w walker) {
	w.visit(fCC2Timeouts, &m.Timeouts)
	w.visit(fCC2Checksum, &m.ChecksumErrors)
	w.visit(fCC2Overruns, &m.Overruns)
	w.visit(fCC2Resp, &m.Responding)
}

// Registration (0x510, P→M, 8 bytes, to EID module 0xFF). A module accepts it only when
// manufacturer, part and unique ID match its own.
type Registration struct {
	ModuleID     uint8  // byte 0: assigned ID, 0x01–0x1F
	ControllerID uint8  // byte 1
	Manufacturer uint8  // byte 2
	Part         uint8  // byte 3
	UniqueID     uint32 // bytes 4–7
}

var (
	fRegModule = moduleIDField("module_id", 0, false)
	fRegCtrl   = uintField("controller_id", 8, 8)
	fRegMfg    = hexField("manufacturer", 16, 8)
	fRegPart   = hexField("part", 24, 8)
	fRegUID    = hexField("unique_id", 32, 32)
)

func (*Registration) MsgID() MsgID { return IDRegistration }
func (m *Registration) walk(w walker) {
	w.visit(fRegModule, &m.ModuleID)
	w.visit(fRegCtrl, &m.ControllerID)
	w.visit(fRegMfg, &m.Manufacturer)
	w.visit(fRegPart, &m.Part)
	w.visit(fRegUID, &m.UniqueID)
}

var fReqModule = moduleIDField("module_id", 0, false)

// HardwareRequest (0x511, P→M, 1 byte): asks for 0x501.
type HardwareRequest struct{ ModuleID uint8 }

func (*HardwareRequest) MsgID() MsgID    { return IDHardwareRequest }
func (m *HardwareRequest) walk(w walker) { w.visit(fReqModule, &m.ModuleID) }

// StatusRequest (0x512, P→M, 1 byte): asks for 0x502, 0x503, 0x504, 0x507.
type StatusRequest struct{ ModuleID uint8 }

func (*StatusRequest) MsgID() MsgID    { return IDStatusRequest }
func (m *StatusRequest) walk(w walker) { w.visit(fReqModule, &m.ModuleID) }

// CellDetailRequest (0x515, P→M, 8 bytes, the last 6 unused): asks for 0x505 of one cell.
type CellDetailRequest struct {
	ModuleID uint8 // byte 0
	CellID   uint8 // byte 1
}

var fCDRCell = uintField("cell_id", 8, 8)

func (*CellDetailRequest) MsgID() MsgID { return IDCellDetailRequest }
func (m *CellDetailRequest) walk(w walker) {
	w.visit(fReqModule, &m.ModuleID)
	w.visit(fCDRCell, &m.CellID)
}

// StateChange (0x514, P→M, 4 bytes).
type StateChange struct {
	ModuleID uint8   // byte 0
	State    State   // low nibble of byte 1; the high nibble is unused
	HVBusV   float64 // bytes 2–3, ×0.1 V
}

var (
	fSCState = stateField("state", 8, 4)
	fSCHV    = phys("hv_bus", 16, 16, scaleDeci, "V")
)

func (*StateChange) MsgID() MsgID { return IDStateChange }
func (m *StateChange) walk(w walker) {
	w.visit(fReqModule, &m.ModuleID)
	w.visit(fSCState, &m.State)
	w.visit(fSCHV, &m.HVBusV)
}

// SetTime (0x516, P→M, 5 bytes).
type SetTime struct {
	Marker uint8  // byte 0
	Epoch  uint32 // bytes 1–4: seconds since 1970
}

var (
	fSTMarker = hexField("marker", 0, 8)
	fSTEpoch  = uintField("epoch", 8, 32)
)

func (*SetTime) MsgID() MsgID { return IDSetTime }
func (m *SetTime) walk(w walker) {
	w.visit(fSTMarker, &m.Marker)
	w.visit(fSTEpoch, &m.Epoch)
}

// MaxState (0x517, P→M, 1 byte, to EID module 0x00 every 200 ms): the highest state any module
// may be in.
type MaxState struct{ State State } // low nibble of byte 0

var fMSState = stateField("max_state", 0, 4)

func (*MaxState) MsgID() MsgID    { return IDMaxState }
func (m *MaxState) walk(w walker) { w.visit(fMSState, &m.State) }

var fReason = uintField("reason", 0, 8)

// Deregister (0x518, P→M, 2 bytes).
type Deregister struct {
	ModuleID uint8 // byte 0
	Reason   uint8 // byte 1
}

var fDeregReason = uintField("reason", 8, 8)

func (*Deregister) MsgID() MsgID { return IDDeregister }
func (m *Deregister) walk(w walker) {
	w.visit(fReqModule, &m.ModuleID)
	w.visit(fDeregReason, &m.Reason)
}

// AnnounceRequest (0x51D, P→M, 1 byte, to EID module 0xFF every 10 s).
type AnnounceRequest struct{ RequestType uint8 }

var fARType = uintField("request_type", 0, 8)

func (*AnnounceRequest) MsgID() MsgID    { return IDAnnounceRequest }
func (m *AnnounceRequest) walk(w walker) { w.visit(fARType, &m.RequestType) }

// AllDeregister (0x51E, P→M, 1 byte, to EID module 0x00).
type AllDeregister struct{ Reason uint8 }

func (*AllDeregister) MsgID() MsgID    { return IDAllDeregister }
func (m *AllDeregister) walk(w walker) { w.visit(fReason, &m.Reason) }

// AllIsolate (0x51F, P→M, 1 byte, to EID module 0x00): every module opens its relays.
type AllIsolate struct{ Reason uint8 }

func (*AllIsolate) MsgID() MsgID    { return IDAllIsolate }
func (m *AllIsolate) walk(w walker) { w.visit(fReason, &m.Reason) }
