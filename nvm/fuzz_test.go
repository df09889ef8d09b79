package nvm

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

const fuzzSlot = 256

// sealedSlot wraps payload in a header with a correct checksum, so the fuzzer reaches the
// record decoder instead of stopping at the checksum.
func sealedSlot(payload []byte, gen uint64) []byte {
	if len(payload) > fuzzSlot-headerSize {
		payload = payload[:fuzzSlot-headerSize]
	}
	img, _ := encodeImage(nil, gen, fuzzSlot)
	img = append(img[:headerSize:headerSize], payload...)
	img[16], img[17], img[18], img[19] = byte(len(payload)>>24), byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	sum := imageSum(img[:32], payload)
	copy(img[32:64], sum[:])
	return append(img, make([]byte, fuzzSlot-len(img))...)
}

// FuzzLoad opens arbitrary files: raw bytes as a whole file, and arbitrary payloads behind
// a valid header in slot A with arbitrary bytes as slot B. Opening never panics, fails only
// with ErrCorrupt, and whatever loads is canonical and survives an update and a reopen.
func FuzzLoad(f *testing.F) {
	good := encodeRecords(map[string][]byte{"id": []byte("m7"), "k": {1, 2, 3}})
	f.Add([]byte{}, []byte{})
	f.Add(good, []byte{})
	f.Add(good, sealedSlot(good, 3))
	f.Add([]byte{0, 0, 0, 1, 0, 1, 'a', 0, 0, 0, 0}, []byte("hNVM"))
	f.Add([]byte{0, 0, 0, 2, 0, 1, 'b', 0, 0, 0, 0, 0, 1, 'a', 0, 0, 0, 0}, []byte{}) // out of order
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF}, sealedSlot(nil, 9))
	f.Add([]byte{0, 0, 0, 1, 0, 1, 'a', 0xFF, 0xFF, 0xFF, 0xFF}, []byte{}) // value too long
	f.Fuzz(func(t *testing.T, payload, raw []byte) {
		check := func(file []byte, wantPayload []byte) {
			s, err := OpenFile(NewMemFile(file), Options{SlotSize: fuzzSlot})
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("open: untyped error %v", err)
				}
				return
			}
			st := snapshot(s)
			if wantPayload != nil && s.Health().Valid[0] && s.Health().Generation == 1 && !s.Health().Valid[1] {
				if enc := encodeRecords(st); !bytes.Equal(enc, wantPayload) {
					t.Fatalf("accepted a non-canonical payload %x (re-encodes as %x)", wantPayload, enc)
				}
			}
			err = s.Put("fuzz", []byte{1})
			if errors.Is(err, ErrFull) {
				return
			}
			if err != nil {
				t.Fatalf("put: %v", err)
			}
			r, err := OpenFile(NewMemFile(s.f.(*MemFile).Bytes()), Options{SlotSize: fuzzSlot})
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			st["fuzz"] = []byte{1}
			if got := snapshot(r); !reflect.DeepEqual(got, st) {
				t.Fatalf("reopen: %q, want %q", got, st)
			}
		}
		check(raw, nil)
		if len(payload) <= fuzzSlot-headerSize {
			check(append(sealedSlot(payload, 1), raw...), payload)
		}
	})
}
