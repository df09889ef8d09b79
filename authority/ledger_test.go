package authority

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestEntryGolden pins the hashed encoding of an entry.
func TestEntryGolden(t *testing.T) {
	e := &Entry{Index: 1, Time: 1700000000123, Prev: bytes.Repeat([]byte{0xaa}, 32), Kind: KindPairingIssued,
		Subject: bytes.Repeat([]byte{0x11}, 16), Data: map[string]string{"context": "diagnostics", "a": "b"}}
	b, err := ledgerEnc.Marshal(e.body())
	if err != nil {
		t.Fatal(err)
	}
	const want = "870101" + "1b0000018bcfe5687b" + "5820" + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" +
		"6e" + "70616972696e672e697373756564" + "50" + "11111111111111111111111111111111" +
		"a2" + "6161" + "6162" + "67" + "636f6e74657874" + "6b" + "646961676e6f7374696373"
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("encoding\n got %s\nwant %s", got, want)
	}
	e.Hash = e.ComputeHash()
	stored, err := MarshalEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalEntry(stored)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Hash, e.Hash) || back.Kind != e.Kind || back.Data["context"] != "diagnostics" {
		t.Fatalf("round trip: %+v", back)
	}
}

// ledgerDir makes a state directory with n ledger entries and closes it.
func ledgerDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	db, err := openDB(dir, false, true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		err := db.Update(func(tx *bolt.Tx) error {
			_, err := appendEntry(tx, int64(1000+i), KindBindingKey, bytes.Repeat([]byte{byte(i)}, 16), map[string]string{"n": string(rune('a' + i))})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mutate(t *testing.T, dir string, f func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, DBFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(f); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func rewrite(tx *bolt.Tx, i uint64, f func(e *Entry)) error {
	e, err := readEntry(tx, i)
	if err != nil {
		return err
	}
	f(e)
	b, err := MarshalEntry(e)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketLedger).Put(indexKey(i), b)
}

// TestLedgerTamper: every kind of tampering is found, at the first bad index.
func TestLedgerTamper(t *testing.T) {
	const n = 6
	for _, tc := range []struct {
		name  string
		f     func(tx *bolt.Tx) error
		index uint64
	}{
		{"changed entry, hash kept", func(tx *bolt.Tx) error {
			return rewrite(tx, 3, func(e *Entry) { e.Data["n"] = "z" })
		}, 3},
		{"changed entry, hash recomputed", func(tx *bolt.Tx) error {
			return rewrite(tx, 2, func(e *Entry) { e.Kind = KindBindingRevoked; e.Hash = e.ComputeHash() })
		}, 3},
		{"changed hash", func(tx *bolt.Tx) error {
			return rewrite(tx, 4, func(e *Entry) { e.Hash[0] ^= 1 })
		}, 4},
		{"changed time", func(tx *bolt.Tx) error {
			return rewrite(tx, 0, func(e *Entry) { e.Time++ })
		}, 0},
		{"removed entry", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketLedger).Delete(indexKey(2))
		}, 2},
		{"removed last entry", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketLedger).Delete(indexKey(n - 1))
		}, n - 1},
		{"removed last entry and head rewritten", func(tx *bolt.Tx) error {
			if err := tx.Bucket(bucketLedger).Delete(indexKey(n - 1)); err != nil {
				return err
			}
			e, _ := readEntry(tx, n-3)
			hb, _ := ledgerEnc.Marshal(head{Count: n - 1, Last: e.Hash})
			return tx.Bucket(bucketMeta).Put(keyHead, hb)
		}, n - 1},
		{"reordered entries", func(tx *bolt.Tx) error {
			lb := tx.Bucket(bucketLedger)
			a, b := append([]byte(nil), lb.Get(indexKey(1))...), append([]byte(nil), lb.Get(indexKey(2))...)
			if err := lb.Put(indexKey(1), b); err != nil {
				return err
			}
			return lb.Put(indexKey(2), a)
		}, 1},
		{"reordered and renumbered", func(tx *bolt.Tx) error {
			lb := tx.Bucket(bucketLedger)
			e1, _ := readEntry(tx, 1)
			e2, _ := readEntry(tx, 2)
			e1.Index, e2.Index = 2, 1
			e1.Hash, e2.Hash = e1.ComputeHash(), e2.ComputeHash()
			b1, _ := MarshalEntry(e1)
			b2, _ := MarshalEntry(e2)
			if err := lb.Put(indexKey(2), b1); err != nil {
				return err
			}
			return lb.Put(indexKey(1), b2)
		}, 1},
		{"garbage value", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketLedger).Put(indexKey(5), []byte{0x80, 0x01})
		}, 5},
		{"extra entry appended without head", func(tx *bolt.Tx) error {
			e, _ := readEntry(tx, n-1)
			x := &Entry{Index: n, Time: 9, Prev: e.Hash, Kind: KindBindingKey, Subject: []byte{1}}
			x.Hash = x.ComputeHash()
			b, _ := MarshalEntry(x)
			return tx.Bucket(bucketLedger).Put(indexKey(n), b)
		}, n + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := ledgerDir(t, n)
			if c, _, err := VerifyLedger(dir); err != nil || c != n {
				t.Fatalf("untouched: %d %v", c, err)
			}
			mutate(t, dir, tc.f)
			_, _, err := VerifyLedger(dir)
			var te *TamperError
			if !errors.As(err, &te) || !errors.Is(err, ErrTampered) {
				t.Fatalf("got %v, want a TamperError", err)
			}
			if te.Index != tc.index {
				t.Fatalf("first bad index %d, want %d (%v)", te.Index, tc.index, err)
			}
			// The authority refuses to start on a broken ledger.
			if _, err := Open(Options{Dir: dir, Rand: newReader("x"), NoSync: true}); !errors.Is(err, ErrTampered) {
				t.Fatalf("Open on a tampered ledger: %v", err)
			}
		})
	}
}

func TestVerifyLedgerMissingState(t *testing.T) {
	if _, _, err := VerifyLedger(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
}
