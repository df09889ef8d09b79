package nvm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

const (
	headerSize    = 64
	formatVersion = 1
	// MaxNameLen is the longest record name.
	MaxNameLen = 255
	// DefaultSlotSize is the size of each of the two slots unless Options say otherwise.
	DefaultSlotSize = 64 << 10
	// MinSlotSize is the smallest slot a store accepts.
	MinSlotSize = 128
	// MaxSlotSize is the largest slot a store accepts.
	MaxSlotSize = 64 << 20
)

var magic = [4]byte{'h', 'N', 'V', 'M'}

// Sentinel errors; the typed errors below wrap them.
var (
	// ErrCorrupt: neither slot of the file holds a valid image.
	ErrCorrupt = errors.New("nvm: corrupt store")
	// ErrBadSlot: one slot is not a valid image (torn, corrupted, or never written).
	ErrBadSlot = errors.New("nvm: bad slot")
	// ErrFull: the new image does not fit in a slot.
	ErrFull = errors.New("nvm: store full")
	// ErrBadName: a record name is empty or longer than MaxNameLen.
	ErrBadName = errors.New("nvm: bad record name")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("nvm: store closed")
	// ErrMirror: an update was committed but writing its second copy failed, so the file has
	// lost its redundancy until the next successful update.
	ErrMirror = errors.New("nvm: mirror write failed")
	// ErrLocked: another process has the file open.
	ErrLocked = errors.New("nvm: store in use by another process")
	// ErrValue: a record holds a value of the wrong shape for its use (a counter of the
	// wrong length).
	ErrValue = errors.New("nvm: bad record value")
)

// SlotError says why one slot was rejected.
type SlotError struct {
	Slot   int // 0 for A, 1 for B
	Reason string
}

func (e *SlotError) Error() string {
	return fmt.Sprintf("nvm: slot %c: %s", 'A'+rune(e.Slot), e.Reason)
}

func (e *SlotError) Unwrap() error { return ErrBadSlot }

// CorruptError is returned by Open when neither slot is valid.
type CorruptError struct {
	Path  string
	Slots [2]*SlotError
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("nvm: %s: no valid image (%s; %s)", e.Path, e.Slots[0].Reason, e.Slots[1].Reason)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

type header struct {
	gen        uint64
	payloadLen uint32
	slotSize   uint32
	sum        [32]byte
}

// encodeImage returns the slot image (header and payload) of records at generation gen.
func encodeImage(records map[string][]byte, gen uint64, slotSize int) ([]byte, error) {
	payload := encodeRecords(records)
	if len(payload) > slotSize-headerSize {
		return nil, fmt.Errorf("%w: image of %d bytes, slot holds %d", ErrFull, len(payload), slotSize-headerSize)
	}
	img := make([]byte, headerSize+len(payload))
	copy(img[0:4], magic[:])
	binary.BigEndian.PutUint16(img[4:6], formatVersion)
	binary.BigEndian.PutUint64(img[8:16], gen)
	binary.BigEndian.PutUint32(img[16:20], uint32(len(payload)))
	binary.BigEndian.PutUint32(img[20:24], uint32(slotSize))
	copy(img[headerSize:], payload)
	sum := imageSum(img[:32], payload)
	copy(img[32:64], sum[:])
	return img, nil
}

func imageSum(head, payload []byte) [32]byte {
	h := sha256.New()
	h.Write(head)
	h.Write(payload)
	var s [32]byte
	h.Sum(s[:0])
	return s
}

// parseHeader checks a slot header against the store's slot size.
func parseHeader(b []byte, slotSize int) (header, string) {
	var h header
	if len(b) < headerSize {
		return h, fmt.Sprintf("short header (%d bytes)", len(b))
	}
	if !bytes.Equal(b[0:4], magic[:]) {
		return h, "no magic"
	}
	if v := binary.BigEndian.Uint16(b[4:6]); v != formatVersion {
		return h, fmt.Sprintf("format version %d, want %d", v, formatVersion)
	}
	if binary.BigEndian.Uint16(b[6:8]) != 0 || binary.BigEndian.Uint64(b[24:32]) != 0 {
		return h, "reserved bytes not zero"
	}
	h.gen = binary.BigEndian.Uint64(b[8:16])
	h.payloadLen = binary.BigEndian.Uint32(b[16:20])
	h.slotSize = binary.BigEndian.Uint32(b[20:24])
	copy(h.sum[:], b[32:64])
	if int64(h.slotSize) != int64(slotSize) {
		return h, fmt.Sprintf("slot size %d, store uses %d", h.slotSize, slotSize)
	}
	if int64(h.payloadLen) > int64(slotSize-headerSize) {
		return h, fmt.Sprintf("payload length %d exceeds slot", h.payloadLen)
	}
	return h, ""
}

// encodeRecords is the payload: count, then records sorted by name.
func encodeRecords(records map[string][]byte) []byte {
	names := make([]string, 0, len(records))
	size := 4
	for n, v := range records {
		names = append(names, n)
		size += 2 + len(n) + 4 + len(v)
	}
	sort.Strings(names)
	b := make([]byte, 0, size)
	b = binary.BigEndian.AppendUint32(b, uint32(len(names)))
	for _, n := range names {
		b = binary.BigEndian.AppendUint16(b, uint16(len(n)))
		b = append(b, n...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(records[n])))
		b = append(b, records[n]...)
	}
	return b
}

// decodeRecords parses a payload strictly: canonical order, no duplicates, no trailing bytes.
func decodeRecords(b []byte) (map[string][]byte, string) {
	if len(b) < 4 {
		return nil, "payload shorter than its record count"
	}
	count := binary.BigEndian.Uint32(b)
	b = b[4:]
	// Each record takes at least 7 bytes, which bounds count before anything is allocated.
	if uint64(count) > uint64(len(b))/7 {
		return nil, fmt.Sprintf("record count %d too large for %d bytes", count, len(b))
	}
	out := make(map[string][]byte, count)
	prev := ""
	for i := uint32(0); i < count; i++ {
		if len(b) < 2 {
			return nil, fmt.Sprintf("record %d: truncated name length", i)
		}
		nl := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if nl == 0 || nl > MaxNameLen {
			return nil, fmt.Sprintf("record %d: name length %d", i, nl)
		}
		if len(b) < nl+4 {
			return nil, fmt.Sprintf("record %d: truncated name", i)
		}
		name := string(b[:nl])
		b = b[nl:]
		if i > 0 && name <= prev {
			return nil, fmt.Sprintf("record %d: name %q out of order", i, name)
		}
		prev = name
		vl := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(vl) > uint64(len(b)) {
			return nil, fmt.Sprintf("record %d: value length %d, %d bytes left", i, vl, len(b))
		}
		out[name] = append([]byte{}, b[:vl]...)
		b = b[vl:]
	}
	if len(b) != 0 {
		return nil, fmt.Sprintf("%d bytes after the last record", len(b))
	}
	return out, ""
}

func checkName(n string) error {
	if n == "" || len(n) > MaxNameLen {
		return fmt.Errorf("%w: %d bytes (1–%d)", ErrBadName, len(n), MaxNameLen)
	}
	return nil
}
