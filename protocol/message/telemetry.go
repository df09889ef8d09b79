package message

// Telemetry is a module's measurement record, protected under the pairing's telemetry key
// (key level exchange) by the channel's AEAD.
type Telemetry struct {
	V          uint8       `cbor:"0,keyasint"`
	Seq        uint32      `cbor:"1,keyasint"` // record sequence (the channel counter is separate)
	At         int64       `cbor:"2,keyasint"`
	Addr       uint8       `cbor:"3,keyasint"` // module address
	State      uint8       `cbor:"4,keyasint"` // 0 off, 1 standby, 2 precharge, 3 on
	SOC        uint8       `cbor:"5,keyasint"` // 0.5 % units, 0–200
	VoltageMV  uint32      `cbor:"6,keyasint"` // module voltage
	CurrentMA  int32       `cbor:"7,keyasint"` // positive = charging
	CellMinMV  uint16      `cbor:"8,keyasint"`
	CellMaxMV  uint16      `cbor:"9,keyasint"`
	TempMinDC  int16       `cbor:"10,keyasint"` // 0.1 °C
	TempMaxDC  int16       `cbor:"11,keyasint"`
	Escalation *Escalation `cbor:"12,keyasint,omitempty"`
}

// Validate checks ranges.
func (m *Telemetry) Validate() error {
	c := checker{name: "Telemetry"}
	c.version(m.V)
	c.time("At", 2, m.At)
	c.check(m.State <= 3, "State", 4, "state %d", m.State)
	c.check(m.SOC <= 200, "SOC", 5, "soc %d", m.SOC)
	c.check(m.CellMinMV <= m.CellMaxMV, "CellMinMV", 8, "cell min above max")
	c.check(m.TempMinDC <= m.TempMaxDC, "TempMinDC", 10, "temperature min above max")
	if c.err != nil {
		return c.err
	}
	return validateEscalation(m.Escalation)
}

// Encode returns the deterministic CBOR form (the channel plaintext).
func (m *Telemetry) Encode() ([]byte, error) { return encode(m) }

// DecodeTelemetry parses a telemetry plaintext strictly.
func DecodeTelemetry(b []byte) (*Telemetry, error) {
	m := new(Telemetry)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}
