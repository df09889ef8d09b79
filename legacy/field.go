package legacy

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
)

// scale maps a raw field to its physical value: phys = (raw·num + off) / den. Keeping the factor
// as a ratio of integers makes every decoded value the double nearest the exact decimal
// (1000 × 0.015 gives 15, not 15.000000000000002), so printed values need no rounding rules.
type scale struct {
	num, den, off int64
}

func (s scale) phys(raw uint64) float64 {
	return float64(int64(raw)*s.num+s.off) / float64(s.den)
}

// raw rounds v to the nearest raw step; ok is false when the result does not fit in max.
func (s scale) raw(v float64, max uint64) (uint64, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	r := math.Round((v*float64(s.den) - float64(s.off)) / float64(s.num))
	if r < 0 || r > float64(max) {
		return 0, false
	}
	return uint64(r), true
}

// The scalings of the legacy protocol.
var (
	scaleDeci     = scale{1, 10, 0}         // ×0.1
	scaleCenti    = scale{1, 100, 0}        // ×0.01
	scaleMilli    = scale{1, 1000, 0}       // ×0.001 (mV → V)
	scaleHalf     = scale{1, 2, 0}          // ×0.5 %
	scaleSOH04    = scale{4, 10, 0}         // ×0.4 %
	scaleV015     = scale{15, 1000, 0}      // ×0.015 V
	scaleA02      = scale{2, 100, -65536}   // ×0.02 − 655.36 A
	scaleTemp001  = scale{1, 100, -5535}    // ×0.01 − 55.35 °C
	scaleV05      = scale{5, 100, 0}        // ×0.05 V
	scaleA05      = scale{5, 100, -160000}  // ×0.05 − 1600 A
	scaleSOCPack  = scale{1, 640, 0}        // ×0.0015625 %
	scaleTempPack = scale{1, 32, -273 * 32} // ×0.03125 − 273 °C
)

// field is one signal of a payload: bits start…start+size−1, numbered little-endian across the
// 8 payload bytes (bit 0 is the low bit of byte 0; multi-byte values are little-endian).
type field struct {
	name        string
	start, size uint8
	sc          *scale // nil: a raw integer
	unit        string
	valid       func(raw uint64) bool   // nil: every raw value is defined
	text        func(raw uint64) string // how Describe shows the value; nil: decimal
}

func (f *field) mask() uint64 { return 1<<f.size - 1 }

// walker visits each field of a message with a pointer to the Go value that holds it. One walk
// method per message serves encoding, decoding, description and layout checks.
type walker interface {
	visit(f *field, p any)
}

// rawOf reads the Go value behind p as a raw field value; ok is false if it does not fit.
func rawOf(f *field, p any) (raw uint64, ok bool) {
	switch v := p.(type) {
	case *float64:
		return f.sc.raw(*v, f.mask())
	case *bool:
		if *v {
			return 1, true
		}
		return 0, true
	case *uint8:
		raw = uint64(*v)
	case *uint16:
		raw = uint64(*v)
	case *uint32:
		raw = uint64(*v)
	case *uint64:
		raw = *v
	case *State:
		raw = uint64(*v)
	case *PackStatus:
		raw = uint64(*v)
	default:
		panic("legacy: field " + f.name + " has an unsupported Go type") // programming error, not input
	}
	return raw, raw <= f.mask()
}

// setRaw stores a raw field value into the Go value behind p.
func setRaw(f *field, p any, raw uint64) {
	switch v := p.(type) {
	case *float64:
		*v = f.sc.phys(raw)
	case *bool:
		*v = raw != 0
	case *uint8:
		*v = uint8(raw)
	case *uint16:
		*v = uint16(raw)
	case *uint32:
		*v = uint32(raw)
	case *uint64:
		*v = raw
	case *State:
		*v = State(raw)
	case *PackStatus:
		*v = PackStatus(raw)
	default:
		panic("legacy: field " + f.name + " has an unsupported Go type")
	}
}

// encoder packs field values into a 64-bit little-endian image of the payload.
type encoder struct {
	msg  string
	bits uint64
	err  error
}

func (e *encoder) visit(f *field, p any) {
	if e.err != nil {
		return
	}
	raw, ok := rawOf(f, p)
	if !ok {
		e.err = e.rangeError(f, p)
		return
	}
	if f.valid != nil && !f.valid(raw) {
		e.err = &ValueError{Message: e.msg, Signal: f.name, Raw: raw}
		return
	}
	e.bits |= raw << f.start
}

func (e *encoder) rangeError(f *field, p any) error {
	re := &RangeError{Message: e.msg, Signal: f.name, Max: float64(f.mask())}
	switch v := p.(type) {
	case *float64:
		re.Value, re.Min, re.Max = *v, f.sc.phys(0), f.sc.phys(f.mask())
	case *uint8:
		re.Value = float64(*v)
	case *uint16:
		re.Value = float64(*v)
	case *uint32:
		re.Value = float64(*v)
	case *uint64:
		re.Value = float64(*v)
	case *State:
		re.Value = float64(*v)
	case *PackStatus:
		re.Value = float64(*v)
	}
	return re
}

// decoder unpacks a payload image into field values.
type decoder struct {
	msg  string
	bits uint64
	err  error
}

func (d *decoder) visit(f *field, p any) {
	if d.err != nil {
		return
	}
	raw := d.bits >> f.start & f.mask()
	if f.valid != nil && !f.valid(raw) {
		d.err = &ValueError{Message: d.msg, Signal: f.name, Raw: raw}
		return
	}
	setRaw(f, p, raw)
}

// describer renders decoded field values as signals.
type describer struct{ sigs []Signal }

func (d *describer) visit(f *field, p any) {
	s := Signal{Name: f.name, Unit: f.unit}
	if v, ok := p.(*float64); ok {
		s.Value = strconv.FormatFloat(*v, 'f', -1, 64)
	} else {
		raw, _ := rawOf(f, p)
		if f.text != nil {
			s.Value = f.text(raw)
		} else {
			s.Value = strconv.FormatUint(raw, 10)
		}
	}
	d.sigs = append(d.sigs, s)
}

// fieldLister collects a message's layout (for tests that check the DBC file and overlaps).
type fieldLister struct{ fields []*field }

func (l *fieldLister) visit(f *field, _ any) { l.fields = append(l.fields, f) }

func loadBits(p []byte) uint64 {
	var b [8]byte
	copy(b[:], p)
	return binary.LittleEndian.Uint64(b[:])
}

func storeBits(v uint64, n int) []byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return b[:n]
}

// Field constructors keep the message tables short.

func phys(name string, start, size uint8, sc scale, unit string) *field {
	return &field{name: name, start: start, size: size, sc: &sc, unit: unit}
}

func uintField(name string, start, size uint8) *field {
	return &field{name: name, start: start, size: size}
}

func hexField(name string, start, size uint8) *field {
	digits := int(size+3) / 4
	return &field{name: name, start: start, size: size, text: func(raw uint64) string {
		s := strings.ToUpper(strconv.FormatUint(raw, 16))
		for len(s) < digits {
			s = "0" + s
		}
		return "0x" + s
	}}
}

func flagField(name string, bit uint8) *field {
	return &field{name: name, start: bit, size: 1}
}

func stateField(name string, start, size uint8) *field {
	return &field{name: name, start: start, size: size,
		valid: func(raw uint64) bool { return raw <= uint64(StateOn) },
		text:  func(raw uint64) string { return State(raw).String() }}
}

// moduleIDField is a payload byte naming one assigned module (0x01–0x1F); withBroadcast also
// allows 0x00 (all modules).
func moduleIDField(name string, start uint8, withBroadcast bool) *field {
	return &field{name: name, start: start, size: 8,
		valid: func(raw uint64) bool {
			return (raw >= uint64(ModuleFirst) && raw <= uint64(ModuleLast)) || (withBroadcast && raw == 0)
		},
		text: func(raw uint64) string { return "0x" + strings.ToUpper(strconv.FormatUint(raw|0x100, 16)[1:]) }}
}
