package authority

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	bolt "go.etcd.io/bbolt"
)

// Ledger entry kinds.
const (
	KindBindingKey         = "binding.key"         // one side's semi-public key recorded
	KindBindingEstablished = "binding.established" // both keys recorded, records signed (L7 establishment)
	KindBindingVerified    = "binding.verified"    // L7 verification
	KindBindingRevoked     = "binding.revoked"     // L7 revocation
	KindPairingIssued      = "pairing.issued"      // certificate issued
	KindPairingCompleted   = "pairing.completed"   // L6 completion accepted
	KindPairingRevoked     = "pairing.revoked"     // L6 revocation (or invalidated by a binding revocation)
	KindPairingModified    = "pairing.modified"    // L6 modification
	KindPairingTimedOut    = "pairing.timed_out"   // partial pairing abandoned
)

// entryJSON is an entry in the HTTP API: hashes and the subject in lower-case hex.
type entryJSON struct {
	Index   uint64            `json:"index"`
	Time    int64             `json:"time_ms"`
	Prev    string            `json:"prev"`
	Kind    string            `json:"kind"`
	Subject string            `json:"subject"`
	Data    map[string]string `json:"data,omitempty"`
	Hash    string            `json:"hash"`
}

// MarshalJSON writes byte fields as hex.
func (e *Entry) MarshalJSON() ([]byte, error) {
	return json.Marshal(entryJSON{e.Index, e.Time, hex.EncodeToString(e.Prev), e.Kind, hex.EncodeToString(e.Subject), e.Data, hex.EncodeToString(e.Hash)})
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (e *Entry) UnmarshalJSON(b []byte) error {
	var j entryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var err [3]error
	e.Index, e.Time, e.Kind, e.Data = j.Index, j.Time, j.Kind, j.Data
	e.Prev, err[0] = hex.DecodeString(j.Prev)
	e.Subject, err[1] = hex.DecodeString(j.Subject)
	e.Hash, err[2] = hex.DecodeString(j.Hash)
	return errors.Join(err[:]...)
}

// ledgerVersion is element 0 of every encoded entry.
const ledgerVersion = 1

// HashSize is the size of an entry hash.
const HashSize = sha256.Size

// Entry is one ledger record. Hash is SHA-256 over the deterministic CBOR array
//
//	[1, index, time, prev, kind, subject, data]
//
// where time is Unix milliseconds, prev the previous entry's hash (32 zero bytes for entry 0),
// subject the 16-byte binding or pairing ID, and data a text→text map.
type Entry struct {
	Index   uint64            `json:"index"`
	Time    int64             `json:"time_ms"`
	Prev    []byte            `json:"prev"`
	Kind    string            `json:"kind"`
	Subject []byte            `json:"subject"`
	Data    map[string]string `json:"data,omitempty"`
	Hash    []byte            `json:"hash"`
}

var (
	ledgerEnc = mustEncMode()
	ledgerDec = mustDecMode()
)

func mustEncMode() cbor.EncMode {
	m, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return m
}

func mustDecMode() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		MaxNestedLevels:  4,
		MaxArrayElements: 16,
		MaxMapPairs:      64,
		UTF8:             cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}

// body is the hashed part of an entry.
func (e *Entry) body() []any {
	data := e.Data
	if data == nil {
		data = map[string]string{}
	}
	return []any{ledgerVersion, e.Index, e.Time, e.Prev, e.Kind, e.Subject, data}
}

// ComputeHash returns SHA-256 over the entry's deterministic encoding (Hash excluded).
func (e *Entry) ComputeHash() []byte {
	b, err := ledgerEnc.Marshal(e.body())
	if err != nil {
		// Only integers, byte strings, text and a text map: encoding cannot fail.
		panic(fmt.Sprintf("authority: ledger encode: %v", err))
	}
	h := sha256.Sum256(b)
	return h[:]
}

// MarshalEntry is the stored form: the hashed array with the hash appended.
func MarshalEntry(e *Entry) ([]byte, error) {
	return ledgerEnc.Marshal(append(e.body(), e.Hash))
}

// storedEntry is the stored array, decoded.
type storedEntry struct {
	_       struct{} `cbor:",toarray"`
	V       uint8
	Index   uint64
	Time    int64
	Prev    []byte
	Kind    string
	Subject []byte
	Data    map[string]string
	Hash    []byte
}

// ErrEntryMalformed is returned (wrapped) for stored entries that do not decode.
var ErrEntryMalformed = errors.New("authority: malformed ledger entry")

// UnmarshalEntry decodes a stored entry strictly: it must be the deterministic encoding of an
// 8-element array with a 32-byte prev and hash. It does not check the hash (Verify does).
func UnmarshalEntry(b []byte) (*Entry, error) {
	var s storedEntry
	if err := ledgerDec.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEntryMalformed, err)
	}
	switch {
	case s.V != ledgerVersion:
		return nil, fmt.Errorf("%w: version %d", ErrEntryMalformed, s.V)
	case len(s.Prev) != HashSize || len(s.Hash) != HashSize:
		return nil, fmt.Errorf("%w: hash sizes %d, %d", ErrEntryMalformed, len(s.Prev), len(s.Hash))
	}
	e := &Entry{Index: s.Index, Time: s.Time, Prev: s.Prev, Kind: s.Kind, Subject: s.Subject, Data: s.Data, Hash: s.Hash}
	if len(e.Data) == 0 {
		e.Data = nil
	}
	re, err := MarshalEntry(e)
	if err != nil || !bytes.Equal(re, b) {
		return nil, fmt.Errorf("%w: not the deterministic encoding", ErrEntryMalformed)
	}
	return e, nil
}

// ErrTampered matches every *TamperError.
var ErrTampered = errors.New("authority: ledger tampered")

// TamperError names the first ledger index whose entry does not verify.
type TamperError struct {
	Index  uint64
	Reason string
	Err    error
}

func (e *TamperError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("authority: ledger tampered at index %d: %s: %v", e.Index, e.Reason, e.Err)
	}
	return fmt.Sprintf("authority: ledger tampered at index %d: %s", e.Index, e.Reason)
}

// Is makes errors.Is(err, ErrTampered) true.
func (e *TamperError) Is(target error) bool { return target == ErrTampered }

func (e *TamperError) Unwrap() error { return e.Err }

// bbolt layout.
var (
	bucketLedger   = []byte("ledger")
	bucketMeta     = []byte("meta")
	bucketBindings = []byte("bindings")
	bucketPairings = []byte("pairings")
	keyHead        = []byte("head")
)

func indexKey(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

// head is the meta record of the chain's end: count of entries and the last hash. Keeping it
// apart from the entries lets Verify notice entries cut from the end.
type head struct {
	_     struct{} `cbor:",toarray"`
	Count uint64
	Last  []byte
}

func readHead(tx *bolt.Tx) (head, error) {
	var h head
	b := tx.Bucket(bucketMeta).Get(keyHead)
	if b == nil {
		return head{Last: make([]byte, HashSize)}, nil
	}
	if err := ledgerDec.Unmarshal(b, &h); err != nil || len(h.Last) != HashSize {
		return h, fmt.Errorf("%w: head record: %v", ErrEntryMalformed, err)
	}
	return h, nil
}

// appendEntry adds an entry inside tx (with the state change it records, so both commit or
// neither does) and returns it.
func appendEntry(tx *bolt.Tx, timeMS int64, kind string, subject []byte, data map[string]string) (*Entry, error) {
	h, err := readHead(tx)
	if err != nil {
		return nil, err
	}
	e := &Entry{Index: h.Count, Time: timeMS, Prev: h.Last, Kind: kind, Subject: subject, Data: data}
	e.Hash = e.ComputeHash()
	b, err := MarshalEntry(e)
	if err != nil {
		return nil, err
	}
	if err := tx.Bucket(bucketLedger).Put(indexKey(e.Index), b); err != nil {
		return nil, err
	}
	hb, err := ledgerEnc.Marshal(head{Count: h.Count + 1, Last: e.Hash})
	if err != nil {
		return nil, err
	}
	return e, tx.Bucket(bucketMeta).Put(keyHead, hb)
}

// verifyTx walks the whole chain: every key is its entry's index, in sequence from 0; every
// entry decodes, its prev is the previous entry's hash and its stored hash is recomputed; the
// head record names the count and last hash. It returns the count and last hash.
func verifyTx(tx *bolt.Tx) (uint64, []byte, error) {
	lb := tx.Bucket(bucketLedger)
	if lb == nil {
		return 0, nil, &TamperError{Index: 0, Reason: "no ledger bucket"}
	}
	prev := make([]byte, HashSize)
	var i uint64
	c := lb.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 8 || binary.BigEndian.Uint64(k) != i {
			return 0, nil, &TamperError{Index: i, Reason: fmt.Sprintf("key %x where index %d belongs (entry removed or moved)", k, i)}
		}
		e, err := UnmarshalEntry(v)
		if err != nil {
			return 0, nil, &TamperError{Index: i, Reason: "entry does not decode", Err: err}
		}
		switch {
		case e.Index != i:
			return 0, nil, &TamperError{Index: i, Reason: fmt.Sprintf("entry says index %d (entries reordered)", e.Index)}
		case !bytes.Equal(e.Prev, prev):
			return 0, nil, &TamperError{Index: i, Reason: "prev is not the previous entry's hash"}
		case !bytes.Equal(e.ComputeHash(), e.Hash):
			return 0, nil, &TamperError{Index: i, Reason: "hash does not match the entry"}
		}
		prev = e.Hash
		i++
	}
	h, err := readHead(tx)
	if err != nil {
		return 0, nil, &TamperError{Index: i, Reason: "head record", Err: err}
	}
	if h.Count != i || !bytes.Equal(h.Last, prev) {
		return 0, nil, &TamperError{Index: i, Reason: fmt.Sprintf("head says %d entries, chain has %d (entries cut from the end)", h.Count, i)}
	}
	return i, prev, nil
}

// readEntry returns entry i, or nil.
func readEntry(tx *bolt.Tx, i uint64) (*Entry, error) {
	v := tx.Bucket(bucketLedger).Get(indexKey(i))
	if v == nil {
		return nil, nil
	}
	return UnmarshalEntry(v)
}
