package latency

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/modbatt/hilrun/mcu"
)

// Verdict statuses.
const (
	StatusPass         = "pass"          // measured below the ceiling on modelled or real silicon
	StatusFail         = "fail"          // measured at or above the ceiling
	StatusImpossible   = "impossible"    // the real silicon cannot meet the ceiling; fails
	StatusWaived       = "waived"        // impossible, and the sheet accepts it with a reason
	StatusSoftwareOnly = "software-only" // below the ceiling with the zero profile: no sign-off
	StatusNoBudget     = "no-budget"     // measured, but the sheet has no row for it
	StatusNotMeasured  = "not-measured"  // the sheet has a row, the run no sample
)

// Verdict is a row's outcome.
type Verdict struct {
	Status     string        `json:"status"`
	Failed     bool          `json:"failed"` // fails the run
	Statistic  Statistic     `json:"statistic,omitempty"`
	Value      time.Duration `json:"value_ns,omitempty"`   // the statistic, per frame if the budget is
	Ceiling    time.Duration `json:"ceiling_ns,omitempty"` // the budget's target
	Reason     string        `json:"reason"`
	Prediction *Prediction   `json:"prediction,omitempty"` // on the real silicon
}

// Prediction is the least an operation takes on the real silicon: its wire floor plus the
// modelled compute of its crypto at the real parts' profiles.
type Prediction struct {
	Source   string        `json:"source"` // "samples": the run's own operation counts; "capability-map"
	Floor    time.Duration `json:"floor_ns"`
	Frames   int           `json:"frames"`
	Compute  time.Duration `json:"compute_ns"`
	Total    time.Duration `json:"total_ns"`
	PerFrame time.Duration `json:"per_frame_ns,omitempty"` // Total / Frames, for per-frame budgets
	Steps    []PricedStep  `json:"steps,omitempty"`        // most expensive first
}

// PricedStep is one kind of operation priced on a real part.
type PricedStep struct {
	Role    string        `json:"role"`
	Profile string        `json:"profile"`
	Op      string        `json:"op"`
	Units   int           `json:"units"`
	Cost    time.Duration `json:"cost_ns"`
	Each    time.Duration `json:"each_ns"`
}

// predict prices an operation on the real silicon. From samples that carry operation counts it
// takes the cheapest sample (floor + repriced compute): the least the run showed the operation
// needs. Without counts it uses the capability map (the row's key, operation/variant, else its
// operation), with the samples' smallest floor when they have one.
func predict(key, op string, samples []Sample, silicon map[string]mcu.Profile) *Prediction {
	var best *Prediction
	for i := range samples {
		s := &samples[i]
		if !hasCounts(s) {
			continue
		}
		p := &Prediction{Source: "samples", Floor: s.Floor, Frames: s.Frames}
		byKey := map[[2]string]*PricedStep{}
		for _, d := range s.Compute {
			prof, ok := silicon[d.Role]
			if !ok {
				continue // a host: measured, not modelled
			}
			for _, oc := range d.Ops {
				o, err := mcu.ParseOp(oc.Op)
				if err != nil || oc.Units <= 0 {
					continue
				}
				k := [2]string{d.Role, oc.Op}
				ps := byKey[k]
				if ps == nil {
					ps = &PricedStep{Role: d.Role, Profile: prof.Name, Op: oc.Op, Each: prof.Cost(o, 1)}
					byKey[k] = ps
				}
				ps.Units += oc.Units
				ps.Cost += prof.Cost(o, oc.Units)
			}
		}
		for _, ps := range byKey {
			p.Steps = append(p.Steps, *ps)
			p.Compute += ps.Cost
		}
		p.Total = p.Floor + p.Compute
		if best == nil || p.Total < best.Total {
			best = p
		}
	}
	if best == nil {
		cm := CapabilityMap()
		m, ok := cm[key]
		if !ok {
			m, ok = cm[op]
		}
		if !ok {
			return nil
		}
		best = &Prediction{Source: "capability-map", Floor: m.Floor, Frames: m.Frames}
		if f, n := minFloor(samples); n > 0 {
			best.Floor, best.Frames = f, n
		}
		for _, st := range m.Steps {
			prof, ok := silicon[st.Role]
			if !ok {
				continue
			}
			c := prof.Cost(st.Op, st.Units)
			best.Steps = append(best.Steps, PricedStep{Role: st.Role, Profile: prof.Name, Op: st.Op.String(),
				Units: st.Units, Cost: c, Each: prof.Cost(st.Op, 1)})
			best.Compute += c
		}
		best.Total = best.Floor + best.Compute
	}
	slices.SortFunc(best.Steps, func(a, b PricedStep) int {
		if c := cmp.Compare(b.Cost, a.Cost); c != 0 {
			return c
		}
		return strings.Compare(a.Role+" "+a.Op, b.Role+" "+b.Op)
	})
	if best.Frames > 0 {
		best.PerFrame = best.Total / time.Duration(best.Frames)
	}
	return best
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func hasCounts(s *Sample) bool {
	for _, d := range s.Compute {
		for _, o := range d.Ops {
			if o.Units > 0 {
				return true
			}
		}
	}
	return false
}

// minFloor is the smallest non-zero floor among samples, with its frame count.
func minFloor(samples []Sample) (time.Duration, int) {
	var f time.Duration
	n := 0
	for _, s := range samples {
		if s.Frames > 0 && (n == 0 || s.Floor < f) {
			f, n = s.Floor, s.Frames
		}
	}
	return f, n
}

// modelled reports whether any device in the sample was charged at a non-zero profile.
func modelled(s *Sample) bool {
	for _, d := range s.Compute {
		if d.Profile != "" && !strings.EqualFold(d.Profile, "zero") {
			return true
		}
	}
	return false
}

// Run modes.
const (
	ModeEmulated = "emulated"
	ModeHardware = "hardware"
)

// judge gives a row its verdict.
func judge(mode string, b *Budget, row *Operation, silicon map[string]mcu.Profile) Verdict {
	if b == nil {
		return Verdict{Status: StatusNoBudget, Reason: "the budget sheet has no row for this operation"}
	}
	v := Verdict{Statistic: b.Statistic, Ceiling: time.Duration(b.Target)}
	if v.Statistic == "" {
		v.Statistic = StatP99
	}
	if len(row.Samples) == 0 {
		v.Status, v.Reason = StatusNotMeasured, "the run took no sample of this operation"
		return v
	}
	stats := row.Measured
	perFrame := b.Per == PerFrame
	if perFrame {
		if row.PerFrame == nil || row.PerFrame.Count < len(row.Samples) {
			// Never judge a per-frame budget on a guess: a sample without frames has no capture.
			v.Status, v.Failed = StatusFail, true
			v.Reason = "a per-frame budget needs the frames of every sample; some samples have none (no capture in their window)"
			return v
		}
		stats = *row.PerFrame
	}
	v.Value, _ = v.Statistic.Of(stats)
	v.Prediction = predict(row.Key, row.Operation, row.Samples, silicon)
	unit := ""
	if perFrame {
		unit = " per frame"
	}

	// Impossible on the real silicon: the floor and the modelled crypto alone reach the ceiling.
	impossible, why := false, ""
	if p := v.Prediction; p != nil {
		least := p.Total
		if perFrame {
			least = p.PerFrame
		}
		if least >= v.Ceiling && (!perFrame || p.Frames > 0) {
			impossible = true
			why = impossibleReason(p, v.Ceiling, perFrame)
		}
	}
	missed := v.Value >= v.Ceiling
	software := mode != ModeHardware && !slices.ContainsFunc(row.Samples, func(s Sample) bool { return modelled(&s) })
	how := "with the zero-cost profile"
	if !slices.ContainsFunc(row.Samples, func(s Sample) bool { return len(s.Compute) > 0 }) {
		how = "without modelled compute recorded (zero-cost profile or unmetered devices)"
	}
	measured := fmt.Sprintf("%s %s%s against a ceiling of %s", v.Statistic, ms(v.Value), unit, ms(v.Ceiling))

	switch {
	case mode == ModeHardware && !missed:
		v.Status, v.Reason = StatusPass, "measured on hardware: "+measured
		if impossible {
			v.Reason += "; the cost model predicted a miss (" + why + "): update the profile with this rig's measurements"
		}
	case impossible && b.Waiver != "":
		v.Status, v.Reason = StatusWaived, "impossible on real silicon: "+why+"; waived: "+b.Waiver
	case impossible:
		v.Status, v.Failed, v.Reason = StatusImpossible, true, "impossible on real silicon: "+why
	case missed:
		v.Status, v.Failed, v.Reason = StatusFail, true, "measured "+measured
		if software {
			v.Reason += " " + how + ": the software and the bus alone are too slow"
		}
	case software:
		v.Status = StatusSoftwareOnly
		v.Reason = "measured " + how + ", software and bus alone: " + measured + "; not a sign-off"
		if p := v.Prediction; p != nil {
			least := p.Total
			if perFrame {
				least = p.PerFrame
			}
			v.Reason += fmt.Sprintf("; predicted on real silicon ≥ %s%s", ms(least), unit)
		}
	default:
		v.Status, v.Reason = StatusPass, "measured "+measured
	}
	return v
}

// impossibleReason names what breaks the ceiling: a single operation that alone exceeds it, or
// the sum.
func impossibleReason(p *Prediction, ceiling time.Duration, perFrame bool) string {
	var b strings.Builder
	if len(p.Steps) > 0 && !perFrame {
		top := p.Steps[0]
		if top.Each >= ceiling {
			fmt.Fprintf(&b, "one %s on the %s (%s) takes %s, alone above the %s ceiling; ",
				top.Op, top.Role, top.Profile, ms(top.Each), ms(ceiling))
		} else if top.Cost >= ceiling {
			fmt.Fprintf(&b, "%d× %s on the %s (%s) take %s, alone above the %s ceiling; ",
				top.Units, top.Op, top.Role, top.Profile, ms(top.Cost), ms(ceiling))
		}
	}
	fmt.Fprintf(&b, "wire floor %s + modelled compute %s = %s", ms(p.Floor), ms(p.Compute), ms(p.Total))
	if perFrame {
		fmt.Fprintf(&b, " over %d frames = %s per frame", p.Frames, ms(p.PerFrame))
	}
	fmt.Fprintf(&b, " ≥ %s", ms(ceiling))
	if len(p.Steps) > 0 {
		b.WriteString(" (")
		for i, s := range p.Steps {
			if i == 4 {
				b.WriteString(", …")
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %d× %s %s", s.Role, s.Units, s.Op, ms(s.Cost))
		}
		b.WriteString(")")
	}
	return b.String()
}

// ms formats a duration in milliseconds with up to three decimals ("15.68 ms", "3.5 s" above 10 s).
func ms(d time.Duration) string {
	if abs(d) >= 10*time.Second {
		return trimZeros(fmt.Sprintf("%.3f", d.Seconds())) + " s"
	}
	return trimZeros(fmt.Sprintf("%.3f", float64(d)/1e6)) + " ms"
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
