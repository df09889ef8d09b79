package latency

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// Report file names in a report directory.
const (
	FileJSON     = "latency.json"
	FileHTML     = "latency.html"
	FileMarkdown = "latency.md"
	FileJUnit    = "latency-junit.xml"
)

// WriteFiles writes the four reports into dir, creating it if needed.
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{FileJSON, func(b *bytes.Buffer) error { return r.WriteJSON(b) }},
		{FileHTML, func(b *bytes.Buffer) error { return r.WriteHTML(b) }},
		{FileMarkdown, func(b *bytes.Buffer) error { return r.WriteMarkdown(b) }},
		{FileJUnit, func(b *bytes.Buffer) error { return r.WriteJUnit(b) }},
	} {
		var b bytes.Buffer
		if err := f.write(&b); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("latency: %w", err)
		}
	}
	return nil
}
