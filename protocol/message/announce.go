package message

// AnnounceKind says what an L1 announce reports.
type AnnounceKind uint8

const (
	AnnouncePresence AnnounceKind = 1 // the node is on the bus (periodic, discovery answer)
	AnnounceKeyLoss  AnnounceKind = 2 // the node lost its binding key; carries LostKID and an escalation to L7
	AnnounceImage    AnnounceKind = 3 // the node booted an image (after flashing): version and hash
)

// BindState is a node's trust state.
type BindState uint8

const (
	StateFactory BindState = 0
	StateBound   BindState = 1
	StatePaired  BindState = 2
	StateActive  BindState = 3
)

// Announce is the L1 announce, sent in the clear.
type Announce struct {
	V            uint8        `cbor:"0,keyasint"`
	Kind         AnnounceKind `cbor:"1,keyasint"`
	EntityID     string       `cbor:"2,keyasint"`
	Role         Role         `cbor:"3,keyasint"`
	Addr         uint8        `cbor:"4,keyasint"`
	State        BindState    `cbor:"5,keyasint"`
	ImageVersion string       `cbor:"6,keyasint"`
	ImageHash    []byte       `cbor:"7,keyasint"`           // SHA-256 of the running image
	KID          *uint16      `cbor:"8,keyasint,omitempty"` // current binding KID; the lost one for key loss
	At           int64        `cbor:"9,keyasint"`
	Escalation   *Escalation  `cbor:"10,keyasint,omitempty"`
}

// Validate checks ranges and the key-loss rules.
func (m *Announce) Validate() error {
	c := checker{name: "Announce"}
	c.version(m.V)
	c.check(m.Kind >= AnnouncePresence && m.Kind <= AnnounceImage, "Kind", 1, "kind %d", m.Kind)
	c.text("EntityID", 2, m.EntityID, true)
	c.check(m.Role.valid(), "Role", 3, "role %d", m.Role)
	c.check(m.State <= StateActive, "State", 5, "state %d", m.State)
	c.text("ImageVersion", 6, m.ImageVersion, true)
	c.size("ImageHash", 7, m.ImageHash, HashSize)
	c.time("At", 9, m.At)
	if m.Kind == AnnounceKeyLoss {
		c.check(m.KID != nil, "KID", 8, "key-loss announce without the lost KID")
		c.check(m.Escalation != nil && m.Escalation.Target == L7BindingValidation && m.Escalation.Reason == ReasonKeyLoss,
			"Escalation", 10, "key-loss announce must escalate to L7 with reason key loss")
		c.check(m.State == StateFactory, "State", 5, "key-loss announce with state %d", m.State)
	}
	if c.err != nil {
		return c.err
	}
	return validateEscalation(m.Escalation)
}

// Encode returns the deterministic CBOR form.
func (m *Announce) Encode() ([]byte, error) { return encode(m) }

// DecodeAnnounce parses an announce strictly.
func DecodeAnnounce(b []byte) (*Announce, error) {
	m := new(Announce)
	if err := decode(b, m); err != nil {
		return nil, err
	}
	return m, nil
}
