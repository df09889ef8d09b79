package module

import (
	"testing"

	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

// TestWeb4ShortTelemetry: once paired under a policy with telemetry at exchange level, the
// module sends its fast telemetry as single frames, one signal after the other, which the pack
// verifies; the samples carry the model's values in the single-frame scaling.
func TestWeb4ShortTelemetry(t *testing.T) {
	w := newWeb4Rig(t)
	w.bind()
	w.pair()
	seen := map[message.Signal]uint16{}
	var last uint64
	for len(seen) < len(shortSignals) {
		e := packEvent(w, func(e session.EventShortTelemetry) bool { return e.Peer == 1 })
		if len(e.Samples) != 1 || e.Relayed || (len(seen) > 0 && e.Counter <= last) {
			t.Fatalf("frame %+v after counter %d", e, last)
		}
		last = e.Counter
		seen[e.Samples[0].Signal] = e.Samples[0].Raw
	}
	if v := seen[message.SignalCellMin]; v < 3000 || v > 4300 {
		t.Fatalf("lowest cell %d mV", v)
	}
	if v := seen[message.SignalTempMax]; int16(v) < 150 || int16(v) > 450 {
		t.Fatalf("highest temperature %d (0.1 °C)", int16(v))
	}
	if s := w.dev.Stats(); s.ShortTelemetry < uint64(len(shortSignals)) {
		t.Fatalf("stats %+v", s)
	}
}
