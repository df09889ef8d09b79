package message

import (
	"encoding/binary"
	"fmt"
)

// Signal selects what one value of a single-frame telemetry payload means.
type Signal uint8

const (
	SignalVoltage Signal = 1 // module voltage, unsigned, 10 mV
	SignalCurrent Signal = 2 // module current, signed, 0.1 A, positive = charging
	SignalSOC     Signal = 3 // state of charge, unsigned, 0.1 %
	SignalCellMin Signal = 4 // lowest cell voltage, unsigned, mV
	SignalCellMax Signal = 5 // highest cell voltage, unsigned, mV
	SignalTempMin Signal = 6 // lowest temperature, signed, 0.1 °C
	SignalTempMax Signal = 7 // highest temperature, signed, 0.1 °C
	SignalStatus  Signal = 8 // bits 0–3 operating state, bit 4 balancing, bit 5 fault
)

func (s Signal) valid() bool { return s >= SignalVoltage && s <= SignalStatus }

// Sample is one signal value; Raw is the 16-bit field, read as signed for current and
// temperatures.
type Sample struct {
	Signal Signal
	Raw    uint16
}

// ShortTelemetry is the payload of a telemetry-short frame (docs/protocol.md 6.5): a sequence of
// 3-byte samples (selector, value big-endian), zero-padded to the layout's payload size. The
// classic layout carries one sample, an FD frame of L bytes ⌊(L − 10)/3⌋.
type ShortTelemetry []Sample

// ShortPayloadSize is the payload size of the classic layout.
const ShortPayloadSize = 3

// Encode lays the samples out in a payload of n bytes (3 classic, L − 10 FD).
func (m ShortTelemetry) Encode(n int) ([]byte, error) {
	if len(m) == 0 || 3*len(m) > n {
		return nil, fmt.Errorf("%w: %d samples in a %d-byte payload", ErrSize, len(m), n)
	}
	out := make([]byte, n)
	for i, s := range m {
		if !s.Signal.valid() {
			return nil, fmt.Errorf("%w: signal %d", ErrInvalid, s.Signal)
		}
		out[3*i] = byte(s.Signal)
		binary.BigEndian.PutUint16(out[3*i+1:], s.Raw)
	}
	return out, nil
}

// DecodeShortTelemetry parses a payload: samples until a zero selector, then only zero padding.
func DecodeShortTelemetry(p []byte) (ShortTelemetry, error) {
	if len(p) < ShortPayloadSize || len(p) > 54 {
		return nil, fmt.Errorf("%w: short telemetry payload of %d bytes", ErrSize, len(p))
	}
	var out ShortTelemetry
	i := 0
	for ; i+3 <= len(p) && p[i] != 0; i += 3 {
		s := Signal(p[i])
		if !s.valid() {
			return nil, fmt.Errorf("%w: signal %d at byte %d", ErrInvalid, s, i)
		}
		out = append(out, Sample{Signal: s, Raw: binary.BigEndian.Uint16(p[i+1:])})
	}
	for ; i < len(p); i++ {
		if p[i] != 0 {
			return nil, fmt.Errorf("%w: non-zero byte %d in the padding", ErrMalformed, i)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no sample", ErrMissingField)
	}
	return out, nil
}
