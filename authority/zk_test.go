package authority

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
	bolt "go.etcd.io/bbolt"
)

// recorder keeps every response body the client receives.
type recorder struct {
	next   http.RoundTripper
	bodies [][]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.bodies = append(r.bodies, b)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// stateBlobs returns every byte string the authority keeps in dir: each file whole, and each
// bbolt bucket name, key and value.
func stateBlobs(t *testing.T, dir string) [][]byte {
	t.Helper()
	var blobs [][]byte
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		blobs = append(blobs, b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, DBFile), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var walk func(b *bolt.Bucket)
	walk = func(b *bolt.Bucket) {
		b.ForEach(func(k, v []byte) error {
			blobs = append(blobs, append([]byte(nil), k...))
			if v == nil {
				walk(b.Bucket(k))
			} else {
				blobs = append(blobs, append([]byte(nil), v...))
			}
			return nil
		})
	}
	db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			blobs = append(blobs, append([]byte(nil), name...))
			walk(b)
			return nil
		})
	})
	return blobs
}

// expand adds, for every JSON document among blobs, every string in it and its base64 and hex
// decodings, so byte strings inside records and answers are seen as bytes.
func expand(blobs [][]byte) [][]byte {
	out := append([][]byte(nil), blobs...)
	var visit func(v any)
	visit = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, []byte(x))
			if b, err := base64.StdEncoding.DecodeString(x); err == nil {
				out = append(out, b)
			}
			if b, err := hex.DecodeString(x); err == nil {
				out = append(out, b)
			}
		case []any:
			for _, e := range x {
				visit(e)
			}
		case map[string]any:
			for k, e := range x {
				visit(k)
				visit(e)
			}
		}
	}
	for _, b := range blobs {
		for _, line := range bytes.Split(b, []byte("\n")) {
			var v any
			if json.Unmarshal(line, &v) == nil {
				visit(v)
			}
		}
	}
	return out
}

// TestAuthorityCannotOpenPairedTraffic reads the authority's entire stored state after a full
// bind + pair flow, and everything it answered over HTTP, and shows that no secret of the
// devices is in it and that no 32-byte string in it, used as the binding secret (with the true
// halves granted) or as the direction key itself (with the true IV granted), opens the L5
// traffic the devices exchange. The devices themselves open it (the control).
func TestAuthorityCannotOpenPairedTraffic(t *testing.T) {
	w := newWorld(t, 1)
	rec := &recorder{next: w.srv.Client().Transport}
	w.c.HTTP = &http.Client{Transport: rec}

	w.bind(w.app, w.pack)
	b := w.bind(w.pack, w.mods[0])
	r := w.issue(b, "battery_management", w.pack, w.mods[0])
	pS, mS := w.pairUp(b, certOf(t, r), w.pack, w.mods[0])
	if _, err := w.c.Complete(w.ctx, r.PairingID, w.completion(pS, mS, w.clk.Now())); err != nil {
		t.Fatal(err)
	}
	if _, err := w.c.VerifyBinding(w.ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := w.c.Pairing(w.ctx, r.PairingID); err != nil {
		t.Fatal(err)
	}
	n, _, _ := w.a.Ledger()
	for i := range n {
		if _, err := w.c.LedgerEntry(w.ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	// L5 traffic both ways.
	cmdID, cmdEnv := l5(t, pS, 0x01, 0x40)
	ackID := canid.New(canid.TypeCommandAck, true, canid.LevelPairing, canid.AddrPack, 0x01).Encode()
	ackEnv := suite.NewLevelChannel(mS.keys.Send(false)).Seal(ackID, 1, []byte("ack"), nil)
	// Control: the devices open it.
	if _, _, _, err := message.OpenCommand(suite.NewLevelChannel(mS.keys.Receive(false)), cmdID, cmdEnv); err != nil {
		t.Fatalf("control: the module cannot open the pack's command: %v", err)
	}
	if _, _, err := suite.NewLevelChannel(pS.keys.Receive(true)).Open(ackID, ackEnv, nil); err != nil {
		t.Fatalf("control: the pack cannot open the module's answer: %v", err)
	}
	w.close()

	blobs := expand(append(stateBlobs(t, w.dir), rec.bodies...))
	total := 0
	for _, b := range blobs {
		total += len(b)
	}

	// No device secret appears anywhere.
	secrets := map[string][]byte{
		"half A": pS.half, "half B": mS.half, "exchange key": pS.xkey, "validation nonce": pS.nonce,
		"binding secret": pS.secret, "pairing key": pS.keys.Key[:], "K_AB": pS.keys.AtoB[:], "K_BA": pS.keys.BtoA[:],
		"telemetry key": pS.keys.Telemetry[:], "pack private key": w.pack.keys[b].Bytes(), "module private key": w.mods[0].keys[b].Bytes(),
	}
	for name, s := range secrets {
		for _, b := range blobs {
			if bytes.Contains(b, s) {
				t.Fatalf("the authority's state or answers contain the %s", name)
			}
		}
	}

	// Every 32-byte window of every blob is a candidate.
	cands := map[[32]byte]struct{}{}
	for _, b := range blobs {
		for i := 0; i+32 <= len(b); i++ {
			cands[[32]byte(b[i:i+32])] = struct{}{}
		}
	}
	// The authority's own key agreement with either entity is a candidate too.
	ak, err := loadOrCreateKey(w.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*device{w.pack, w.mods[0]} {
		s, err := suite.BindingSecret(ak, d.keys[b].Public())
		if err != nil {
			t.Fatal(err)
		}
		cands[[32]byte(s)] = struct{}{}
		z, _ := suite.ECDH(ak, d.keys[b].Public())
		cands[[32]byte(z)] = struct{}{}
	}
	md := pS.opened.Metadata
	iv := pS.keys.IVAtoB
	opened := 0
	for c := range cands {
		k := suite.DerivePairingKeys(c[:], pS.half, mS.half, pS.opened.MetadataHash, md.PairingID, md.Context.String())
		if _, _, _, err := message.OpenCommand(suite.NewLevelChannel(k.Receive(false)), cmdID, cmdEnv); err == nil {
			opened++
		}
		if _, _, err := suite.NewLevelChannel(k.Receive(true)).Open(ackID, ackEnv, nil); err == nil {
			opened++
		}
		if _, _, err := suite.NewChannel(c, iv, pS.keys.KID).Open(cmdID.Encode(), cmdEnv, nil); err == nil {
			opened++
		}
		if _, _, err := suite.NewChannel(c, pS.keys.IVBtoA, pS.keys.KID).Open(ackID, ackEnv, nil); err == nil {
			opened++
		}
	}
	if opened != 0 {
		t.Fatalf("%d candidates from the authority's state opened L5 traffic", opened)
	}
	t.Logf("%d blobs, %d bytes, %d distinct 32-byte candidates: none opens L5 traffic", len(blobs), total, len(cands))
}
