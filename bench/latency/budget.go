package latency

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"gopkg.in/yaml.v3"
)

// Sheet is a budget sheet (rigs/budgets/*.yaml, referenced by a rig file): the ceilings the
// report checks operations against. This loader reads the rig's format plus two fields of its
// own: statistic and waiver.
type Sheet struct {
	Name    string   `yaml:"name" json:"name"`
	Bitrate int      `yaml:"bitrate" json:"bitrate"` // the bitrate the targets are stated for
	Budgets []Budget `yaml:"budgets" json:"budgets"`
}

// Budget is one row of a sheet.
type Budget struct {
	Op        string       `yaml:"op" json:"op"`                                   // operation, or operation/variant
	Target    YAMLDuration `yaml:"target" json:"target_ns"`                        // the statistic must be below it
	Per       string       `yaml:"per,omitempty" json:"per,omitempty"`             // operation (default) or frame
	Kind      string       `yaml:"kind,omitempty" json:"kind,omitempty"`           // target (seed sign-off) or ceiling (bench bound)
	Statistic Statistic    `yaml:"statistic,omitempty" json:"statistic,omitempty"` // p99 when empty
	Source    string       `yaml:"source,omitempty" json:"source,omitempty"`
	Note      string       `yaml:"note,omitempty" json:"note,omitempty"`
	// Waiver, when set, is the reason a target that is impossible on the real silicon is
	// accepted anyway. It applies only when the report finds the target impossible; a target
	// the silicon can meet and the run missed still fails.
	Waiver string `yaml:"waiver,omitempty" json:"waiver,omitempty"`
}

// Budget "per" and "kind" values (the rig format's).
const (
	PerOperation = "operation"
	PerFrame     = "frame"
	KindTarget   = "target"
	KindCeiling  = "ceiling"
)

// YAMLDuration is a duration written as a Go duration string ("50ms") in YAML and as
// nanoseconds in JSON.
type YAMLDuration time.Duration

// UnmarshalYAML reads a duration string.
func (d *YAMLDuration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return fmt.Errorf("line %d: %q is not a duration like \"50ms\"", n.Line, n.Value)
	}
	*d = YAMLDuration(v)
	return nil
}

// ErrBadSheet is wrapped by every error about a sheet's content.
var ErrBadSheet = errors.New("latency: bad budget sheet")

var opName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)?$`)

// ParseSheet decodes and checks a budget sheet. Unknown fields are errors, so a misspelt
// "waiver" cannot silently fail to waive.
func ParseSheet(b []byte) (*Sheet, error) {
	var s Sheet
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSheet, err)
	}
	if s.Bitrate < 0 {
		return nil, fmt.Errorf("%w: bitrate %d", ErrBadSheet, s.Bitrate)
	}
	seen := map[string]bool{}
	for i, r := range s.Budgets {
		switch {
		case !opName.MatchString(r.Op):
			return nil, fmt.Errorf("%w: budgets[%d].op %q", ErrBadSheet, i, r.Op)
		case seen[r.Op]:
			return nil, fmt.Errorf("%w: budgets[%d]: duplicate op %q", ErrBadSheet, i, r.Op)
		case r.Target <= 0:
			return nil, fmt.Errorf("%w: budgets[%d].target must be positive", ErrBadSheet, i)
		case r.Per != "" && r.Per != PerOperation && r.Per != PerFrame:
			return nil, fmt.Errorf("%w: budgets[%d].per %q: operation or frame", ErrBadSheet, i, r.Per)
		case r.Kind != "" && r.Kind != KindTarget && r.Kind != KindCeiling:
			return nil, fmt.Errorf("%w: budgets[%d].kind %q: target or ceiling", ErrBadSheet, i, r.Kind)
		}
		if _, ok := r.Statistic.Of(Stats{}); !ok {
			return nil, fmt.Errorf("%w: budgets[%d].statistic %q: p50, p95, p99, max or mean", ErrBadSheet, i, r.Statistic)
		}
		seen[r.Op] = true
	}
	return &s, nil
}

// LoadSheet reads a budget sheet file.
func LoadSheet(path string) (*Sheet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("latency: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("latency: %s: %w", path, err)
	}
	s, err := ParseSheet(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Find returns the budget for a report row: the row's own key (operation/variant) first, then
// its operation.
func (s *Sheet) Find(operation, variant string) (Budget, bool) {
	if s == nil {
		return Budget{}, false
	}
	keys := []string{operation}
	if variant != "" {
		keys = []string{operation + "/" + variant, operation}
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
