package rig

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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
	Op     string   `yaml:"op"`               // operation name, e.g. l3-handshake
	Target Duration `yaml:"target"`           // the measured value must be below it
	Per    string   `yaml:"per,omitempty"`    // operation (default) or frame
	Kind   string   `yaml:"kind,omitempty"`   // target (a specification's sign-off ceiling) or ceiling (the bench's own bound)
	Source string   `yaml:"source,omitempty"` // where the number comes from
	Note   string   `yaml:"note,omitempty"`
	// Statistic is the figure checked against Target: p50, p95, p99 (default), max or mean.
	Statistic string `yaml:"statistic,omitempty"`
	// Waiver, when set, accepts a miss of this budget and says why (the report shows it).
	Waiver string `yaml:"waiver,omitempty"`
}

var statistics = []string{"p50", "p95", "p99", "max", "mean"}

// Budget kinds.
const (
	KindTarget  = "target"
	KindCeiling = "ceiling"
)

var opRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// Find returns the budget for op.
func (s *BudgetSheet) Find(op string) (Budget, bool) {
	for _, b := range s.Budgets {
		if b.Op == op {
			return b, true
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
		if !opRE.MatchString(b.Op) {
			ps.add(p+".op", "%q: lower-case letters, digits and '-'", b.Op)
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
