package message

import (
	"crypto/sha256"
	"fmt"
	"time"
)

// CommandCode is an L5 paired command.
type CommandCode uint8

const (
	CmdChargeDischarge  CommandCode = 1 // enable charge/discharge with current limits
	CmdSafetyLimits     CommandCode = 2 // configure cell voltage, temperature and current limits
	CmdCellBalancing    CommandCode = 3 // start or stop balancing towards a target voltage
	CmdDiagnosticMode   CommandCode = 4 // enter or leave diagnostic mode
	CmdEmergencyIsolate CommandCode = 5 // open the contactors now (message type emergency)
)

func (c CommandCode) String() string {
	switch c {
	case CmdChargeDischarge:
		return "charge-discharge"
	case CmdSafetyLimits:
		return "safety-limits"
	case CmdCellBalancing:
		return "cell-balancing"
	case CmdDiagnosticMode:
		return "diagnostic-mode"
	case CmdEmergencyIsolate:
		return "emergency-isolate"
	}
	return fmt.Sprintf("command-%d", uint8(c))
}

// Class is the policy class the command belongs to.
func (c CommandCode) Class() Class {
	switch c {
	case CmdSafetyLimits:
		return ClassControl
	case CmdEmergencyIsolate:
		return ClassEmergency
	}
	return ClassCommand
}

// MaxBalanceMask is the size of the cell mask: one bit per cell, 94 cells today, 96 bits.
const MaxBalanceMask = 12

// Command is an L5 paired command, protected by the channel's AEAD under the sender's
// pairing key. Only the fields of its code may be present; all of those are required except
// BalanceMask.
type Command struct {
	V        uint8       `cbor:"0,keyasint"`
	Code     CommandCode `cbor:"1,keyasint"`
	Seq      uint32      `cbor:"2,keyasint"` // sender's command sequence; the ACK echoes it
	IssuedAt int64       `cbor:"3,keyasint"`
	Target   uint8       `cbor:"4,keyasint"` // node address; 0 = every module behind the pack

	// CmdChargeDischarge. Limits in units of 0.1 A.
	ChargeEnable    *bool   `cbor:"10,keyasint,omitempty"`
	DischargeEnable *bool   `cbor:"11,keyasint,omitempty"`
	ChargeLimit     *uint16 `cbor:"12,keyasint,omitempty"`
	DischargeLimit  *uint16 `cbor:"13,keyasint,omitempty"`

	// CmdSafetyLimits. Cell voltages in mV, temperatures in 0.1 °C, current in 0.1 A.
	CellMaxMV  *uint16 `cbor:"20,keyasint,omitempty"`
	CellMinMV  *uint16 `cbor:"21,keyasint,omitempty"`
	TempMaxDC  *int16  `cbor:"22,keyasint,omitempty"`
	TempMinDC  *int16  `cbor:"23,keyasint,omitempty"`
	CurrentMax *uint16 `cbor:"24,keyasint,omitempty"`

	// CmdCellBalancing.
	BalanceEnable   *bool   `cbor:"30,keyasint,omitempty"`
	BalanceTargetMV *uint16 `cbor:"31,keyasint,omitempty"`
	BalanceMask     []byte  `cbor:"32,keyasint,omitempty"` // bit i = cell i; absent = all cells

	// CmdDiagnosticMode.
	DiagEnable   *bool   `cbor:"40,keyasint,omitempty"`
	DiagDuration *uint16 `cbor:"41,keyasint,omitempty"` // seconds; 0 = until told otherwise

	// CmdEmergencyIsolate.
	IsolateReason *Reason `cbor:"50,keyasint,omitempty"`

	Escalation *Escalation `cbor:"60,keyasint,omitempty"`
}

// Validate checks the code, that exactly its fields are present, and their ranges.
func (m *Command) Validate() error {
	c := checker{name: "Command"}
	c.version(m.V)
	c.time("IssuedAt", 3, m.IssuedAt)
	type field struct {
		key     int64
		name    string
		present bool
	}
	groups := map[CommandCode][]field{
		CmdChargeDischarge: {{10, "ChargeEnable", m.ChargeEnable != nil}, {11, "DischargeEnable", m.DischargeEnable != nil},
			{12, "ChargeLimit", m.ChargeLimit != nil}, {13, "DischargeLimit", m.DischargeLimit != nil}},
		CmdSafetyLimits: {{20, "CellMaxMV", m.CellMaxMV != nil}, {21, "CellMinMV", m.CellMinMV != nil},
			{22, "TempMaxDC", m.TempMaxDC != nil}, {23, "TempMinDC", m.TempMinDC != nil}, {24, "CurrentMax", m.CurrentMax != nil}},
		CmdCellBalancing:    {{30, "BalanceEnable", m.BalanceEnable != nil}, {31, "BalanceTargetMV", m.BalanceTargetMV != nil}},
		CmdDiagnosticMode:   {{40, "DiagEnable", m.DiagEnable != nil}, {41, "DiagDuration", m.DiagDuration != nil}},
		CmdEmergencyIsolate: {{50, "IsolateReason", m.IsolateReason != nil}},
	}
	if _, ok := groups[m.Code]; !ok {
		c.fail("Code", 1, ErrInvalid, "command code %d", m.Code)
		return c.err
	}
	for code, fs := range groups {
		for _, f := range fs {
			switch {
			case code == m.Code && !f.present:
				c.fail(f.name, f.key, ErrMissingField, "required by %s", m.Code)
			case code != m.Code && f.present:
				c.fail(f.name, f.key, ErrInvalid, "not a field of %s", m.Code)
			}
		}
	}
	if m.Code != CmdCellBalancing && m.BalanceMask != nil {
		c.fail("BalanceMask", 32, ErrInvalid, "not a field of %s", m.Code)
	}
	if c.err != nil {
		return c.err
	}
	switch m.Code {
	case CmdSafetyLimits:
		c.check(*m.CellMinMV < *m.CellMaxMV, "CellMinMV", 21, "cell min %d ≥ max %d mV", *m.CellMinMV, *m.CellMaxMV)
		c.check(*m.TempMinDC < *m.TempMaxDC, "TempMinDC", 23, "temperature min %d ≥ max %d", *m.TempMinDC, *m.TempMaxDC)
		c.check(*m.CellMaxMV <= 5000, "CellMaxMV", 20, "cell max %d mV beyond 5 V", *m.CellMaxMV)
	case CmdCellBalancing:
		if m.BalanceMask != nil {
			c.check(len(m.BalanceMask) >= 1 && len(m.BalanceMask) <= MaxBalanceMask, "BalanceMask", 32, "%d bytes", len(m.BalanceMask))
		}
	case CmdEmergencyIsolate:
		c.check(m.IsolateReason.valid(), "IsolateReason", 50, "reason %d", *m.IsolateReason)
	}
	if c.err != nil {
		return c.err
	}
	return validateEscalation(m.Escalation)
}

// Encode returns the deterministic CBOR form (the channel plaintext).
func (m *Command) Encode() ([]byte, error) { return encode(m) }

// DecodeCommand parses a command plaintext strictly.
func DecodeCommand(b []byte) (*Command, error) {
	m := new(Command)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// CheckFresh checks the command's issue time against now (±5 min).
func (m *Command) CheckFresh(now time.Time) error { return CheckFreshness(now, m.IssuedAt) }

// CommandHash is SHA-256 over a command's exact plaintext bytes; the ACK carries it.
func CommandHash(encoded []byte) []byte {
	h := sha256.Sum256(encoded)
	return h[:]
}

// Status is an ACK's verdict.
type Status uint8

const (
	StatusOK          Status = 0 // executed
	StatusBadArgs     Status = 1 // arguments out of range for this device
	StatusPolicy      Status = 2 // the pairing's context or policy does not allow the command
	StatusState       Status = 3 // not allowed in the current operating state
	StatusBusy        Status = 4 // a previous command is still executing; retry
	StatusUnsupported Status = 5 // the device does not implement the command
	StatusFailed      Status = 6 // accepted but execution failed
	StatusStale       Status = 7 // issued_at beyond the tolerated skew: re-pairing needed
	StatusReplay      Status = 8 // the sequence number was already executed
)

func (s Status) String() string {
	names := [...]string{"ok", "bad-args", "policy", "state", "busy", "unsupported", "failed", "stale", "replay"}
	if int(s) < len(names) {
		return names[s]
	}
	return fmt.Sprintf("status-%d", uint8(s))
}

// Ack answers an L5 command. It is protected by the channel's AEAD under the responder's
// pairing key, which authenticates it; CommandHash binds it to the exact command.
type Ack struct {
	V           uint8       `cbor:"0,keyasint"`
	Seq         uint32      `cbor:"1,keyasint"`
	Status      Status      `cbor:"2,keyasint"`
	CommandHash []byte      `cbor:"3,keyasint"`
	At          int64       `cbor:"4,keyasint"`
	State       *uint8      `cbor:"5,keyasint,omitempty"` // operating state after the command
	Escalation  *Escalation `cbor:"6,keyasint,omitempty"`
}

// Validate checks ranges.
func (m *Ack) Validate() error {
	c := checker{name: "Ack"}
	c.version(m.V)
	c.check(m.Status <= StatusReplay, "Status", 2, "status %d", m.Status)
	c.size("CommandHash", 3, m.CommandHash, HashSize)
	c.time("At", 4, m.At)
	if c.err != nil {
		return c.err
	}
	return validateEscalation(m.Escalation)
}

// Encode returns the deterministic CBOR form (the channel plaintext).
func (m *Ack) Encode() ([]byte, error) { return encode(m) }

// DecodeAck parses an ACK plaintext strictly.
func DecodeAck(b []byte) (*Ack, error) {
	m := new(Ack)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// NewAck answers the command whose exact plaintext is encodedCmd.
func NewAck(cmd *Command, encodedCmd []byte, status Status, at time.Time) *Ack {
	return &Ack{V: Version1, Seq: cmd.Seq, Status: status, CommandHash: CommandHash(encodedCmd), At: at.Unix()}
}

// Matches checks that the ACK answers the command whose exact plaintext is encodedCmd:
// sequence (ErrCommandSeq) and hash (ErrCommandHash).
func (m *Ack) Matches(encodedCmd []byte, seq uint32) error {
	if m.Seq != seq {
		return fmt.Errorf("%w: ACK for %d, command %d", ErrCommandSeq, m.Seq, seq)
	}
	if !equalBytes(m.CommandHash, CommandHash(encodedCmd)) {
		return fmt.Errorf("%w: ACK %d", ErrCommandHash, m.Seq)
	}
	return nil
}
