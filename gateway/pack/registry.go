package pack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/modbatt/hilrun/legacy"
)

// RegistryRecord is the name of the Store record that keeps the module registry, so a pack
// that restarts goes on polling its modules under their IDs (a module keeps its ID while it
// hears the pack, so a pack that forgot it would never hear from it again, and its Web4
// address would change with a new registration).
//
// Layout: version byte 1, then one 7-byte entry per module in increasing ID order: module ID
// (0x01–0x1F), manufacturer, part, unique ID u32 big-endian.
const RegistryRecord = "pack/modules"

const (
	registryVersion = 1
	registryEntry   = 7
)

// ErrRegistry is wrapped by the errors of a registry record that does not parse.
var ErrRegistry = errors.New("pack: bad module registry record")

type regEntry struct {
	id, mfg, part uint8
	uid           uint32
}

func encodeRegistry(c *core) []byte {
	b := []byte{registryVersion}
	for _, m := range c.mods {
		if m != nil {
			b = append(b, m.id, m.mfg, m.part)
			b = binary.BigEndian.AppendUint32(b, m.uid)
		}
	}
	return b
}

// decodeRegistry parses a registry record strictly: right version, whole entries, IDs in range
// and strictly increasing, unique IDs distinct.
func decodeRegistry(b []byte) ([]regEntry, error) {
	if len(b) == 0 || b[0] != registryVersion {
		return nil, fmt.Errorf("%w: version", ErrRegistry)
	}
	b = b[1:]
	if len(b)%registryEntry != 0 {
		return nil, fmt.Errorf("%w: %d bytes of entries", ErrRegistry, len(b))
	}
	var out []regEntry
	seen := map[uint32]bool{}
	for i := 0; i < len(b); i += registryEntry {
		e := regEntry{id: b[i], mfg: b[i+1], part: b[i+2], uid: binary.BigEndian.Uint32(b[i+3:])}
		switch {
		case e.id < legacy.ModuleFirst || e.id > legacy.ModuleLast:
			return nil, fmt.Errorf("%w: module ID %#02x", ErrRegistry, e.id)
		case len(out) > 0 && e.id <= out[len(out)-1].id:
			return nil, fmt.Errorf("%w: module IDs out of order", ErrRegistry)
		case seen[e.uid]:
			return nil, fmt.Errorf("%w: unique ID %#08x twice", ErrRegistry, e.uid)
		}
		seen[e.uid] = true
		out = append(out, e)
	}
	return out, nil
}

// restore registers the modules of a registry record; their silence starts at now.
func (c *core) restore(es []regEntry, now time.Time) {
	for _, e := range es {
		c.mods[e.id] = &module{id: e.id, mfg: e.mfg, part: e.part, uid: e.uid, heard: now}
	}
	c.publish()
}
