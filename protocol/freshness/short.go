package freshness

import (
	"crypto/aes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/protocol/canid"
)

// Errors of single-frame telemetry.
var (
	ErrShortFrame = errors.New("freshness: not a protected single-frame telemetry frame")
	ErrMAC        = errors.New("freshness: telemetry MAC does not verify")
)

// Layout is the byte layout of a protected single frame: payload, then the low bytes of the
// counter (the freshness value, FV), then the truncated MAC.
type Layout struct {
	FD       bool
	Len      int // frame payload length
	FVBytes  int
	MACBytes int
}

// Classic is the classic-CAN layout: 3 payload bytes, 8-bit FV, 32-bit MAC in one 8-byte frame.
func Classic() Layout { return Layout{Len: 8, FVBytes: 1, MACBytes: 4} }

// FD returns the CAN FD layout for a frame of frameLen bytes (a CAN FD length of 12 to 64):
// frameLen − 10 payload bytes, 16-bit FV, 64-bit MAC.
func FD(frameLen int) (Layout, error) {
	if _, ok := bus.FDLenToDLC(frameLen); !ok || frameLen < 12 {
		return Layout{}, fmt.Errorf("freshness: %d is not a CAN FD length of at least 12", frameLen)
	}
	return Layout{FD: true, Len: frameLen, FVBytes: 2, MACBytes: 8}, nil
}

// PayloadLen returns the payload bytes the layout carries.
func (l Layout) PayloadLen() int { return l.Len - l.FVBytes - l.MACBytes }

// tag is the first MAC input byte: it binds the layout, so one key's tags for different
// layouts never stand in for each other.
func (l Layout) tag() byte {
	if l.FD {
		return 0x80 | byte(l.Len)
	}
	return byte(l.Len)
}

func (l Layout) valid() error {
	if l.FVBytes < 1 || l.FVBytes > 8 || l.MACBytes < 4 || l.MACBytes > 16 || l.PayloadLen() < 0 {
		return fmt.Errorf("freshness: invalid layout %+v (FV 1–8 bytes, MAC 4–16 bytes)", l)
	}
	if l.FD {
		if _, ok := bus.FDLenToDLC(l.Len); !ok {
			return fmt.Errorf("freshness: %d is not a CAN FD length", l.Len)
		}
	} else if l.Len > bus.MaxClassicLen {
		return fmt.Errorf("freshness: classic frame of %d bytes", l.Len)
	}
	return nil
}

func newMAC(key []byte) (*CMAC, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("freshness: telemetry key: %w", err)
	}
	return NewCMAC(b)
}

// mac computes the full CMAC over tag ‖ identifier (4 bytes) ‖ counter (8 bytes) ‖ payload.
func mac(m *CMAC, l Layout, id uint32, counter uint64, payload []byte) [16]byte {
	var hdr [13]byte
	hdr[0] = l.tag()
	binary.BigEndian.PutUint32(hdr[1:], id)
	binary.BigEndian.PutUint64(hdr[5:], counter)
	return m.Sum(hdr[:], payload)
}

func checkID(id canid.ID) error {
	if id.Type != canid.TypeTelemetryShort || !id.Encrypted || id.Level != canid.LevelExchange {
		return fmt.Errorf("%w: identifier %v (want telemetry-short, encrypted, exchange level)", ErrShortFrame, id)
	}
	return nil
}

// Signer protects outgoing single-frame telemetry of one source.
type Signer struct {
	mac    *CMAC
	ctr    *Counter
	layout Layout
}

// NewSigner makes a signer with an AES key (16, 24 or 32 bytes: profile v1 uses the 32-byte
// telemetry key), the direction's counter and a layout.
func NewSigner(key []byte, ctr *Counter, l Layout) (*Signer, error) {
	if err := l.valid(); err != nil {
		return nil, err
	}
	m, err := newMAC(key)
	if err != nil {
		return nil, err
	}
	return &Signer{mac: m, ctr: ctr, layout: l}, nil
}

// Seal takes the next counter value and returns the protected frame. A payload shorter than
// the layout's is padded with zeros.
func (s *Signer) Seal(id canid.ID, payload []byte) (bus.Frame, uint64, error) {
	if err := checkID(id); err != nil {
		return bus.Frame{}, 0, err
	}
	if len(payload) > s.layout.PayloadLen() {
		return bus.Frame{}, 0, fmt.Errorf("freshness: %d payload bytes, layout carries %d", len(payload), s.layout.PayloadLen())
	}
	c, err := s.ctr.Next()
	if err != nil {
		return bus.Frame{}, 0, err
	}
	return SealWith(s.mac, s.layout, id.Encode(), c, payload), c, nil
}

// SealWith builds a protected frame for an explicit counter; Signer.Seal is the safe entry.
func SealWith(m *CMAC, l Layout, id uint32, counter uint64, payload []byte) bus.Frame {
	f := bus.Frame{ID: id, Extended: true, FD: l.FD, Len: uint8(l.Len)}
	pl := l.PayloadLen()
	copy(f.Data[:pl], payload)
	for i := 0; i < l.FVBytes; i++ {
		f.Data[pl+i] = byte(counter >> (8 * (l.FVBytes - 1 - i)))
	}
	t := mac(m, l, id, counter, f.Data[:pl])
	copy(f.Data[pl+l.FVBytes:l.Len], t[:l.MACBytes])
	return f
}

// Telemetry is a verified frame's content.
type Telemetry struct {
	ID      canid.ID
	Payload []byte
	Counter uint64 // the full counter, reconstructed from the FV
	Skipped uint64 // counter values skipped since the last accepted frame (lost frames)
}

// Verdict is what a verification asks of the caller besides its result.
type Verdict struct {
	// Escalate is true on the failure that started a lock-out: raise an escalation once.
	Escalate bool
}

// Verifier checks single-frame telemetry from one source: it reconstructs the full counter
// from the FV and the next expected counter, verifies the MAC, accepts only increasing
// counters, and locks out after repeated failures. It is not safe for concurrent use.
type Verifier struct {
	mac    *CMAC
	layout Layout
	next   uint64 // lowest acceptable counter
	guard  *Guard
}

// NewVerifier makes a verifier for one source. next is the lowest counter it accepts (0 for a
// fresh pairing, or the value learned at re-synchronisation).
func NewVerifier(key []byte, l Layout, next uint64, p Policy) (*Verifier, error) {
	if err := l.valid(); err != nil {
		return nil, err
	}
	m, err := newMAC(key)
	if err != nil {
		return nil, err
	}
	g, err := NewGuard(p)
	if err != nil {
		return nil, err
	}
	return &Verifier{mac: m, layout: l, next: next, guard: g}, nil
}

// Candidate returns the counter an FV stands for: the smallest value ≥ next whose low bits
// equal fv. It reports false when no such value exists below the exhaustion mark.
func Candidate(next, fv uint64, fvBits int) (uint64, bool) {
	if fvBits >= 64 {
		return fv, fv >= next && fv != math.MaxUint64
	}
	mask := uint64(1)<<fvBits - 1
	c := next&^mask | fv&mask
	if c < next {
		c += mask + 1
		if c < next { // wrapped past the top
			return 0, false
		}
	}
	return c, c != math.MaxUint64
}

// Open verifies a frame received at now. Errors: ErrShortFrame (wrapped) for a frame that is not
// protected single-frame telemetry of this layout, ErrMAC for a failed MAC, a *LockoutError while
// locked out. A frame with a failing MAC changes nothing but the failure count.
func (v *Verifier) Open(f *bus.Frame, now time.Time) (Telemetry, Verdict, error) {
	l := v.layout
	if !f.Extended || f.Remote || f.FD != l.FD || int(f.Len) != l.Len {
		return Telemetry{}, Verdict{}, fmt.Errorf("%w: frame format or length (%d bytes, fd=%v)", ErrShortFrame, f.Len, f.FD)
	}
	id, err := canid.Decode(f.ID, true)
	if err != nil {
		return Telemetry{}, Verdict{}, fmt.Errorf("%w: %w", ErrShortFrame, err)
	}
	if err := checkID(id); err != nil {
		return Telemetry{}, Verdict{}, err
	}
	if err := v.guard.Check(now); err != nil {
		return Telemetry{}, Verdict{}, err
	}
	pl := l.PayloadLen()
	var fv uint64
	for _, b := range f.Data[pl : pl+l.FVBytes] {
		fv = fv<<8 | uint64(b)
	}
	c, ok := Candidate(v.next, fv, 8*l.FVBytes)
	var want [16]byte
	if ok {
		want = mac(v.mac, l, f.ID, c, f.Data[:pl])
	}
	if !ok || subtle.ConstantTimeCompare(want[:l.MACBytes], f.Data[pl+l.FVBytes:l.Len]) != 1 {
		esc := v.guard.Failure(now)
		return Telemetry{}, Verdict{Escalate: esc}, fmt.Errorf("%w (%v, counter %d)", ErrMAC, id, c)
	}
	t := Telemetry{ID: id, Payload: append([]byte(nil), f.Data[:pl]...), Counter: c, Skipped: c - v.next}
	v.next = c + 1
	return t, Verdict{}, nil
}

// Next returns the lowest counter the verifier accepts.
func (v *Verifier) Next() uint64 { return v.next }

// Resync sets the lowest accepted counter (learned through an authenticated channel) and
// ends a lock-out. It never moves backwards.
func (v *Verifier) Resync(next uint64) {
	if next > v.next {
		v.next = next
	}
	v.guard.Reset()
}

// GuardStats returns the failure counters.
func (v *Verifier) GuardStats() GuardStats { return v.guard.Stats() }
