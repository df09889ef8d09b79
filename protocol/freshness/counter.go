package freshness

import (
	"errors"
	"fmt"
	"math"
	"sync"
)

// ErrExhausted is returned when a counter has used its last value; the key must be replaced.
var ErrExhausted = errors.New("freshness: counter exhausted")

// Store persists a sender counter's reserved ceiling: every value below it may have been used,
// no value at or above it has been. Reserve must be durable (atomic) before it returns.
type Store interface {
	Load() (uint64, error) // the ceiling; 0 for a counter never used
	Reserve(upTo uint64) error
}

// DefaultBlock is how many values a counter reserves per store write.
const DefaultBlock = 256

// Counter hands out a direction's counter values in increasing order. It reserves a block of
// values in its Store before using any of them, so after a reset it resumes at the reserved
// ceiling: a power loss can skip up to a block of values but never repeats one. It is safe for
// concurrent use.
type Counter struct {
	mu      sync.Mutex
	store   Store
	block   uint64
	next    uint64
	ceiling uint64
}

// NewCounter resumes the counter persisted in s, reserving block values per store write
// (0 means DefaultBlock).
func NewCounter(s Store, block uint64) (*Counter, error) {
	if block == 0 {
		block = DefaultBlock
	}
	c, err := s.Load()
	if err != nil {
		return nil, fmt.Errorf("freshness: loading counter: %w", err)
	}
	return &Counter{store: s, block: block, next: c, ceiling: c}, nil
}

// Next returns a value never returned before, by this counter or any earlier one on the same
// store. The largest uint64 is never issued: it marks exhaustion.
func (c *Counter) Next() (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next == math.MaxUint64 {
		return 0, ErrExhausted
	}
	if c.next >= c.ceiling {
		up := c.next + c.block
		if up < c.next { // saturate
			up = math.MaxUint64
		}
		if err := c.store.Reserve(up); err != nil {
			return 0, fmt.Errorf("freshness: reserving counter block: %w", err)
		}
		c.ceiling = up
	}
	v := c.next
	c.next++
	return v, nil
}

// Peek returns the value Next would return.
func (c *Counter) Peek() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.next
}

// MemStore is an in-memory Store for tests and emulated devices without NVM.
type MemStore struct {
	mu      sync.Mutex
	ceiling uint64
	writes  int
	fail    error
}

// NewMemStore returns a store holding ceiling.
func NewMemStore(ceiling uint64) *MemStore { return &MemStore{ceiling: ceiling} }

// Load returns the ceiling.
func (m *MemStore) Load() (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ceiling, nil
}

// Reserve records a new ceiling; it refuses to lower one.
func (m *MemStore) Reserve(upTo uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if upTo < m.ceiling {
		return fmt.Errorf("freshness: ceiling %d below stored %d", upTo, m.ceiling)
	}
	m.ceiling = upTo
	m.writes++
	return nil
}

// Writes returns how many reservations were stored.
func (m *MemStore) Writes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

// FailWith makes every later Reserve fail with err (nil restores it), to test lost NVM writes.
func (m *MemStore) FailWith(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}
