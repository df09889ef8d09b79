// Package nvm keeps a device's persistent state (keys, bindings, pairings, counters) in one
// file: a small store of named records whose every update is atomic and survives a power loss
// at any byte.
//
// # Layout
//
// The file holds two slots of equal, fixed size (Options.SlotSize, 64 KiB by default): slot A
// at offset 0 and slot B at offset SlotSize. Each slot holds a whole image of the store:
//
//	offset  size  field
//	0       4     magic "hNVM"
//	4       2     format version (1), big-endian
//	6       2     reserved, zero
//	8       8     generation, big-endian; 0 only in a freshly formatted file
//	16      4     payload length, big-endian (at most SlotSize − 64)
//	20      4     slot size, big-endian (must equal the store's)
//	24      8     reserved, zero
//	32      32    SHA-256 over bytes 0–31 and the payload
//	64      …     payload
//
// The payload is the record count (u32) followed by the records in strictly increasing byte
// order of their names, each as name length (u16, 1–MaxNameLen), name, value length (u32),
// value; all big-endian. Nothing may follow the last record.
//
// # Updates
//
// An update encodes the whole new image with the next generation and writes it into the slot
// that does not hold the newest valid image, then syncs: at that moment the update is
// committed and the call may succeed. It then writes the same image into the other slot and
// syncs again, so that a settled file holds the newest image twice. On load the valid slot
// with the highest generation wins; a slot is valid only if its header is consistent and its
// SHA-256 matches, so any torn, partial or corrupted write is detected and ignored.
//
// Consequences: a power loss at any byte of an update leaves the old state or the new one,
// never a mix; an update that returned nil is never lost (its image was synced before the
// second slot was touched); and one corrupted byte anywhere in a settled file still loads the
// newest state, because its mirror is intact. Only when both slots are bad does Open fail,
// with ErrCorrupt. Each update costs two slot writes and two syncs, which a device's rare key
// writes and counter reservations (one per freshness.DefaultBlock messages) easily afford.
//
// A new file is formatted in a temporary file that is synced and renamed into place, so a
// power loss while creating it leaves no file rather than a half-formatted one. An open file
// is locked (flock) so two device processes never share one NVM file.
package nvm
