package nvm

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// Options tune a store; the zero value is the default.
type Options struct {
	// SlotSize is the size of each slot in bytes (DefaultSlotSize if 0). It is fixed for the
	// life of a file: opening a file with a different slot size fails.
	SlotSize int
}

func (o Options) slotSize() (int, error) {
	s := o.SlotSize
	if s == 0 {
		s = DefaultSlotSize
	}
	if s < MinSlotSize || s > MaxSlotSize {
		return 0, fmt.Errorf("nvm: slot size %d outside %d–%d", s, MinSlotSize, MaxSlotSize)
	}
	return s, nil
}

// Health describes the file as last loaded or written.
type Health struct {
	Generation uint64        // generation of the current image
	Valid      [2]bool       // which slots hold a valid image
	Slots      [2]uint64     // generation of each valid slot
	Rejected   [2]*SlotError // why a slot was rejected at the last load (nil if it was valid)
}

// Degraded reports whether the file lacks a second valid copy of the current image.
func (h Health) Degraded() bool {
	return !(h.Valid[0] && h.Valid[1] && h.Slots[0] == h.Generation && h.Slots[1] == h.Generation)
}

// Store is a device's persistent record store. It is safe for concurrent use.
type Store struct {
	mu       sync.Mutex
	f        File
	name     string
	slotSize int
	records  map[string][]byte
	gen      uint64
	valid    [2]bool
	slotGen  [2]uint64
	rejected [2]*SlotError
	closed   bool
}

// Open opens the store in the file at path, creating and formatting it if it does not exist.
func Open(path string) (*Store, error) { return OpenWith(path, Options{}) }

// OpenWith opens the store at path with options.
func OpenWith(path string, o Options) (*Store, error) {
	ss, err := o.slotSize()
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	// A missing or empty file holds nothing to lose: format a new one.
	if errors.Is(err, os.ErrNotExist) || err == nil && fi.Size() == 0 {
		if err := create(path, ss); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("nvm: %w", err)
	}
	if err := lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("nvm: locking %s: %w", path, err)
	}
	s, err := openFile(osFile{f}, path, ss)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// create formats a new file beside path and renames it into place, so a power loss during
// creation leaves no file rather than a half-written one.
func create(path string, slotSize int) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".new-*")
	if err != nil {
		return fmt.Errorf("nvm: creating store: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	img, err := encodeImage(nil, 0, slotSize)
	if err == nil {
		_, err = tmp.WriteAt(img, 0)
	}
	if err == nil {
		_, err = tmp.WriteAt(img, int64(slotSize))
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("nvm: creating store: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// OpenFile opens the store held in f (the store closes f on Close). An empty f is formatted
// first; formatting through a File is not atomic, which only matters for tests that cut the
// power during it.
func OpenFile(f File, o Options) (*Store, error) {
	ss, err := o.slotSize()
	if err != nil {
		return nil, err
	}
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("nvm: %w", err)
	}
	if size == 0 {
		img, err := encodeImage(nil, 0, ss)
		if err != nil {
			return nil, err
		}
		if err := writeSlot(f, 0, ss, img); err != nil {
			return nil, err
		}
		if err := writeSlot(f, 1, ss, img); err != nil {
			return nil, err
		}
	}
	return openFile(f, "memory", ss)
}

// OpenMem returns an empty store in memory, for unit tests and devices without a file.
func OpenMem() *Store {
	s, err := OpenFile(NewMemFile(nil), Options{SlotSize: DefaultSlotSize})
	if err != nil {
		panic("nvm: formatting memory: " + err.Error()) // cannot fail: memory and a valid size
	}
	return s
}

func openFile(f File, name string, slotSize int) (*Store, error) {
	s := &Store{f: f, name: name, slotSize: slotSize}
	var recs [2]map[string][]byte
	for i := 0; i < 2; i++ {
		gen, r, err := loadSlot(f, i, slotSize)
		if err != nil {
			s.rejected[i] = err
			continue
		}
		s.valid[i], s.slotGen[i], recs[i] = true, gen, r
	}
	switch {
	case !s.valid[0] && !s.valid[1]:
		return nil, &CorruptError{Path: name, Slots: s.rejected}
	case s.valid[0] && (!s.valid[1] || s.slotGen[0] >= s.slotGen[1]):
		s.gen, s.records = s.slotGen[0], recs[0]
	default:
		s.gen, s.records = s.slotGen[1], recs[1]
	}
	return s, nil
}

// loadSlot reads and checks slot i.
func loadSlot(f io.ReaderAt, i, slotSize int) (uint64, map[string][]byte, *SlotError) {
	base := int64(i) * int64(slotSize)
	hb := make([]byte, headerSize)
	n, err := f.ReadAt(hb, base)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(hb)) {
		if errors.Is(err, io.EOF) {
			return 0, nil, &SlotError{Slot: i, Reason: fmt.Sprintf("short header (%d bytes)", n)}
		}
		return 0, nil, &SlotError{Slot: i, Reason: "reading header: " + err.Error()}
	}
	h, why := parseHeader(hb, slotSize)
	if why != "" {
		return 0, nil, &SlotError{Slot: i, Reason: why}
	}
	payload := make([]byte, h.payloadLen)
	n, err = f.ReadAt(payload, base+headerSize)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(payload)) {
		return 0, nil, &SlotError{Slot: i, Reason: fmt.Sprintf("payload truncated at %d of %d bytes", n, len(payload))}
	}
	if imageSum(hb[:32], payload) != h.sum {
		return 0, nil, &SlotError{Slot: i, Reason: "checksum mismatch"}
	}
	recs, why := decodeRecords(payload)
	if why != "" {
		return 0, nil, &SlotError{Slot: i, Reason: why}
	}
	return h.gen, recs, nil
}

func writeSlot(f File, i, slotSize int, img []byte) error {
	if _, err := f.WriteAt(img, int64(i)*int64(slotSize)); err != nil {
		return fmt.Errorf("nvm: writing slot %c: %w", 'A'+rune(i), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("nvm: syncing slot %c: %w", 'A'+rune(i), err)
	}
	return nil
}

// Get returns a copy of the named record.
func (s *Store) Get(name string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.records[name]
	if !ok {
		return nil, false
	}
	return append([]byte{}, v...), true
}

// Names returns the record names in order.
func (s *Store) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.records))
	for n := range s.records {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Put stores one record durably; when it returns nil the record survives any power loss.
func (s *Store) Put(name string, value []byte) error {
	return s.PutMany(map[string][]byte{name: value})
}

// PutMany stores several records in one atomic update: after a power loss either all of them
// or none are there. A nil value deletes its record.
func (s *Store) PutMany(m map[string][]byte) error {
	for n := range m {
		if err := checkName(n); err != nil {
			return err
		}
	}
	return s.update(func(next map[string][]byte) {
		for n, v := range m {
			if v == nil {
				delete(next, n)
				continue
			}
			next[n] = append([]byte{}, v...)
		}
	})
}

// Delete removes records atomically; names that are absent are ignored.
func (s *Store) Delete(names ...string) error {
	return s.update(func(next map[string][]byte) {
		for _, n := range names {
			delete(next, n)
		}
	})
}

// Wipe removes every record except those named in keep (the immutable identity records a
// factory reset preserves), in one atomic update.
func (s *Store) Wipe(keep ...string) error {
	k := make(map[string]bool, len(keep))
	for _, n := range keep {
		k[n] = true
	}
	return s.update(func(next map[string][]byte) {
		for n := range next {
			if !k[n] {
				delete(next, n)
			}
		}
	})
}

// Health returns the state of the two slots.
func (s *Store) Health() Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Health{Generation: s.gen, Valid: s.valid, Slots: s.slotGen, Rejected: s.rejected}
}

// Close closes the file. Later calls fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	return s.f.Close()
}

// update applies change to a copy of the records and commits the result.
func (s *Store) update(change func(map[string][]byte)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	next := make(map[string][]byte, len(s.records)+1)
	for n, v := range s.records {
		next[n] = v
	}
	change(next)
	gen := s.gen + 1
	img, err := encodeImage(next, gen, s.slotSize)
	if err != nil {
		return err
	}
	first := s.olderSlot()
	if err := writeSlot(s.f, first, s.slotSize, img); err != nil {
		s.valid[first] = false // possibly torn; the other slot still holds the current image
		return err
	}
	s.records, s.gen = next, gen
	s.valid[first], s.slotGen[first], s.rejected[first] = true, gen, nil
	second := 1 - first
	if err := writeSlot(s.f, second, s.slotSize, img); err != nil {
		s.valid[second] = false
		return fmt.Errorf("%w (update committed in slot %c): %w", ErrMirror, 'A'+rune(first), err)
	}
	s.valid[second], s.slotGen[second], s.rejected[second] = true, gen, nil
	return nil
}

// olderSlot is the slot not holding the newest image: an invalid one, the lower generation, or
// on a tie (a settled file) slot A.
func (s *Store) olderSlot() int {
	switch {
	case !s.valid[0]:
		return 0
	case !s.valid[1]:
		return 1
	case s.slotGen[1] < s.slotGen[0]:
		return 1
	}
	return 0
}
