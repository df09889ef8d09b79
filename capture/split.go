package capture

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/modbatt/hilrun/bus"
)

// SplitWriter writes one capture file per interface, dir/<iface><ext>, created on the first
// frame of that interface. It suits a rig with several buses, and pcap, which holds one
// interface per file.
type SplitWriter struct {
	dir, ext string
	mu       sync.Mutex
	files    map[string]Writer
	order    []string
}

// NewSplitWriter returns a SplitWriter that creates its files in dir with extension ext
// (".log" or ".pcap"); dir is created if needed.
func NewSplitWriter(dir, ext string) (*SplitWriter, error) {
	if FormatOf("x"+ext) == FormatUnknown {
		return nil, fmt.Errorf("%w: %q", ErrUnknownFormat, ext)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &SplitWriter{dir: dir, ext: ext, files: map[string]Writer{}}, nil
}

// Write records a frame in its interface's file.
func (s *SplitWriter) Write(iface string, r bus.Received) error {
	return s.WriteRecord(Record{Iface: iface, Received: r})
}

// WriteRecord records a frame or an error record in its interface's file.
func (s *SplitWriter) WriteRecord(rec Record) error {
	if err := checkIface(rec.Iface); err != nil {
		return err
	}
	if rec.Iface != filepath.Base(rec.Iface) || rec.Iface == "." || rec.Iface == ".." {
		return fmt.Errorf("%w: %q cannot name a file", ErrBadInterface, rec.Iface)
	}
	s.mu.Lock()
	w, ok := s.files[rec.Iface]
	if !ok {
		var err error
		if w, err = Create(filepath.Join(s.dir, rec.Iface+s.ext)); err != nil {
			s.mu.Unlock()
			return err
		}
		s.files[rec.Iface] = w
		s.order = append(s.order, rec.Iface)
	}
	s.mu.Unlock()
	return w.WriteRecord(rec)
}

// Paths returns the files written so far, in the order they were created.
func (s *SplitWriter) Paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.order))
	for i, iface := range s.order {
		out[i] = filepath.Join(s.dir, iface+s.ext)
	}
	return out
}

// Flush flushes every file.
func (s *SplitWriter) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, iface := range s.order {
		errs = append(errs, s.files[iface].Flush())
	}
	return errors.Join(errs...)
}

// Close closes every file.
func (s *SplitWriter) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, iface := range s.order {
		errs = append(errs, s.files[iface].Close())
	}
	return errors.Join(errs...)
}
