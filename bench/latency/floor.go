package latency

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/capture"
	"github.com/modbatt/hilrun/protocol/canid"
)

// Floor computes wire-time floors from a capture.
//
// The model: a record's timestamp is the end of its frame on the bus (the emulated bus stamps
// frames so, and a receiving controller cannot stamp a frame before its end), and the frame
// occupied its bus for the bit-accurate Duration before that, intermission included. A frame
// belongs to a window [start, end] when its end lies in it. Frames on one bus never overlap;
// frames on two buses may (the pack gateways between them). The floor of a window is the length
// of the union of the busy intervals of all its frames: time on one bus adds up, and time that
// two buses spent busy together counts once. For a store-and-forward gateway, which forwards a
// message only when it has it whole, that equals the plain sum; Sum is kept beside it.
type Floor struct {
	Timing   bus.Timing            // every bus not named in Buses
	Buses    map[string]bus.Timing // per interface name, for rigs whose buses differ
	Stuffing bus.Stuffing          // Exact for measured frames (FD falls back to worst case)
}

// BusFloor is one bus's share of a window.
type BusFloor struct {
	Iface       string        `json:"iface"`
	Bitrate     int           `json:"bitrate"`
	DataBitrate int           `json:"data_bitrate,omitempty"`
	Frames      int           `json:"frames"`
	Busy        time.Duration `json:"busy_ns"` // sum of this bus's frame durations
}

// Window is the floor of one window.
type Window struct {
	Frames   int
	Sum      time.Duration // every frame's duration added up, all buses
	Critical time.Duration // the union of busy intervals (the floor)
	Buses    []BusFloor    // sorted by interface name
	Skipped  int           // error frames and invalid frames in the window
}

func (f *Floor) timing(iface string) bus.Timing {
	if t, ok := f.Buses[iface]; ok {
		return t
	}
	return f.Timing
}

// Of returns the floor of the window [start, end] over recs (in any order).
func (f *Floor) Of(recs []capture.Record, start, end time.Time) Window {
	return f.of(recs, start, end, nil)
}

// OfNodes is Of counting only Web4 frames from or to one of nodes, for an operation that
// shares its bus with other traffic in its window.
func (f *Floor) OfNodes(recs []capture.Record, start, end time.Time, nodes []uint8) Window {
	return f.of(recs, start, end, nodes)
}

func (f *Floor) of(recs []capture.Record, start, end time.Time, nodes []uint8) Window {
	type span struct{ from, to time.Time }
	var (
		w       Window
		spans   []span
		byIface = map[string]*BusFloor{}
	)
	for i := range recs {
		r := &recs[i]
		if r.Time.Before(start) || r.Time.After(end) {
			continue
		}
		if r.Error || r.Frame.Validate() != nil {
			w.Skipped++
			continue
		}
		if len(nodes) > 0 {
			id, err := canid.Decode(r.Frame.ID, r.Frame.Extended)
			if err != nil || !slices.Contains(nodes, id.Src) && !slices.Contains(nodes, id.Dst) {
				continue // another operation's traffic, or not Web4
			}
		}
		t := f.timing(r.Iface)
		if t.Nominal <= 0 {
			w.Skipped++
			continue
		}
		d := t.Duration(&r.Frame, f.Stuffing)
		b := byIface[r.Iface]
		if b == nil {
			b = &BusFloor{Iface: r.Iface, Bitrate: t.Nominal}
			if t.Data != 0 && t.Data != t.Nominal {
				b.DataBitrate = t.Data
			}
			byIface[r.Iface] = b
		}
		b.Frames++
		b.Busy += d
		w.Frames++
		w.Sum += d
		spans = append(spans, span{r.Time.Add(-d), r.Time})
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from.Compare(b.from) })
	var cur span
	for i, s := range spans {
		switch {
		case i == 0:
			cur = s
		case !s.from.After(cur.to):
			if s.to.After(cur.to) {
				cur.to = s.to
			}
		default:
			w.Critical += cur.to.Sub(cur.from)
			cur = s
		}
	}
	if len(spans) > 0 {
		w.Critical += cur.to.Sub(cur.from)
	}
	for _, b := range byIface {
		w.Buses = append(w.Buses, *b)
	}
	slices.SortFunc(w.Buses, func(a, b BusFloor) int {
		if a.Iface < b.Iface {
			return -1
		}
		if a.Iface > b.Iface {
			return 1
		}
		return 0
	})
	return w
}

// MaxRecords bounds ReadAll, so a runaway capture cannot exhaust memory.
const MaxRecords = 10_000_000

// ReadAll reads a capture's records. Records the reader reports as bad (capture.ErrBadRecord)
// are counted in skipped and passed over, as a timed window should not fail on one damaged line.
func ReadAll(r capture.Reader) (recs []capture.Record, skipped int, err error) {
	for {
		rec, err := r.Next()
		switch {
		case err == nil:
			if len(recs) >= MaxRecords {
				return recs, skipped, fmt.Errorf("latency: capture has more than %d records", MaxRecords)
			}
			recs = append(recs, rec)
		case errors.Is(err, io.EOF):
			return recs, skipped, nil
		case errors.Is(err, capture.ErrBadRecord):
			skipped++
		default:
			return recs, skipped, fmt.Errorf("latency: reading capture: %w", err)
		}
	}
}

// Apply fills each sample's Frames, Floor, Buses and Skip from recs, using its [Start, End]
// window and, when the sample names them, only the frames of its Nodes. Samples without a window (zero Start or End) are left as they are.
func (f *Floor) Apply(samples []Sample, recs []capture.Record) {
	// Sorted once, each window is a binary search and a scan of its own frames only.
	sorted := slices.Clone(recs)
	slices.SortStableFunc(sorted, func(a, b capture.Record) int { return a.Time.Compare(b.Time) })
	for i := range samples {
		s := &samples[i]
		if s.Start.IsZero() || s.End.IsZero() {
			continue
		}
		lo, _ := slices.BinarySearchFunc(sorted, s.Start, func(r capture.Record, t time.Time) int { return r.Time.Compare(t) })
		hi, found := slices.BinarySearchFunc(sorted[lo:], s.End, func(r capture.Record, t time.Time) int { return r.Time.Compare(t) })
		hi += lo
		for found && hi < len(sorted) && sorted[hi].Time.Equal(s.End) {
			hi++ // every record stamped exactly at End belongs to the window
		}
		w := f.of(sorted[lo:hi], s.Start, s.End, s.Nodes)
		s.Frames, s.Floor, s.Buses, s.Skip = w.Frames, w.Critical, w.Buses, w.Skipped
	}
}

// LoadCaptures reads capture files (candump .log or pcap, one per bus or not) into one record
// list for Floor.Of and Floor.Apply; bad records are counted in skipped.
func LoadCaptures(paths ...string) (recs []capture.Record, skipped int, err error) {
	for _, p := range paths {
		r, err := capture.Open(p)
		if err != nil {
			return nil, skipped, fmt.Errorf("latency: %w", err)
		}
		rs, n, err := ReadAll(r)
		r.Close()
		skipped += n
		if err != nil {
			return nil, skipped, fmt.Errorf("%s: %w", p, err)
		}
		recs = append(recs, rs...)
	}
	return recs, skipped, nil
}
