package latency

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/modbatt/hilrun/mcu"
)

// Schema identifies the latency.json format (docs/latency-report.md).
const Schema = "hilrun-latency/1"

// DefaultFidelityTarget is the largest measured/floor ratio at p50 an emulated rig with the zero
// profile may show: the bench's own overhead within 10 % of the wire time.
const DefaultFidelityTarget = 1.10

// Report is the whole performance report: latency.json.
type Report struct {
	Schema     string            `json:"schema"`
	Generated  time.Time         `json:"generated"`
	Run        RunInfo           `json:"run"`
	Sheet      *Sheet            `json:"sheet,omitempty"`
	Silicon    map[string]string `json:"silicon"`  // role → profile the predictions use
	Profiles   []string          `json:"profiles"` // profiles the samples were charged at
	Operations []Operation       `json:"operations"`
	Passed     bool              `json:"passed"`
	Failures   []string          `json:"failures"`           // keys of failed rows
	Warnings   []string          `json:"warnings,omitempty"` // about the run as a whole
}

// RunInfo describes the run.
type RunInfo struct {
	Rig      string `json:"rig,omitempty"`
	Mode     string `json:"mode"`               // emulated or hardware
	Stuffing string `json:"stuffing,omitempty"` // how floors counted stuff bits
	Label    string `json:"label,omitempty"`    // e.g. a release or commit
}

// Operation is one row: every sample of an operation (and variant) and what they add up to.
type Operation struct {
	Key       string   `json:"key"`
	Operation string   `json:"operation"`
	Variant   string   `json:"variant,omitempty"`
	Samples   []Sample `json:"samples"`
	Measured  Stats    `json:"measured"`
	Floor     Stats    `json:"floor"`
	Compute   Stats    `json:"compute"`
	Remainder Stats    `json:"remainder"`           // measured − floor − compute, per sample
	PerFrame  *Stats   `json:"per_frame,omitempty"` // measured / frames, per sample with frames
	Fidelity  Fidelity `json:"fidelity"`
	Budget    *Budget  `json:"budget,omitempty"`
	Verdict   Verdict  `json:"verdict"`
}

// Fidelity is how closely an emulated rig's measurements follow what the model explains: the
// median over samples of measured / (floor + modelled compute).
type Fidelity struct {
	Ratio   float64 `json:"ratio"`             // 0 when no sample has a floor
	Target  float64 `json:"target,omitempty"`  // set when the row was measured with the zero profile
	Checked bool    `json:"checked"`           // Target applies
	OK      bool    `json:"ok"`                // Ratio ≤ Target, or not checked
	Samples int     `json:"samples,omitempty"` // samples behind Ratio
}

// Options configure Build.
type Options struct {
	Run            RunInfo
	Sheet          *Sheet
	Silicon        map[string]mcu.Profile // nil: DefaultSilicon
	Generated      time.Time
	FidelityTarget float64 // 0: DefaultFidelityTarget
}

// Build groups samples into rows, computes their statistics and judges them against the sheet.
func Build(samples []Sample, o Options) *Report {
	if o.Silicon == nil {
		o.Silicon = DefaultSilicon()
	}
	if o.FidelityTarget == 0 {
		o.FidelityTarget = DefaultFidelityTarget
	}
	if o.Run.Mode == "" {
		o.Run.Mode = ModeEmulated
	}
	r := &Report{Schema: Schema, Generated: o.Generated.UTC(), Run: o.Run, Sheet: o.Sheet,
		Silicon: map[string]string{}, Passed: true, Failures: []string{}}
	for role, p := range o.Silicon {
		r.Silicon[role] = p.Name
	}
	rows := map[string]*Operation{}
	r.Profiles = []string{}
	for _, s := range samples {
		for _, d := range s.Compute {
			if d.Profile != "" && !slices.Contains(r.Profiles, d.Profile) {
				r.Profiles = append(r.Profiles, d.Profile)
			}
		}
		k := s.Key()
		row := rows[k]
		if row == nil {
			row = &Operation{Key: k, Operation: s.Operation, Variant: s.Variant}
			rows[k] = row
		}
		row.Samples = append(row.Samples, s)
	}
	if o.Sheet != nil {
		for _, b := range o.Sheet.Budgets {
			if _, ok := rows[b.Op]; ok || covered(rows, b.Op) {
				continue
			}
			op, variant := b.Op, ""
			if before, after, ok := strings.Cut(b.Op, "/"); ok {
				op, variant = before, after
			}
			rows[b.Op] = &Operation{Key: b.Op, Operation: op, Variant: variant, Samples: []Sample{}}
		}
	}
	sort.Strings(r.Profiles)
	r.Warnings = bitrateWarnings(samples, o.Sheet)
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		row := rows[k]
		fill(row, o.FidelityTarget)
		if b, ok := o.Sheet.Find(row.Operation, row.Variant); ok {
			row.Budget = &b
		}
		row.Verdict = judge(o.Run.Mode, row.Budget, row, o.Silicon)
		if row.Verdict.Failed {
			r.Passed = false
			r.Failures = append(r.Failures, row.Key)
		}
		r.Operations = append(r.Operations, *row)
	}
	return r
}

// covered reports whether a budget row for a plain operation already has measured variants.
func covered(rows map[string]*Operation, op string) bool {
	for _, r := range rows {
		if r.Operation == op {
			return true
		}
	}
	return false
}

// fill computes a row's statistics and fidelity.
func fill(row *Operation, target float64) {
	n := len(row.Samples)
	meas := make([]time.Duration, 0, n)
	floor := make([]time.Duration, 0, n)
	comp := make([]time.Duration, 0, n)
	rem := make([]time.Duration, 0, n)
	var perFrame []time.Duration
	var ratios []float64
	software := true
	for i := range row.Samples {
		s := &row.Samples[i]
		meas = append(meas, s.Measured)
		floor = append(floor, s.Floor)
		comp = append(comp, s.ComputeTotal())
		rem = append(rem, s.Remainder())
		if s.Frames > 0 {
			perFrame = append(perFrame, s.Measured/time.Duration(s.Frames))
		}
		if e := s.Floor + s.ComputeTotal(); e > 0 && !s.Paced {
			ratios = append(ratios, float64(s.Measured)/float64(e))
		}
		if modelled(s) {
			software = false
		}
	}
	row.Measured, row.Floor, row.Compute, row.Remainder = Summarize(meas), Summarize(floor), Summarize(comp), Summarize(rem)
	if len(perFrame) > 0 {
		st := Summarize(perFrame)
		row.PerFrame = &st
	}
	row.Fidelity = Fidelity{OK: true, Samples: len(ratios)}
	if len(ratios) > 0 {
		slices.SortFunc(ratios, cmp.Compare[float64])
		row.Fidelity.Ratio = round3(ratios[(len(ratios)+1)/2-1]) // nearest-rank median
		if software {
			row.Fidelity.Target, row.Fidelity.Checked = target, true
			row.Fidelity.OK = row.Fidelity.Ratio <= target
		}
	}
}

func round3(f float64) float64 {
	return float64(int64(f*1000+0.5)) / 1000
}

// SoftwareMessage is what the summaries say about a software-only run.
func (r *Report) SoftwareMessage() string {
	if len(r.Profiles) == 0 {
		return "no modelled compute recorded: software and bus alone, not a sign-off"
	}
	return "zero-cost profile: software and bus alone, not a sign-off"
}

// SoftwareOnly reports whether no sample was charged at a non-zero profile on an emulated rig:
// the run measured the software and the bus alone.
func (r *Report) SoftwareOnly() bool {
	if r.Run.Mode == ModeHardware {
		return false
	}
	for _, p := range r.Profiles {
		if !strings.EqualFold(p, "zero") {
			return false
		}
	}
	return true
}

// bitrateWarnings notes buses that ran at another bitrate than the sheet's targets are stated
// for: their floors, and so their verdicts, are not comparable with the targets.
func bitrateWarnings(samples []Sample, sheet *Sheet) []string {
	if sheet == nil || sheet.Bitrate <= 0 {
		return nil
	}
	seen := map[string]bool{}
	var ws []string
	for _, s := range samples {
		for _, b := range s.Buses {
			if b.Bitrate == sheet.Bitrate || seen[b.Iface] {
				continue
			}
			seen[b.Iface] = true
			ws = append(ws, fmt.Sprintf("bus %s ran at %d bit/s; the sheet's targets are stated for %d bit/s", b.Iface, b.Bitrate, sheet.Bitrate))
		}
	}
	sort.Strings(ws)
	return ws
}
