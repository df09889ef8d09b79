package latency

import (
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/capture"
)

// The protocol's flow vectors stamp each frame when its transmission ends, back to back, with
// exact bit stuffing at 500 kbit/s: the floor of the whole exchange must be their stated wire
// time, to the microsecond.
func TestFloorOfFlowVectors(t *testing.T) {
	b, err := os.ReadFile("../../fixtures/vectors/flows.json")
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Vectors []struct {
			Name   string            `json:"name"`
			Expect map[string]string `json:"expect"`
			Frames []string          `json:"frames"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Vectors) == 0 {
		t.Fatal("no flow vectors")
	}
	f := Floor{Timing: bus.Timing{Nominal: 500_000}, Stuffing: bus.Exact}
	for _, v := range set.Vectors {
		var recs []capture.Record
		for _, line := range v.Frames {
			r, err := capture.ParseCandumpLine([]byte(line))
			if err != nil {
				t.Fatalf("%s: %v", v.Name, err)
			}
			recs = append(recs, r)
		}
		first := recs[0].Time.Add(-f.Timing.Duration(&recs[0].Frame, bus.Exact))
		w := f.Of(recs, first, recs[len(recs)-1].Time)
		frames, _ := strconv.Atoi(v.Expect["frames (text)"])
		wire, _ := strconv.Atoi(v.Expect["wire_time_us (text)"])
		if w.Frames != frames || w.Sum.Round(time.Microsecond) != us(wire) || w.Critical.Round(time.Microsecond) != us(wire) {
			t.Errorf("%s: %d frames, sum %v, floor %v; the vector says %d frames, %d µs", v.Name, w.Frames, w.Sum, w.Critical, frames, wire)
		}
	}
}
