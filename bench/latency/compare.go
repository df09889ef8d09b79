package latency

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Change is one operation's difference between two reports.
type Change struct {
	Key        string
	Presence   string // both, added (only in new), removed (only in old)
	OldP50     time.Duration
	NewP50     time.Duration
	OldP99     time.Duration
	NewP99     time.Duration
	OldFloor   time.Duration
	NewFloor   time.Duration
	P50        float64 // relative: 0.12 is +12 %; NaN when the old value is 0
	P99        float64
	Floor      float64
	OldVerdict string
	NewVerdict string
	OldCount   int
	NewCount   int
	Regression bool
	Reasons    []string // why it regressed
	Notes      []string // changes worth a look that are not regressions (the wire floor moved)
}

// Comparison is the release-to-release diff of two reports.
type Comparison struct {
	Threshold   float64 // relative rise of p50 or p99 that counts as a regression
	Changes     []Change
	Regressions int
	Warnings    []string // the two runs differ in a way that explains changes (profiles, mode, sheet)
}

// ParseThreshold reads "10%", "10 %" or "0.1".
func ParseThreshold(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	t = strings.TrimSpace(strings.TrimSuffix(t, "%"))
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("latency: threshold %q: a non-negative number or percentage", s)
	}
	if pct {
		v /= 100
	}
	return v, nil
}

// Compare diffs old and new. An operation regresses when its p50 or p99 rose by more than
// threshold, or when its verdict went from not failing to failing.
func Compare(old, new *Report, threshold float64) *Comparison {
	c := &Comparison{Threshold: threshold, Changes: []Change{}}
	if a, b := strings.Join(old.Profiles, ", "), strings.Join(new.Profiles, ", "); a != b {
		c.Warnings = append(c.Warnings, fmt.Sprintf("the runs were charged at different cost profiles (%s → %s): changes reflect the model, not only the code", orDash(a), orDash(b)))
	}
	if old.Run.Mode != new.Run.Mode {
		c.Warnings = append(c.Warnings, fmt.Sprintf("the runs are of different kinds (%s → %s)", old.Run.Mode, new.Run.Mode))
	}
	if old.Run.Rig != new.Run.Rig {
		c.Warnings = append(c.Warnings, fmt.Sprintf("the runs used different rigs (%s → %s)", orDash(old.Run.Rig), orDash(new.Run.Rig)))
	}
	olds, news := index(old), index(new)
	keys := map[string]bool{}
	for k := range olds {
		keys[k] = true
	}
	for k := range news {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		o, n := olds[k], news[k]
		ch := Change{Key: k, Presence: "both", P50: math.NaN(), P99: math.NaN(), Floor: math.NaN()}
		switch {
		case o == nil:
			ch.Presence = "added"
		case n == nil:
			ch.Presence = "removed"
		}
		if o != nil {
			ch.OldP50, ch.OldP99, ch.OldFloor, ch.OldVerdict, ch.OldCount = o.Measured.P50, o.Measured.P99, o.Floor.P50, o.Verdict.Status, o.Measured.Count
		}
		if n != nil {
			ch.NewP50, ch.NewP99, ch.NewFloor, ch.NewVerdict, ch.NewCount = n.Measured.P50, n.Measured.P99, n.Floor.P50, n.Verdict.Status, n.Measured.Count
		}
		if o != nil && n != nil && o.Measured.Count > 0 && n.Measured.Count > 0 {
			ch.P50, ch.P99, ch.Floor = rel(ch.OldP50, ch.NewP50), rel(ch.OldP99, ch.NewP99), rel(ch.OldFloor, ch.NewFloor)
			if ch.P50 > threshold {
				ch.Reasons = append(ch.Reasons, fmt.Sprintf("p50 %s", pct(ch.P50)))
			}
			if ch.P99 > threshold {
				ch.Reasons = append(ch.Reasons, fmt.Sprintf("p99 %s", pct(ch.P99)))
			}
			if math.Abs(ch.Floor) > threshold {
				ch.Notes = append(ch.Notes, fmt.Sprintf("wire floor %s: the frames on the bus changed", pct(ch.Floor)))
			}
		}
		if n != nil && n.Verdict.Failed && (o == nil || !o.Verdict.Failed) {
			ch.Reasons = append(ch.Reasons, "verdict now "+n.Verdict.Status)
		}
		ch.Regression = len(ch.Reasons) > 0
		if ch.Regression {
			c.Regressions++
		}
		c.Changes = append(c.Changes, ch)
	}
	return c
}

func index(r *Report) map[string]*Operation {
	m := map[string]*Operation{}
	for i := range r.Operations {
		m[r.Operations[i].Key] = &r.Operations[i]
	}
	return m
}

// rel is the relative change from a to b; NaN when a is 0.
func rel(a, b time.Duration) float64 {
	if a == 0 {
		if b == 0 {
			return 0
		}
		return math.NaN()
	}
	return float64(b-a) / float64(a)
}

func pct(f float64) string {
	if math.IsNaN(f) {
		return "—"
	}
	return fmt.Sprintf("%+.1f %%", f*100)
}

// WriteMarkdown writes the comparison as a table.
func (c *Comparison) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	outcome := "no regression"
	if c.Regressions > 0 {
		outcome = fmt.Sprintf("%d regression(s)", c.Regressions)
	}
	fmt.Fprintf(&b, "## Latency comparison: %s (threshold %s)\n\n", outcome, strings.TrimPrefix(pct(c.Threshold), "+"))
	for _, w := range c.Warnings {
		fmt.Fprintf(&b, "> ⚠️ %s\n\n", w)
	}
	b.WriteString("| operation | p50 old → new | Δ p50 | p99 old → new | Δ p99 | floor p50 old → new | Δ floor | verdict old → new | |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n")
	for _, ch := range c.Changes {
		var flags []string
		if ch.Regression {
			flags = append(flags, "❌ "+strings.Join(ch.Reasons, ", "))
		}
		if ch.Presence != "both" {
			flags = append(flags, ch.Presence)
		}
		flags = append(flags, ch.Notes...)
		flag := strings.Join(flags, "; ")
		oldIn, newIn := ch.OldCount > 0, ch.NewCount > 0
		fmt.Fprintf(&b, "| %s | %s → %s | %s | %s → %s | %s | %s → %s | %s | %s → %s | %s |\n", ch.Key,
			side(ch.OldP50, oldIn), side(ch.NewP50, newIn), pct(ch.P50),
			side(ch.OldP99, oldIn), side(ch.NewP99, newIn), pct(ch.P99),
			side(ch.OldFloor, oldIn), side(ch.NewFloor, newIn), pct(ch.Floor),
			orDash(ch.OldVerdict), orDash(ch.NewVerdict), flag)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func side(d time.Duration, present bool) string {
	if !present {
		return "—"
	}
	return ms(d)
}
