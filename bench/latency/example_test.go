package latency_test

import (
	"fmt"
	"time"

	"github.com/modbatt/hilrun/bench/latency"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/protocol/suite"
)

// A spec records each timed operation with its window and its devices' metered compute; the
// report takes the floors from the bus capture and judges the rows against the budget sheet.
func Example() {
	var rec latency.Recorder
	start := time.Unix(1700000000, 0)
	pack := mcu.STM32WB55()
	for i := range 3 {
		var m mcu.Meter // the pack's meter; the emulated pack charges its crypto into it
		m.Add(suite.OpVerify, 1, pack.Cost(suite.OpVerify, 1))
		m.Add(suite.OpSign, 1, pack.Cost(suite.OpSign, 1))
		s := latency.Sample{Operation: "l3-handshake", Start: start, End: start.Add(152 * time.Millisecond),
			Measured: 152*time.Millisecond + time.Duration(i)*time.Millisecond}
		s.Compute = append(s.Compute, latency.ComputeOf("pack", latency.RolePack, pack, m.Reset()))
		rec.Add(s)
		start = start.Add(time.Second)
	}
	recs, _, err := latency.LoadCaptures("testdata/two-buses.log")
	if err != nil {
		fmt.Println(err)
		return
	}
	samples := rec.Samples()
	floor := latency.Floor{Timing: bus.Timing{Nominal: 500_000}, Stuffing: bus.WorstCase}
	floor.Apply(samples, recs)
	sheet, err := latency.LoadSheet("testdata/budgets.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	r := latency.Build(samples, latency.Options{Run: latency.RunInfo{Rig: "emulated"}, Sheet: sheet})
	for _, o := range r.Operations {
		if o.Measured.Count > 0 {
			fmt.Printf("%s: p99 %v, largest floor %v, %s\n", o.Key, o.Measured.P99, o.Floor.Max, o.Verdict.Status)
		}
	}
	fmt.Println("passed:", r.Passed)
	// Output:
	// l3-handshake: p99 154ms, largest floor 970µs, impossible
	// passed: false
}
