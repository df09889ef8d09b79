package session

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/modbatt/hilrun/protocol/freshness"
)

// ErrNotFound is what a Store returns for a record it does not hold.
var ErrNotFound = errors.New("session: record not found")

// Store persists named records. Put must be atomic and durable when it returns (the device's
// NVM gives that); a record is either its old or its new value after a power loss.
type Store interface {
	Get(name string) ([]byte, error) // ErrNotFound (possibly wrapped) when absent
	Put(name string, value []byte) error
	Delete(name string) error
}

// MemStore is an in-memory Store for tests and devices without NVM. It survives an engine's
// "reset" (a new Engine over the same MemStore), which is what tests of resumption need.
type MemStore struct {
	mu   sync.Mutex
	recs map[string][]byte
	fail error
	puts int
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{recs: map[string][]byte{}} }

// Get returns a copy of the record.
func (m *MemStore) Get(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.recs[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return append([]byte(nil), v...), nil
}

// Put stores a copy of value.
func (m *MemStore) Put(name string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.recs[name] = append([]byte(nil), value...)
	m.puts++
	return nil
}

// Delete removes a record; deleting an absent record is not an error.
func (m *MemStore) Delete(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	delete(m.recs, name)
	return nil
}

// FailWith makes every later write fail with err (nil restores the store).
func (m *MemStore) FailWith(err error) {
	m.mu.Lock()
	m.fail = err
	m.mu.Unlock()
}

// Names lists the records with a prefix, sorted.
func (m *MemStore) Names(prefix string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.recs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Puts counts successful writes (NVM wear in tests).
func (m *MemStore) Puts() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.puts
}

// Wipe forgets every record whose name starts with prefix ("" wipes all): the loss of a
// device's NVM in tests.
func (m *MemStore) Wipe(prefix string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.recs {
		if strings.HasPrefix(k, prefix) {
			delete(m.recs, k)
		}
	}
}

// CounterStore adapts one named record of a Store to freshness.Store: the record holds the
// counter's reserved ceiling as 8 bytes big-endian.
func CounterStore(s Store, name string) freshness.Store { return &counterStore{s: s, name: name} }

type counterStore struct {
	s    Store
	name string
}

func (c *counterStore) Load() (uint64, error) {
	b, ok, err := getRecord(c.s, c.name)
	if err != nil || !ok {
		return 0, err
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("session: counter record %s has %d bytes", c.name, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

func (c *counterStore) Reserve(upTo uint64) error {
	cur, err := c.Load()
	if err != nil {
		return err
	}
	if upTo < cur {
		return fmt.Errorf("session: counter %s: ceiling %d below %d", c.name, upTo, cur)
	}
	return c.s.Put(c.name, binary.BigEndian.AppendUint64(nil, upTo))
}

// getRecord reads a record; a Store may report absence with ErrNotFound or with an empty value.
func getRecord(s Store, name string) ([]byte, bool, error) {
	b, err := s.Get(name)
	if errors.Is(err, ErrNotFound) || (err == nil && len(b) == 0) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("session: read %s: %w", name, err)
	}
	return b, true, nil
}
