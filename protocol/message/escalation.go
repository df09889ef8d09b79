package message

// Reason says why an escalation is requested.
type Reason uint8

const (
	ReasonMACFailures Reason = 1  // MAC or AEAD failures beyond the window's threshold
	ReasonCounterGap  Reason = 2  // freshness counter jumped
	ReasonReplay      Reason = 3  // a counter was seen twice
	ReasonTempStep    Reason = 4  // temperature step beyond its limit
	ReasonVoltageStep Reason = 5  // voltage step beyond its limit
	ReasonBusErrors   Reason = 6  // bus error counters beyond their limit
	ReasonKeyLoss     Reason = 7  // the sender lost its keys
	ReasonAnomaly     Reason = 8  // any other anomaly
	ReasonPolicy      Reason = 9  // a message arrived below its policy's protection
	ReasonClockSkew   Reason = 10 // a peer's clock is off by more than the tolerated skew
	ReasonOperator    Reason = 11 // raised by an operator or a test
)

func (r Reason) valid() bool {
	return r >= ReasonMACFailures && r <= ReasonOperator
}

// Urgency orders escalations; a receiver serves higher urgency first and rate-limits each.
type Urgency uint8

const (
	UrgencyLow      Urgency = 0
	UrgencyNormal   Urgency = 1
	UrgencyHigh     Urgency = 2
	UrgencyCritical Urgency = 3
)

// Escalation asks for a higher validation level. It travels alone (message type escalation)
// or inside another message's escalation field, with its own version either way.
type Escalation struct {
	V       uint8   `cbor:"0,keyasint"`
	Target  Level   `cbor:"1,keyasint"` // requested validation level, 2–7
	Reason  Reason  `cbor:"2,keyasint"`
	Urgency Urgency `cbor:"3,keyasint"`
	Source  uint8   `cbor:"4,keyasint"`           // node address of the requester
	Count   uint32  `cbor:"5,keyasint,omitempty"` // events seen in the trigger window
	At      int64   `cbor:"6,keyasint"`
}

// Validate checks ranges.
func (m *Escalation) Validate() error {
	c := checker{name: "Escalation"}
	c.version(m.V)
	c.check(m.Target >= L2Witness && m.Target.valid(), "Target", 1, "target level %d", m.Target)
	c.check(m.Reason.valid(), "Reason", 2, "reason %d", m.Reason)
	c.check(m.Urgency <= UrgencyCritical, "Urgency", 3, "urgency %d", m.Urgency)
	c.time("At", 6, m.At)
	return c.err
}

// Encode returns the deterministic CBOR form.
func (m *Escalation) Encode() ([]byte, error) { return encode(m) }

// DecodeEscalation parses an escalation strictly.
func DecodeEscalation(b []byte) (*Escalation, error) {
	m := new(Escalation)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// validateEscalation checks an optional embedded escalation.
func validateEscalation(e *Escalation) error {
	if e == nil {
		return nil
	}
	return e.Validate()
}
