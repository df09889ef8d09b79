package authority

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/modbatt/hilrun/protocol/suite"
	bolt "go.etcd.io/bbolt"
)

// Files in the state directory.
const (
	DBFile  = "authority.db"  // bbolt: ledger, bindings, pairings
	KeyFile = "authority.key" // the authority's signing key: 32-byte scalar, mode 0600
)

// openDB opens (creating) the database and its buckets. noSync is for tests and fuzzing only.
func openDB(dir string, readOnly, noSync bool) (*bolt.DB, error) {
	path := filepath.Join(dir, DBFile)
	if readOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("authority: state: %w", err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, ReadOnly: readOnly, NoSync: noSync})
	if err != nil {
		return nil, fmt.Errorf("authority: open %s: %w", path, err)
	}
	if readOnly {
		return db, nil
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketLedger, bucketMeta, bucketBindings, bucketPairings} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("authority: init %s: %w", path, err)
	}
	return db, nil
}

// loadOrCreateKey reads the signing key, or makes one from r and writes it with mode 0600
// (through a temporary file, synced and renamed, so a crash leaves the old state or the new).
func loadOrCreateKey(dir string, r io.Reader) (*suite.PrivateKey, error) {
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		defer suite.Erase(b)
		k, err := suite.NewPrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("authority: key file %s: %w", path, err)
		}
		return k, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("authority: key file: %w", err)
	}
	k, err := suite.GenerateKey(r)
	if err != nil {
		return nil, fmt.Errorf("authority: generate signing key: %w", err)
	}
	scalar := k.Bytes()
	defer suite.Erase(scalar)
	tmp, err := os.CreateTemp(dir, KeyFile+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("authority: key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("authority: key file: %w", err)
	}
	if _, err := tmp.Write(scalar); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("authority: key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("authority: key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("authority: key file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("authority: key file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return k, nil
}

// VerifyLedger opens the state directory read-only and walks the ledger chain. It returns the
// number of entries and the last hash, or a *TamperError naming the first bad index.
func VerifyLedger(dir string) (count uint64, last []byte, err error) {
	db, err := openDB(dir, true, false)
	if err != nil {
		return 0, nil, err
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return &TamperError{Index: 0, Reason: "no meta bucket"}
		}
		count, last, err = verifyTx(tx)
		return err
	})
	return count, last, err
}
