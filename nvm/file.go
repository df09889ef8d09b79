package nvm

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// File is the storage a Store writes through: an OS file, memory (MemFile), or a test double
// that injects power loss (FaultFile).
type File interface {
	io.ReaderAt
	io.WriterAt
	Sync() error
	Size() (int64, error)
	Close() error
}

type osFile struct{ f *os.File }

func (o osFile) ReadAt(p []byte, off int64) (int, error)  { return o.f.ReadAt(p, off) }
func (o osFile) WriteAt(p []byte, off int64) (int, error) { return o.f.WriteAt(p, off) }
func (o osFile) Sync() error                              { return o.f.Sync() }
func (o osFile) Close() error                             { return o.f.Close() }
func (o osFile) Size() (int64, error) {
	st, err := o.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// MemFile is a File in memory, for unit tests and devices without a file. It is safe for
// concurrent use.
type MemFile struct {
	mu     sync.Mutex
	data   []byte
	syncs  int
	closed bool
}

// NewMemFile returns a memory file holding a copy of b.
func NewMemFile(b []byte) *MemFile { return &MemFile{data: append([]byte(nil), b...)} }

// ReadAt reads like os.File.ReadAt: io.EOF when fewer than len(p) bytes remain.
func (m *MemFile) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if off < 0 {
		return 0, errors.New("nvm: negative offset")
	}
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	n := copy(p, m.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt writes p at off, growing the file with zeros if needed.
func (m *MemFile) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, os.ErrClosed
	}
	if off < 0 {
		return 0, errors.New("nvm: negative offset")
	}
	if end := off + int64(len(p)); end > int64(len(m.data)) {
		m.data = append(m.data, make([]byte, end-int64(len(m.data)))...)
	}
	return copy(m.data[off:], p), nil
}

// Sync counts the call; memory is always "durable".
func (m *MemFile) Sync() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.syncs++
	return nil
}

// Size returns the length of the file.
func (m *MemFile) Size() (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.data)), nil
}

// Close marks the file closed; its bytes stay readable through Bytes.
func (m *MemFile) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// Bytes returns a copy of the file's content.
func (m *MemFile) Bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.data...)
}

// Syncs returns how many times Sync was called.
func (m *MemFile) Syncs() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.syncs
}

// ErrPowerLoss is returned by a FaultFile once its byte budget is spent: the simulated power
// is off and nothing more reaches the medium.
var ErrPowerLoss = errors.New("nvm: simulated power loss")

// FaultFile wraps a File and cuts the power after Budget more bytes have been written: the
// write that crosses the budget persists only its first bytes up to it, and every later
// write or sync fails with ErrPowerLoss. A negative Budget never cuts. Tests use it to prove
// that an update interrupted at any byte leaves the old or the new state.
type FaultFile struct {
	File
	mu      sync.Mutex
	Budget  int64
	written int64
	off     bool
}

// NewFaultFile wraps f with a budget of n bytes.
func NewFaultFile(f File, n int64) *FaultFile { return &FaultFile{File: f, Budget: n} }

// WriteAt writes as much of p as the budget allows.
func (c *FaultFile) WriteAt(p []byte, off int64) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.off {
		return 0, ErrPowerLoss
	}
	if c.Budget < 0 || c.written+int64(len(p)) <= c.Budget {
		n, err := c.File.WriteAt(p, off)
		c.written += int64(n)
		return n, err
	}
	keep := c.Budget - c.written
	c.off = true
	if keep > 0 {
		n, err := c.File.WriteAt(p[:keep], off)
		c.written += int64(n)
		if err != nil {
			return n, err
		}
	}
	return int(keep), fmt.Errorf("after %d bytes: %w", c.Budget, ErrPowerLoss)
}

// Sync fails once the power is off.
func (c *FaultFile) Sync() error {
	c.mu.Lock()
	off := c.off
	c.mu.Unlock()
	if off {
		return ErrPowerLoss
	}
	return c.File.Sync()
}

// Written returns how many bytes reached the medium.
func (c *FaultFile) Written() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.written
}

// PoweredOff reports whether the budget was spent.
func (c *FaultFile) PoweredOff() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.off
}
