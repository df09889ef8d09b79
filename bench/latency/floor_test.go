package latency

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/capture"
)

var t0 = time.Unix(1700000000, 0)

func us(n int) time.Duration { return time.Duration(n) * time.Microsecond }

func readLog(t *testing.T, path string) []capture.Record {
	t.Helper()
	r, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, skipped, err := ReadAll(r)
	if err != nil || skipped != 0 {
		t.Fatalf("ReadAll: %d skipped, %v", skipped, err)
	}
	return recs
}

func TestFloorTwoBuses(t *testing.T) {
	recs := readLog(t, "testdata/two-buses.log")
	f := Floor{Timing: bus.Timing{Nominal: 500_000}, Stuffing: bus.WorstCase}
	w := f.Of(recs, t0, t0.Add(10*time.Millisecond))
	// can1: two extended 8-byte frames back to back, 320 µs each, [0, 640 µs].
	// can0: an extended 8-byte frame [180, 500 µs] under them, and a standard 2-byte frame of
	// 34 + 16 + 13 + ⌊49/4⌋ = 75 bits = 150 µs, [850, 1000 µs]. The error frame is skipped and
	// the last frame is outside the window.
	if w.Frames != 4 || w.Skipped != 1 {
		t.Errorf("frames %d skipped %d, want 4 and 1", w.Frames, w.Skipped)
	}
	if w.Sum != us(1110) {
		t.Errorf("sum %v, want 1.11ms", w.Sum)
	}
	if w.Critical != us(790) {
		t.Errorf("critical %v, want 790µs (overlap counted once)", w.Critical)
	}
	want := []BusFloor{{Iface: "can0", Bitrate: 500_000, Frames: 2, Busy: us(470)}, {Iface: "can1", Bitrate: 500_000, Frames: 2, Busy: us(640)}}
	if len(w.Buses) != 2 || w.Buses[0] != want[0] || w.Buses[1] != want[1] {
		t.Errorf("buses %+v, want %+v", w.Buses, want)
	}
}

func TestFloorPerBusTimingAndExact(t *testing.T) {
	recs := readLog(t, "testdata/two-buses.log")
	f := Floor{Timing: bus.Timing{Nominal: 500_000}, Buses: map[string]bus.Timing{"can1": {Nominal: 250_000}}, Stuffing: bus.Exact}
	w := f.Of(recs, t0, t0.Add(time.Millisecond))
	var sum time.Duration
	for _, r := range recs[:4] {
		tm := bus.Timing{Nominal: 500_000}
		if r.Iface == "can1" {
			tm = bus.Timing{Nominal: 250_000}
		}
		sum += tm.Duration(&r.Frame, bus.Exact)
	}
	if w.Sum != sum || w.Frames != 4 {
		t.Errorf("sum %v over %d frames, want %v over 4", w.Sum, w.Frames, sum)
	}
	if w.Buses[1].Bitrate != 250_000 {
		t.Errorf("can1 bitrate %d", w.Buses[1].Bitrate)
	}
}

func TestFloorEmptyAndApply(t *testing.T) {
	recs := readLog(t, "testdata/two-buses.log")
	f := Floor{Timing: bus.Timing{Nominal: 500_000}}
	if w := f.Of(recs, t0.Add(5*time.Millisecond), t0.Add(6*time.Millisecond)); w.Frames != 0 || w.Critical != 0 {
		t.Errorf("empty window: %+v", w)
	}
	if w := (&Floor{}).Of(recs, t0, t0.Add(time.Second)); w.Frames != 0 || w.Skipped != 6 {
		t.Errorf("no timing: %+v, want every record skipped", w)
	}
	s := []Sample{
		{Operation: "x", Start: t0, End: t0.Add(700 * time.Microsecond)},
		{Operation: "y", Floor: 5, Frames: 1},
	}
	f.Apply(s, recs)
	if s[0].Frames != 3 || s[0].Floor != us(640) || len(s[0].Buses) != 2 {
		t.Errorf("applied %+v", s[0])
	}
	if s[1].Floor != 5 || s[1].Frames != 1 {
		t.Errorf("sample without a window changed: %+v", s[1])
	}
}

func TestFloorOfNodes(t *testing.T) {
	recs := readLog(t, "testdata/two-buses.log")
	f := Floor{Timing: bus.Timing{Nominal: 500_000}, Stuffing: bus.WorstCase}
	// 1EA00140 is pack → module 0x01, 11A24001 module 0x01 → pack; 123 is a legacy frame.
	w := f.OfNodes(recs, t0, t0.Add(10*time.Millisecond), []uint8{0x01})
	if w.Frames != 3 || w.Critical != us(640) {
		t.Errorf("module 0x01: %d frames, floor %v; want 3 and 640µs", w.Frames, w.Critical)
	}
	if w := f.OfNodes(recs, t0, t0.Add(10*time.Millisecond), []uint8{0x02}); w.Frames != 0 {
		t.Errorf("module 0x02: %d frames", w.Frames)
	}
	s := []Sample{{Start: t0, End: t0.Add(10 * time.Millisecond), Nodes: []uint8{0x40}}}
	f.Apply(s, recs)
	if s[0].Frames != 3 {
		t.Errorf("Apply with nodes: %d frames", s[0].Frames)
	}
}

func TestLoadCaptures(t *testing.T) {
	recs, skipped, err := LoadCaptures("testdata/two-buses.log", "testdata/two-buses.log")
	if err != nil || len(recs) != 12 || skipped != 0 {
		t.Errorf("%d records, %d skipped, %v", len(recs), skipped, err)
	}
	if _, _, err := LoadCaptures("testdata/none.log"); err == nil {
		t.Error("missing file accepted")
	}
}

func TestReadAllSkipsBadLines(t *testing.T) {
	p := t.TempDir() + "/bad.log"
	os.WriteFile(p, []byte("(1700000000.000320) can1 1EA00140#11\ngarbage\n(1700000000.000640) can1 1EA00140#22\n"), 0o644)
	r, err := capture.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, skipped, err := ReadAll(r)
	if err != nil || len(recs) != 2 || skipped != 1 {
		t.Errorf("got %d records, %d skipped, %v", len(recs), skipped, err)
	}
}

func BenchmarkFloorOf(b *testing.B) {
	recs := make([]capture.Record, 10_000)
	for i := range recs {
		recs[i].Iface = "can0"
		recs[i].Time = t0.Add(time.Duration(i) * 320 * time.Microsecond)
		recs[i].Frame = bus.Frame{ID: 0x1A024001, Extended: true, Len: 8}
	}
	f := Floor{Timing: bus.Timing{Nominal: 500_000}, Stuffing: bus.Exact}
	b.ReportAllocs()
	for b.Loop() {
		f.Of(recs, t0.Add(time.Second), t0.Add(2*time.Second))
	}
}

// Apply's sorted search must give every window what a plain scan gives, boundaries included.
func TestApplyMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	recs := make([]capture.Record, 2000)
	for i := range recs {
		recs[i] = capture.Record{Iface: []string{"can0", "can1"}[rng.IntN(2)],
			Received: bus.Received{Time: t0.Add(time.Duration(rng.IntN(500)) * 100 * time.Microsecond),
				Frame: bus.Frame{ID: uint32(rng.IntN(0x1FFFFFFF)), Extended: true, Len: uint8(rng.IntN(9))}}}
	}
	var ss []Sample
	for range 300 {
		a := t0.Add(time.Duration(rng.IntN(520)) * 100 * time.Microsecond)
		ss = append(ss, Sample{Start: a, End: a.Add(time.Duration(rng.IntN(60)) * 100 * time.Microsecond)})
	}
	f := Floor{Timing: bus.Timing{Nominal: 500_000}, Stuffing: bus.Exact}
	f.Apply(ss, recs)
	for i, s := range ss {
		w := f.Of(recs, s.Start, s.End)
		if s.Frames != w.Frames || s.Floor != w.Critical {
			t.Fatalf("window %d: Apply %d frames %v, scan %d frames %v", i, s.Frames, s.Floor, w.Frames, w.Critical)
		}
	}
}

func BenchmarkApply(b *testing.B) {
	recs := make([]capture.Record, 100_000)
	for i := range recs {
		recs[i].Iface = "can0"
		recs[i].Time = t0.Add(time.Duration(i) * 320 * time.Microsecond)
		recs[i].Frame = bus.Frame{ID: 0x1A024001, Extended: true, Len: 8}
	}
	ss := make([]Sample, 1000)
	for i := range ss {
		ss[i].Start = t0.Add(time.Duration(i) * 32 * time.Millisecond)
		ss[i].End = ss[i].Start.Add(6400 * time.Microsecond) // 20 frames
	}
	f := Floor{Timing: bus.Timing{Nominal: 500_000}, Stuffing: bus.Exact}
	b.ReportAllocs()
	for b.Loop() {
		f.Apply(ss, recs)
	}
}
