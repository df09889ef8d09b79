package authority

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
	bolt "go.etcd.io/bbolt"
)

// Defaults of Options.
const (
	DefaultIssuer             = "hilrun-authority"
	DefaultBindingValidity    = 5 * 365 * 24 * time.Hour
	DefaultPairingValidity    = 30 * 24 * time.Hour
	DefaultMaxPairingValidity = 365 * 24 * time.Hour
	DefaultHandshakeTimeout   = 30 * time.Second // brief section 3: partial pairing
	DefaultDeviceTimeout      = 60 * time.Second // a module's key generation takes seconds
	DefaultMaxBody            = 64 << 10
)

// Options configure an Authority. Dir is required; zero values take the defaults.
type Options struct {
	Dir                string // state directory (created 0700 if missing)
	Clock              clock.Clock
	Rand               io.Reader // nil means crypto/rand
	Issuer             string
	KeyGenerators      map[message.Role]KeyGenerator
	Logger             *slog.Logger
	BindingValidity    time.Duration
	PairingValidity    time.Duration
	MaxPairingValidity time.Duration
	HandshakeTimeout   time.Duration
	DeviceTimeout      time.Duration
	MaxBody            int64
	// RequireProof makes partner-key demand a Web4-Proof header signed by the requesting party.
	// Without it a proof is checked when present.
	RequireProof bool
	// NoSync skips fsync on commit: tests and fuzzing only. A crash may then lose commits.
	NoSync bool
}

// Authority is the auth controller's state and logic. Its methods are safe for concurrent use;
// Handler serves them over HTTP.
type Authority struct {
	opt  Options
	db   *bolt.DB
	key  *suite.PrivateKey
	log  *slog.Logger
	mu   sync.Mutex // serialises read-check-write sequences across transactions
	stat stats
}

// Open opens (or initialises) the state in opt.Dir: the database and the signing key, which is
// generated on first start.
func Open(opt Options) (*Authority, error) {
	if opt.Dir == "" {
		return nil, fmt.Errorf("authority: no state directory")
	}
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	if opt.Rand == nil {
		opt.Rand = rand.Reader
	}
	if opt.Issuer == "" {
		opt.Issuer = DefaultIssuer
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opt.BindingValidity, DefaultBindingValidity)
	def(&opt.PairingValidity, DefaultPairingValidity)
	def(&opt.MaxPairingValidity, DefaultMaxPairingValidity)
	def(&opt.HandshakeTimeout, DefaultHandshakeTimeout)
	def(&opt.DeviceTimeout, DefaultDeviceTimeout)
	if opt.MaxBody <= 0 {
		opt.MaxBody = DefaultMaxBody
	}
	if err := os.MkdirAll(opt.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("authority: state directory: %w", err)
	}
	key, err := loadOrCreateKey(opt.Dir, opt.Rand)
	if err != nil {
		return nil, err
	}
	db, err := openDB(opt.Dir, false, opt.NoSync)
	if err != nil {
		return nil, err
	}
	a := &Authority{opt: opt, db: db, key: key, log: opt.Logger, stat: stats{errors: map[Code]uint64{}}}
	if err := db.View(func(tx *bolt.Tx) error { _, _, err := verifyTx(tx); return err }); err != nil {
		db.Close()
		return nil, fmt.Errorf("authority: refusing to start on a broken ledger: %w", err)
	}
	return a, nil
}

// Close closes the database.
func (a *Authority) Close() error { return a.db.Close() }

// PublicKey is the authority's signing key, the key devices trust.
func (a *Authority) PublicKey() *suite.PublicKey { return a.key.Public() }

// Issuer is the issuer name in binding records.
func (a *Authority) Issuer() string { return a.opt.Issuer }

func (a *Authority) now() time.Time { return a.opt.Clock.Now() }

// newID reads a 16-byte ID from the random source and marks it a version-4 UUID.
func (a *Authority) newID() ([]byte, error) {
	id := make([]byte, message.IDSize)
	if _, err := io.ReadFull(a.opt.Rand, id); err != nil {
		return nil, internal("read random", err)
	}
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id, nil
}

// Ledger returns the chain's length and last hash after verifying it.
func (a *Authority) Ledger() (uint64, []byte, error) {
	var n uint64
	var h []byte
	err := a.db.View(func(tx *bolt.Tx) error {
		var err error
		n, h, err = verifyTx(tx)
		return err
	})
	return n, h, err
}

// LedgerEntry returns entry i.
func (a *Authority) LedgerEntry(i uint64) (*Entry, error) {
	var e *Entry
	err := a.db.View(func(tx *bolt.Tx) error {
		var err error
		e, err = readEntry(tx, i)
		return err
	})
	if err != nil {
		return nil, internal("read ledger", err)
	}
	if e == nil {
		return nil, errf(CodeNotFound, "no ledger entry %d", i)
	}
	return e, nil
}

func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, internal("stored record does not decode", err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}
