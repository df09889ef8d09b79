package authority

import (
	"bytes"
	"testing"

	"github.com/modbatt/hilrun/protocol/message"
	bolt "go.etcd.io/bbolt"
)

// BenchmarkIssuePairing: one pairing certificate, end to end in the authority (binding lookup,
// metadata, two sealed sections, handshake section, signature, erase, record and ledger entry
// committed). sync=on is a real fsync'd commit.
func BenchmarkIssuePairing(b *testing.B) {
	for _, sync := range []bool{false, true} {
		name := "sync=off"
		if sync {
			name = "sync=on"
		}
		b.Run(name, func(b *testing.B) {
			w := newWorld(b, 1)
			defer w.close()
			if sync {
				w.close()
				w.sync = true
				w.open()
			}
			bid := w.bind(w.pack, w.mods[0])
			req := IssuePairingRequest{BindingID: bid, Context: "battery_management", Entities: [2]string{w.pack.id(), w.mods[0].id()}}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := w.a.IssuePairing(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIssueCertificateOnly is the crypto alone (message.IssuePairingCertificate).
func BenchmarkIssueCertificateOnly(b *testing.B) {
	w := newWorld(b, 1)
	defer w.close()
	bid := w.bind(w.pack, w.mods[0])
	ka, kb := w.pack.keys[bid].Public(), w.mods[0].keys[bid].Public()
	p := DefaultPolicy(message.ContextBatteryManagement)
	md := &message.PairingMetadata{V: message.Version1, PairingID: bytes.Repeat([]byte{1}, 16), Context: message.ContextBatteryManagement,
		Entities: []message.Entity{{ID: w.pack.id(), Role: message.RolePack, Addr: 0x40, KID: ka.KID(), Access: w.pack.access},
			{ID: w.mods[0].id(), Role: message.RoleModule, Addr: 1, KID: kb.KID(), Access: w.mods[0].access}},
		Timing: message.Timing{CreatedAt: t0.Unix(), ValidFrom: t0.Unix(), ExpiresAt: t0.Unix() + 3600},
		Policy: p, PolicyDigest: p.Digest(), Nonce: bytes.Repeat([]byte{2}, 16), AEAD: message.AlgA256GCM}
	r := newReader("cert")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := message.IssuePairingCertificate(w.a.key, md, ka, kb, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLedgerAppend: one entry per committed transaction.
func BenchmarkLedgerAppend(b *testing.B) {
	for _, sync := range []bool{false, true} {
		name := "sync=off"
		if sync {
			name = "sync=on"
		}
		b.Run(name, func(b *testing.B) {
			db, err := openDB(b.TempDir(), false, !sync)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			subj := bytes.Repeat([]byte{9}, 16)
			data := map[string]string{"binding": "00000000-0000-4000-8000-000000000000", "context": "battery_management", "kid_a": "1234", "kid_b": "abcd"}
			b.ReportAllocs()
			i := int64(0)
			for b.Loop() {
				i++
				err := db.Update(func(tx *bolt.Tx) error {
					_, err := appendEntry(tx, i, KindPairingIssued, subj, data)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyLedger walks a chain of 10 000 entries.
func BenchmarkVerifyLedger(b *testing.B) {
	db, err := openDB(b.TempDir(), false, true)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		for i := range 10000 {
			if _, err := appendEntry(tx, int64(i), KindBindingKey, []byte{1}, map[string]string{"k": "v"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := db.View(func(tx *bolt.Tx) error { _, _, err := verifyTx(tx); return err }); err != nil {
			b.Fatal(err)
		}
	}
}
