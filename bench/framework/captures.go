package framework

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/capture"
)

// DefaultCaptureLimit is how many frames a bring-up's capture of one bus keeps by default:
// about 15 MB of candump log. A module update over CAN moves an emulated image of several
// megabytes in millions of frames, which says nothing a bounded capture would not.
const DefaultCaptureLimit = 250_000

// busCapture records every frame one bus carries to a candump log and a pcap file, up to a
// limit; frames past it are counted, not written.
type busCapture struct {
	iface   string
	paths   []string
	mu      sync.Mutex
	ws      []capture.Writer
	errs    []error
	limit   int // 0: no limit
	written int
	over    int // frames past the limit
}

func newBusCapture(dir, prefix, iface string, limit int) (*busCapture, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("framework: capture directory: %w", err)
	}
	c := &busCapture{iface: iface, limit: limit}
	for _, ext := range []string{".log", ".pcap"} {
		p := filepath.Join(dir, prefix+iface+ext)
		w, err := capture.Create(p)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("framework: capture %s: %w", p, err)
		}
		c.ws = append(c.ws, w)
		c.paths = append(c.paths, p)
	}
	return c, nil
}

// Record implements emu.Recorder.
func (c *busCapture) Record(r bus.Received) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.limit > 0 && c.written >= c.limit {
		c.over++
		return nil
	}
	c.written++
	var err error
	for _, w := range c.ws {
		err = errors.Join(err, w.Write(c.iface, r))
	}
	if err != nil && len(c.errs) < 8 {
		c.errs = append(c.errs, err)
	}
	return err
}

func (c *busCapture) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := errors.Join(c.errs...)
	for _, w := range c.ws {
		err = errors.Join(err, w.Close())
	}
	c.ws = nil
	return err
}
