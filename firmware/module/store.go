package module

import (
	"encoding/binary"
	"fmt"

	"github.com/modbatt/hilrun/nvm"
	"github.com/modbatt/hilrun/protocol/session"
)

// NVM record names. The identity records survive a factory reset; the link engine's records
// live under webPrefix.
const (
	recUniqueID = "id/unique-id"
	recMfgPart  = "id/mfg-part"
	webPrefix   = "web4/"
)

// identityRecords are the records a factory reset keeps.
var identityRecords = []string{recUniqueID, recMfgPart}

// engineStore gives the link engine its records in the module's NVM file.
type engineStore struct{ s *nvm.Store }

func (e engineStore) Get(name string) ([]byte, error) {
	v, ok := e.s.Get(webPrefix + name)
	if !ok {
		return nil, fmt.Errorf("%w: %s", session.ErrNotFound, name)
	}
	return v, nil
}

func (e engineStore) Put(name string, value []byte) error { return e.s.Put(webPrefix+name, value) }
func (e engineStore) Delete(name string) error            { return e.s.Delete(webPrefix + name) }

// checkIdentity writes the identity records on first boot and refuses an NVM file that
// belongs to another module.
func checkIdentity(s *nvm.Store, uid uint32, mfg, part uint8) error {
	want := binary.BigEndian.AppendUint32(nil, uid)
	mp := []byte{mfg, part}
	got, ok := s.Get(recUniqueID)
	if !ok {
		return s.PutMany(map[string][]byte{recUniqueID: want, recMfgPart: mp})
	}
	if string(got) != string(want) {
		return fmt.Errorf("%w: NVM belongs to unique ID %x, not %08x", ErrConfig, got, uid)
	}
	if g, ok := s.Get(recMfgPart); !ok || string(g) != string(mp) {
		return s.Put(recMfgPart, mp)
	}
	return nil
}
