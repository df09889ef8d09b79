package rig

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written in YAML as a Go duration string ("50ms", "2.5s").
type Duration time.Duration

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration must be a string like \"50ms\"", n.Line)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like \"50ms\"", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Std is the time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Budget "per" values.
const (
	PerOperation = "operation" // the whole operation, first frame queued to last frame received
	PerFrame     = "frame"     // divided by the frames the operation put on the bus
)

// BudgetSheet is a budget file: the latency ceilings the bench measures operations against.
type BudgetSheet struct {
	Name    string   `yaml:"name"`
	Bitrate int      `yaml:"bitrate"` // the bitrate the targets are stated for
	Budgets []Budget `yaml:"budgets"`
}

// Budget is one operation's ceiling.
type Budget struct {
	Op     string   `yaml:"op"`               // operation (l3-handshake) or operation/variant (l5-command-ack/charge-discharge)
	Target Duration `yaml:"target"`           // the measured value must be below it
	Per    string   `yaml:"per,omitempty"`    // operation (default) or frame
	Kind   string   `yaml:"kind,omitempty"`   // target (a specification's sign-off ceiling) or ceiling (the bench's own bound)
	Source string   `yaml:"source,omitempty"` // where the number comes from
	Note   string   `yaml:"note,omitempty"`
	// Statistic is the figure checked against Target: p50, p95, p99 (default), max or mean.
	Statistic string `yaml:"statistic,omitempty"`
	// Waiver, when set, is the reason a target that is impossible on the real silicon is
	// accepted anyway (verdict "waived"). It applies only when the report finds the target
	// impossible; a target the silicon can meet and the run missed still fails.
	Waiver string `yaml:"waiver,omitempty"`
}

var statistics = []string{"p50", "p95", "p99", "max", "mean"}

// Budget kinds.
const (
	KindTarget  = "target"
	KindCeiling = "ceiling"
)

// opPartRE is one part of an operation key: the operation, or its variant after a '/'.
var opPartRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// checkOp says what is wrong with an operation key ("" when nothing): an operation, or
// operation/variant, each part lower-case letters, digits and '-'.
func checkOp(key string) string {
	op, variant, hasVariant := strings.Cut(key, "/")
	switch {
	case !opPartRE.MatchString(op):
		return fmt.Sprintf("%q: the operation %q must be lower-case letters, digits and '-'", key, op)
	case hasVariant && !opPartRE.MatchString(variant):
		return fmt.Sprintf("%q: the variant %q after '/' must be lower-case letters, digits and '-' (one '/' at most)", key, variant)
	}
	return ""
}

// Find returns the budget for op, an operation or operation/variant: the row of that exact key
// first, then, for a variant, the row of its operation (as the latency report looks them up).
func (s *BudgetSheet) Find(op string) (Budget, bool) {
	keys := []string{op}
	if before, _, ok := strings.Cut(op, "/"); ok {
		keys = append(keys, before)
	}
	for _, k := range keys {
		for _, b := range s.Budgets {
			if b.Op == k {
				return b, true
			}
		}
	}
	return Budget{}, false
}

// Validate returns every problem of the sheet.
func (s *BudgetSheet) Validate() []Problem {
	var ps problems
	if s.Name == "" {
		ps.add("name", "required")
	}
	if s.Bitrate <= 0 {
		ps.add("bitrate", "required: the bitrate the targets are stated for")
	}
	if len(s.Budgets) == 0 {
		ps.add("budgets", "at least one budget is required")
	}
	seen := map[string]int{}
	for i, b := range s.Budgets {
		p := fmt.Sprintf("budgets[%d]", i)
		if msg := checkOp(b.Op); msg != "" {
			ps.add(p+".op", "%s", msg)
		} else if j, dup := seen[b.Op]; dup {
			ps.add(p+".op", "duplicate op %q (also budgets[%d])", b.Op, j)
		}
		seen[b.Op] = i
		if b.Target <= 0 {
			ps.add(p+".target", "required and positive")
		}
		if b.Per != "" && b.Per != PerOperation && b.Per != PerFrame {
			ps.add(p+".per", "%q: operation or frame", b.Per)
		}
		if b.Statistic != "" && !slices.Contains(statistics, b.Statistic) {
			ps.add(p+".statistic", "%q: p50, p95, p99, max or mean", b.Statistic)
		}
		if b.Kind != "" && b.Kind != KindTarget && b.Kind != KindCeiling {
			ps.add(p+".kind", "%q: target or ceiling", b.Kind)
		}
	}
	return ps
}

// ParseBudgets decodes and validates a budget sheet.
func ParseBudgets(b []byte) (*BudgetSheet, error) {
	var s BudgetSheet
	errs, at, fatal := decodeStrict(b, &s)
	if fatal {
		return nil, &Error{Problems: errs}
	}
	for _, p := range s.Validate() {
		if !coveredBy(p.Path, errs) {
			p.Line = lineOf(p.Path, at)
			errs = append(errs, p)
		}
	}
	if len(errs) > 0 {
		return &s, &Error{Problems: errs}
	}
	return &s, nil
}

// LoadBudgets reads a budget sheet file.
func LoadBudgets(path string) (*BudgetSheet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rig: budgets: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("rig: budgets: %w", err)
	}
	s, err := ParseBudgets(b)
	var e *Error
	if errors.As(err, &e) {
		e.File = path
	}
	return s, err
}

// BudgetPath is the budget sheet's path, resolved against the rig file's directory.
func (r *Rig) BudgetPath() string {
	if r.Budgets == "" || filepath.IsAbs(r.Budgets) || r.Path == "" {
		return r.Budgets
	}
	return filepath.Join(filepath.Dir(r.Path), r.Budgets)
}

// LoadBudgets loads the rig's budget sheet (nil, nil when the rig names none).
func (r *Rig) LoadBudgets() (*BudgetSheet, error) {
	if r.Budgets == "" {
		return nil, nil
	}
	return LoadBudgets(r.BudgetPath())
}
