package legacy

import (
	"fmt"

	"github.com/modbatt/hilrun/bus"
)

// Message is one legacy message payload. The concrete types are pointers to the structs in this
// package (*Status1, *PackPower …); their fields hold engineering units.
type Message interface {
	MsgID() MsgID
	walk(w walker)
}

// spec is what the codec knows about a message besides its fields.
type spec struct {
	name   string
	dir    Direction
	encLen int // bytes an encoder writes (the firmware's frame length)
	minLen int // bytes a decoder needs (the last defined field's end)
	make   func() Message
}

// specs lists every defined message. It is never written after initialisation.
var specs = map[MsgID]spec{
	IDAnnouncement:      {"announcement", ModuleToPack, 8, 8, func() Message { return new(Announcement) }},
	IDHardware:          {"hardware", ModuleToPack, 8, 8, func() Message { return new(Hardware) }},
	IDStatus1:           {"status1", ModuleToPack, 8, 8, func() Message { return new(Status1) }},
	IDStatus2:           {"status2", ModuleToPack, 8, 8, func() Message { return new(Status2) }},
	IDStatus3:           {"status3", ModuleToPack, 8, 6, func() Message { return new(Status3) }},
	IDCellDetail:        {"cell_detail", ModuleToPack, 8, 8, func() Message { return new(CellDetail) }},
	IDTimeRequest:       {"time_request", ModuleToPack, 0, 0, func() Message { return new(TimeRequest) }},
	IDCellComm1:         {"cell_comm1", ModuleToPack, 8, 6, func() Message { return new(CellComm1) }},
	IDCellComm2:         {"cell_comm2", ModuleToPack, 8, 7, func() Message { return new(CellComm2) }},
	IDRegistration:      {"registration", PackToModule, 8, 8, func() Message { return new(Registration) }},
	IDHardwareRequest:   {"hardware_request", PackToModule, 1, 1, func() Message { return new(HardwareRequest) }},
	IDStatusRequest:     {"status_request", PackToModule, 1, 1, func() Message { return new(StatusRequest) }},
	IDStateChange:       {"state_change", PackToModule, 4, 4, func() Message { return new(StateChange) }},
	IDCellDetailRequest: {"cell_detail_request", PackToModule, 8, 2, func() Message { return new(CellDetailRequest) }},
	IDSetTime:           {"set_time", PackToModule, 5, 5, func() Message { return new(SetTime) }},
	IDMaxState:          {"max_state", PackToModule, 1, 1, func() Message { return new(MaxState) }},
	IDDeregister:        {"deregister", PackToModule, 2, 2, func() Message { return new(Deregister) }},
	IDAnnounceRequest:   {"announce_request", PackToModule, 1, 1, func() Message { return new(AnnounceRequest) }},
	IDAllDeregister:     {"all_deregister", PackToModule, 1, 1, func() Message { return new(AllDeregister) }},
	IDAllIsolate:        {"all_isolate", PackToModule, 1, 1, func() Message { return new(AllIsolate) }},

	IDAppCommand:         {"app_command", AppToPack, 8, 4, func() Message { return new(AppCommand) }},
	IDAppTime:            {"app_time", AppToPack, 8, 8, func() Message { return new(AppTime) }},
	IDModuleCommand:      {"module_command", AppToPack, 8, 5, func() Message { return new(ModuleCommand) }},
	IDKeepAlive:          {"keep_alive", AppToPack, 8, 1, func() Message { return new(KeepAlive) }},
	IDModuleListRequest:  {"module_list_request", AppToPack, 8, 0, func() Message { return new(ModuleListRequest) }},
	IDPackState:          {"pack_state", PackToApp, 8, 4, func() Message { return new(PackState) }},
	IDModuleState:        {"module_state", PackToApp, 8, 8, func() Message { return new(ModuleState) }},
	IDModulePower:        {"module_power", PackToApp, 8, 5, func() Message { return new(ModulePower) }},
	IDModuleCellVoltages: {"module_cell_voltages", PackToApp, 8, 7, func() Message { return new(ModuleCellVoltages) }},
	IDModuleCellTemps:    {"module_cell_temps", PackToApp, 8, 7, func() Message { return new(ModuleCellTemps) }},
	IDModuleCellIDs:      {"module_cell_ids", PackToApp, 8, 5, func() Message { return new(ModuleCellIDs) }},
	IDModuleLimits:       {"module_limits", PackToApp, 8, 7, func() Message { return new(ModuleLimits) }},
	IDModuleList:         {"module_list", PackToApp, 8, 8, func() Message { return new(ModuleList) }},
	IDPackPower:          {"pack_power", PackToApp, 8, 8, func() Message { return new(PackPower) }},
	IDPackCells:          {"pack_cells", PackToApp, 8, 8, func() Message { return new(PackCells) }},
	IDPackTemps:          {"pack_temps", PackToApp, 8, 6, func() Message { return new(PackTemps) }},
	IDPackLimits:         {"pack_limits", PackToApp, 8, 6, func() Message { return new(PackLimits) }},
}

// MsgIDs returns every defined message identifier in ascending order.
func MsgIDs() []MsgID {
	ids := make([]MsgID, 0, len(specs))
	for id := MsgID(AppFirst); id <= MsgID(BaseLast); id++ {
		if _, ok := specs[id]; ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// New returns a zero message of the given identifier.
func New(id MsgID) (Message, error) {
	s, ok := specs[id]
	if !ok {
		return nil, &IDError{ID: uint32(id), Extended: id.Bus() == BusModule, Err: ErrUnknownMessage}
	}
	return s.make(), nil
}

// Direction returns who sends the message (zero for an undefined identifier).
func (id MsgID) Direction() Direction { return specs[id].dir }

// MarshalPayload encodes m into the payload the firmware sends for it.
func MarshalPayload(m Message) ([]byte, error) {
	s, ok := specs[m.MsgID()]
	if !ok {
		return nil, &IDError{ID: uint32(m.MsgID()), Err: ErrUnknownMessage}
	}
	e := encoder{msg: s.name}
	m.walk(&e)
	if e.err != nil {
		return nil, e.err
	}
	return storeBits(e.bits, s.encLen), nil
}

// UnmarshalPayload decodes the payload of message id. Bytes beyond the last defined field
// (padding up to 8) are ignored; a payload shorter than the defined fields is an error.
func UnmarshalPayload(id MsgID, p []byte) (Message, error) {
	s, ok := specs[id]
	if !ok {
		return nil, &IDError{ID: uint32(id), Extended: id.Bus() == BusModule, Err: ErrUnknownMessage}
	}
	if len(p) < s.minLen || len(p) > bus.MaxClassicLen {
		return nil, &LengthError{Message: s.name, Got: len(p), Min: s.minLen}
	}
	m := s.make()
	d := decoder{msg: s.name, bits: loadBits(p)}
	m.walk(&d)
	if d.err != nil {
		return nil, d.err
	}
	return m, nil
}

// EncodeModule builds the CAN2 frame of a module-bus message with EID module ID and sequence.
func EncodeModule(m Message, moduleID uint8, seq uint16) (bus.Frame, error) {
	if m.MsgID().Bus() != BusModule {
		return bus.Frame{}, fmt.Errorf("%s: %w", m.MsgID(), ErrWrongBus)
	}
	id, err := ModuleBusID(m.MsgID(), moduleID, seq)
	if err != nil {
		return bus.Frame{}, err
	}
	return frameOf(m, id, true)
}

// EncodeApp builds the CAN1 frame of an app-bus message for pack 0 or 1.
func EncodeApp(m Message, pack uint8) (bus.Frame, error) {
	if m.MsgID().Bus() != BusApp {
		return bus.Frame{}, fmt.Errorf("%s: %w", m.MsgID(), ErrWrongBus)
	}
	id, err := AppBusID(m.MsgID(), pack)
	if err != nil {
		return bus.Frame{}, err
	}
	return frameOf(m, uint32(id), false)
}

func frameOf(m Message, id uint32, extended bool) (bus.Frame, error) {
	p, err := MarshalPayload(m)
	if err != nil {
		return bus.Frame{}, err
	}
	f := bus.Frame{ID: id, Extended: extended, Len: uint8(len(p))}
	copy(f.Data[:], p)
	return f, nil
}

// Decoded is a legacy frame taken apart.
type Decoded struct {
	Msg      Message
	Bus      Bus
	ModuleID uint8  // module bus: the EID's module field
	Seq      uint16 // module bus: the EID's sequence field
	Pack     uint8  // app bus: 0 or 1
}

// Decode parses a legacy frame from either bus: 29-bit frames as module-bus traffic, 11-bit
// frames as app-bus traffic. Errors are *IDError, *LengthError or *ValueError, or wrap
// ErrFrameKind for remote and CAN FD frames.
func Decode(f bus.Frame) (Decoded, error) {
	var d Decoded
	if err := f.Validate(); err != nil {
		return d, fmt.Errorf("%w: %w", ErrFrameKind, err)
	}
	if f.Remote || f.FD {
		return d, fmt.Errorf("%w: remote or CAN FD frame (id 0x%X)", ErrFrameKind, f.ID)
	}
	var id MsgID
	if f.Extended {
		base, mod, seq, err := SplitModuleBusID(f.ID)
		if err != nil {
			return d, err
		}
		id, d.Bus, d.ModuleID, d.Seq = base, BusModule, mod, seq
	} else {
		app, pack, err := SplitAppBusID(f.ID)
		if err != nil {
			return d, err
		}
		id, d.Bus, d.Pack = app, BusApp, pack
	}
	if _, ok := specs[id]; !ok {
		return d, &IDError{ID: f.ID, Extended: f.Extended, Err: ErrUnknownMessage}
	}
	m, err := UnmarshalPayload(id, f.Payload())
	if err != nil {
		return d, err
	}
	d.Msg = m
	return d, nil
}
