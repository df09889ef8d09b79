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

// busCapture records every frame one bus carries to a candump log and a pcap file.
type busCapture struct {
	iface string
	paths []string
	mu    sync.Mutex
	ws    []capture.Writer
	errs  []error
}

func newBusCapture(dir, prefix, iface string) (*busCapture, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("framework: capture directory: %w", err)
	}
	c := &busCapture{iface: iface}
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
