package latency

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/modbatt/hilrun/mcu"
)

// Sample is one timed run of an operation.
type Sample struct {
	Operation string        `json:"operation"`         // budget name, e.g. "l5-command-ack"
	Variant   string        `json:"variant,omitempty"` // e.g. the command class "charge-discharge"
	Measured  time.Duration `json:"measured_ns"`       // first frame queued to last frame received
	Start     time.Time     `json:"start"`             // bus time the operation started
	End       time.Time     `json:"end"`               // bus time it ended

	// Nodes, when set, are the Web4 node addresses taking part: the floor then counts only
	// frames from or to them, leaving out other traffic that shared the bus in the window.
	Nodes Nodes `json:"nodes,omitempty"`

	// Paced marks an operation whose length a device's timer sets by design (the pack's
	// 100 ms poll slot), not its frames and compute: measured ÷ (floor + compute) says nothing
	// about the bench there, so such samples stay out of the emulation fidelity.
	Paced bool `json:"paced,omitempty"`

	// Filled from the capture by Floor.Apply (or by the caller).
	Frames int           `json:"frames"`            // frames that crossed any bus in [Start, End]
	Floor  time.Duration `json:"floor_ns"`          // critical-path wire time of those frames
	Buses  []BusFloor    `json:"buses,omitempty"`   // per bus
	Skip   int           `json:"skipped,omitempty"` // error frames and unreadable records in the window

	Compute []DeviceCompute `json:"compute,omitempty"` // modelled compute per device
}

// Key names the report row a sample belongs to: the operation, and its variant if any.
func (s *Sample) Key() string {
	if s.Variant == "" {
		return s.Operation
	}
	return s.Operation + "/" + s.Variant
}

// ComputeTotal is the modelled compute of every device in the sample.
func (s *Sample) ComputeTotal() time.Duration {
	var t time.Duration
	for _, d := range s.Compute {
		t += d.Total
	}
	return t
}

// Remainder is what the floor and the modelled compute do not explain: the bench's own overhead
// on an emulated rig, the firmware's on a real one. It may be negative when devices compute in
// parallel or overlap their compute with frames on the bus.
func (s *Sample) Remainder() time.Duration {
	return s.Measured - s.Floor - s.ComputeTotal()
}

// DeviceCompute is the modelled compute one device charged during a sample.
type DeviceCompute struct {
	Device  string        `json:"device"`  // e.g. "pack", "module-01"
	Role    string        `json:"role"`    // app, pack or module: picks the real silicon's profile
	Profile string        `json:"profile"` // the profile charged: stm32wb55, atmega64m1, zero …
	Ops     []OpCost      `json:"ops,omitempty"`
	Total   time.Duration `json:"total_ns"`
}

// OpCost is the modelled cost of one kind of operation on one device.
type OpCost struct {
	Op    string        `json:"op"`    // suite.Op's name: sign, verify, aead-block …
	Units int           `json:"units"` // operations
	Total time.Duration `json:"total_ns"`
}

// Roles the capability map prices.
const (
	RoleApp    = "app"
	RolePack   = "pack"
	RoleModule = "module"
)

// ComputeOf converts what a device's mcu.Meter recorded (Meter.Reset after each sample) into a
// DeviceCompute. The operation counts are kept even under the zero profile, so the report can
// price them on the real silicon.
func ComputeOf(device, role string, p mcu.Profile, tallies []mcu.Tally) DeviceCompute {
	d := DeviceCompute{Device: device, Role: role, Profile: p.Name}
	for _, t := range tallies {
		d.Ops = append(d.Ops, OpCost{Op: t.Op.String(), Units: t.Units, Total: t.Total})
		d.Total += t.Total
	}
	return d
}

// Recorder collects samples from concurrent specs. The zero value is ready.
type Recorder struct {
	mu      sync.Mutex
	samples []Sample
}

// Add records a sample.
func (r *Recorder) Add(s Sample) {
	s.Buses = slices.Clone(s.Buses)
	s.Nodes = slices.Clone(s.Nodes)
	s.Compute = slices.Clone(s.Compute)
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
}

// Samples returns a copy of everything recorded, in the order it was added.
func (r *Recorder) Samples() []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.samples)
}

// Len is the number of samples recorded.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.samples)
}

// Nodes are Web4 node addresses. In JSON they are an array of numbers (docs/latency-report.md),
// not the base64 string encoding/json gives a byte slice; a base64 string is still read, as
// reports written before said it so.
type Nodes []uint8

// MarshalJSON writes the addresses as numbers.
func (n Nodes) MarshalJSON() ([]byte, error) {
	if n == nil {
		return []byte("null"), nil
	}
	ints := make([]int, len(n))
	for i, a := range n {
		ints[i] = int(a)
	}
	return json.Marshal(ints)
}

// UnmarshalJSON reads an array of numbers 0–255, or a base64 string.
func (n *Nodes) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		*n = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fmt.Errorf("nodes: %w", err)
		}
		*n = raw
		return nil
	}
	var ints []int
	if err := json.Unmarshal(b, &ints); err != nil {
		return fmt.Errorf("nodes: %w", err)
	}
	out := make(Nodes, len(ints))
	for i, v := range ints {
		if v < 0 || v > 0xFF {
			return fmt.Errorf("nodes: address %d out of range", v)
		}
		out[i] = uint8(v)
	}
	*n = out
	return nil
}
