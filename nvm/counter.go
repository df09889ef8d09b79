package nvm

import (
	"encoding/binary"
	"fmt"

	"github.com/modbatt/hilrun/protocol/freshness"
)

// CounterStore returns a freshness.Store that keeps a counter's reserved ceiling in the
// record name, as 8 big-endian bytes. Each Reserve is one atomic, synced update, so a counter
// built on it (freshness.NewCounter) never reuses a value after a reset or power loss.
func (s *Store) CounterStore(name string) freshness.Store {
	return counterStore{s: s, name: name}
}

type counterStore struct {
	s    *Store
	name string
}

func (c counterStore) Load() (uint64, error) {
	v, ok := c.s.Get(c.name)
	if !ok {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: counter %q holds %d bytes, want 8", ErrValue, c.name, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func (c counterStore) Reserve(upTo uint64) error {
	cur, err := c.Load()
	if err != nil {
		return err
	}
	if upTo < cur {
		return fmt.Errorf("%w: counter %q ceiling %d below stored %d", ErrValue, c.name, upTo, cur)
	}
	return c.s.Put(c.name, binary.BigEndian.AppendUint64(nil, upTo))
}
