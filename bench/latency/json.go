package latency

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrBadReport is wrapped by every error about a latency.json's content.
var ErrBadReport = errors.New("latency: bad report")

// MaxReportSize bounds what ReadReport accepts.
const MaxReportSize = 256 << 20

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadReport decodes and checks a latency.json. Fields it does not know are ignored, so a newer
// report still compares with an older one.
func ReadReport(rd io.Reader) (*Report, error) {
	b, err := io.ReadAll(io.LimitReader(rd, MaxReportSize+1))
	if err != nil {
		return nil, fmt.Errorf("latency: %w", err)
	}
	if len(b) > MaxReportSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBadReport, MaxReportSize)
	}
	var r Report
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadReport, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the report", ErrBadReport)
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return &r, nil
}

// LoadReport reads a latency.json file.
func LoadReport(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("latency: %w", err)
	}
	defer f.Close()
	r, err := ReadReport(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

func (r *Report) check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadReport}, a...)...)
	}
	if r.Schema != Schema && !strings.HasPrefix(r.Schema, "hilrun-latency/1.") {
		return bad("schema %q, want %q", r.Schema, Schema)
	}
	seen := map[string]bool{}
	for i := range r.Operations {
		o := &r.Operations[i]
		if o.Key == "" {
			return bad("operations[%d]: empty key", i)
		}
		if seen[o.Key] {
			return bad("operations[%d]: duplicate key %q", i, o.Key)
		}
		seen[o.Key] = true
		for name, s := range map[string]*Stats{"measured": &o.Measured, "floor": &o.Floor, "compute": &o.Compute} {
			if err := s.check(false); err != nil {
				return bad("operations[%d] %q %s: %v", i, o.Key, name, err)
			}
		}
		if err := o.Remainder.check(true); err != nil {
			return bad("operations[%d] %q remainder: %v", i, o.Key, err)
		}
		if o.PerFrame != nil {
			if err := o.PerFrame.check(false); err != nil {
				return bad("operations[%d] %q per_frame: %v", i, o.Key, err)
			}
		}
		for j := range o.Samples {
			s := &o.Samples[j]
			if s.Measured < 0 || s.Floor < 0 || s.Frames < 0 {
				return bad("operations[%d] %q samples[%d]: negative value", i, o.Key, j)
			}
		}
	}
	return nil
}

// check reports a Stats that no sample set could produce.
func (s *Stats) check(signed bool) error {
	if s.Count < 0 {
		return fmt.Errorf("negative count")
	}
	if s.Count == 0 {
		return nil
	}
	if !signed && s.Min < 0 {
		return fmt.Errorf("negative duration")
	}
	if !(s.Min <= s.P50 && s.P50 <= s.P95 && s.P95 <= s.P99 && s.P99 <= s.Max && s.Min <= s.Mean && s.Mean <= s.Max) {
		return fmt.Errorf("statistics out of order")
	}
	return nil
}
