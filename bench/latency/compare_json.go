package latency

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

// CompareSchema identifies the comparison.json format (docs/latency-report.md).
const CompareSchema = "hilrun-latency-compare/1"

// comparisonDoc is comparison.json: durations in nanoseconds, relative changes as fractions
// (0.12 is +12 %) and null where the old value was zero (no relative change exists).
type comparisonDoc struct {
	Schema      string      `json:"schema"`
	Threshold   float64     `json:"threshold"`
	Regressions int         `json:"regressions"`
	Warnings    []string    `json:"warnings"`
	Changes     []changeDoc `json:"changes"`
}

type changeDoc struct {
	Key        string        `json:"key"`
	Presence   string        `json:"presence"`
	OldCount   int           `json:"old_count"`
	NewCount   int           `json:"new_count"`
	OldP50     time.Duration `json:"old_p50_ns"`
	NewP50     time.Duration `json:"new_p50_ns"`
	P50        *float64      `json:"p50_change"`
	OldP99     time.Duration `json:"old_p99_ns"`
	NewP99     time.Duration `json:"new_p99_ns"`
	P99        *float64      `json:"p99_change"`
	OldFloor   time.Duration `json:"old_floor_p50_ns"`
	NewFloor   time.Duration `json:"new_floor_p50_ns"`
	Floor      *float64      `json:"floor_change"`
	OldVerdict string        `json:"old_verdict,omitempty"`
	NewVerdict string        `json:"new_verdict,omitempty"`
	Regression bool          `json:"regression"`
	Reasons    []string      `json:"reasons"`
	Notes      []string      `json:"notes"`
}

// finite is f, or nil where JSON has no number for it (NaN: no relative change).
func finite(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// WriteJSON writes the comparison as comparison.json (schema hilrun-latency-compare/1).
func (c *Comparison) WriteJSON(w io.Writer) error {
	d := comparisonDoc{Schema: CompareSchema, Threshold: c.Threshold, Regressions: c.Regressions,
		Warnings: orEmpty(c.Warnings), Changes: make([]changeDoc, 0, len(c.Changes))}
	for _, ch := range c.Changes {
		d.Changes = append(d.Changes, changeDoc{Key: ch.Key, Presence: ch.Presence, OldCount: ch.OldCount, NewCount: ch.NewCount,
			OldP50: ch.OldP50, NewP50: ch.NewP50, P50: finite(ch.P50), OldP99: ch.OldP99, NewP99: ch.NewP99, P99: finite(ch.P99),
			OldFloor: ch.OldFloor, NewFloor: ch.NewFloor, Floor: finite(ch.Floor), OldVerdict: ch.OldVerdict, NewVerdict: ch.NewVerdict,
			Regression: ch.Regression, Reasons: orEmpty(ch.Reasons), Notes: orEmpty(ch.Notes)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return fmt.Errorf("latency: comparison: %w", err)
	}
	return nil
}

// WriteJSONFile writes comparison.json to path.
func (c *Comparison) WriteJSONFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	if err := c.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	return nil
}
