package authority

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
	bolt "go.etcd.io/bbolt"
)

// TestReopenMidFlow: the authority is closed between issue and completion; a new process (here,
// a new Authority on the same directory) verifies the chain, keeps its signing key, and
// completes the pairing.
func TestReopenMidFlow(t *testing.T) {
	w := newWorld(t, 1)
	b := w.bind(w.pack, w.mods[0])
	r := w.issue(b, "battery_management", w.pack, w.mods[0])
	pS, mS := w.pairUp(b, certOf(t, r), w.pack, w.mods[0])
	before := w.auth
	w.close()
	n, _, err := VerifyLedger(w.dir)
	if err != nil || n == 0 {
		t.Fatalf("after close: %d %v", n, err)
	}
	w.open()
	defer w.close()
	if !w.auth.Equal(before) {
		t.Fatal("the signing key changed across a restart")
	}
	l6, err := w.c.Complete(w.ctx, r.PairingID, w.completion(pS, mS, w.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if l6.LedgerIndex != n {
		t.Fatalf("completion at ledger index %d, want %d", l6.LedgerIndex, n)
	}
	if _, _, err := w.a.Ledger(); err != nil {
		t.Fatal(err)
	}
}

const crashEnv = "HILRUN_AUTHORITY_CRASH_DIR"

// TestCrashChild is the process TestCrashKill kills: it binds and pairs in a loop with fsync on.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("run by TestCrashKill")
	}
	rnd := newReader(fmt.Sprintf("crash child %d", os.Getpid()))
	gen := KeyGeneratorFunc(func(ctx context.Context, req KeyRequest) (*suite.PublicKey, error) {
		k, err := suite.GenerateKey(rnd)
		if err != nil {
			return nil, err
		}
		return k.Public(), nil
	})
	a, err := Open(Options{Dir: dir, Rand: rnd, KeyGenerators: map[message.Role]KeyGenerator{message.RolePack: gen, message.RoleModule: gen}})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	pack := message.AccessData{Type: "can", ChainID: "c", DeviceID: fmt.Sprintf("PC-%d", os.Getpid()), Endpoint: "0x40"}
	for i := 0; ; i++ {
		mod := message.AccessData{Type: "can", ChainID: "c", DeviceID: fmt.Sprintf("BM-%d-%d", os.Getpid(), i), Endpoint: "0x01"}
		r, err := a.GenerateKeys(context.Background(), GenerateKeysRequest{AccessData: pack, Role: "pack", PartnerAccessData: mod})
		if err == nil {
			_, err = a.GenerateKeys(context.Background(), GenerateKeysRequest{AccessData: mod, Role: "module", PartnerAccessData: pack, BindingID: r.BindingID})
		}
		if err == nil {
			_, err = a.IssuePairing(IssuePairingRequest{BindingID: r.BindingID, Context: "diagnostics", Entities: [2]string{pack.DeviceID, mod.DeviceID}})
		}
		if err != nil {
			fmt.Println("flow:", err)
			os.Exit(1)
		}
		if i == 0 {
			fmt.Println("ready")
		}
	}
}

// TestCrashKill kills a process mid-write (SIGKILL, no chance to close the database) three
// times, and after each kill the state opens, the chain verifies, and every stored binding and
// pairing has its ledger entries: bbolt commits are atomic and durable, and each state change
// commits with its ledger entry.
func TestCrashKill(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("child")
	}
	dir := t.TempDir()
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		if !sc.Scan() || sc.Text() != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: child said %q", round, sc.Text())
		}
		time.Sleep(time.Duration(50+70*round) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("round %d: child ended with %v, want killed", round, err)
		}
		n, _, err := VerifyLedger(dir)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		checkIndexed(t, dir, n)
		t.Logf("round %d: %d ledger entries verify after SIGKILL", round, n)
	}
}

// checkIndexed checks that every stored binding and pairing appears in the ledger.
func checkIndexed(t *testing.T, dir string, n uint64) {
	t.Helper()
	db, err := openDB(dir, true, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		subjects := map[string]map[string]bool{}
		for i := range n {
			e, err := readEntry(tx, i)
			if err != nil {
				t.Fatal(err)
			}
			if subjects[string(e.Subject)] == nil {
				subjects[string(e.Subject)] = map[string]bool{}
			}
			subjects[string(e.Subject)][e.Kind] = true
		}
		forEachBinding(tx, func(b *bindingRecord) error {
			k := subjects[string(b.ID)]
			if !k[KindBindingKey] || (b.Status == StatusActive) != k[KindBindingEstablished] {
				t.Fatalf("binding %x (%s) has ledger kinds %v", b.ID, b.Status, k)
			}
			return nil
		})
		tx.Bucket(bucketPairings).ForEach(func(key, _ []byte) error {
			if !subjects[string(key)][KindPairingIssued] {
				t.Fatalf("pairing %x has no issue entry", key)
			}
			return nil
		})
		return nil
	})
}

// TestStateFiles: the signing key is the only key file, mode 0600, and Serve stops cleanly when
// its context ends.
func TestStateFiles(t *testing.T) {
	w := newWorld(t, 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.a.Serve(ctx, ln) }()
	c := &Client{BaseURL: "http://" + ln.Addr().String()}
	if _, _, err := c.Authority(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	w.close()
	ents, err := os.ReadDir(w.dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v", e.Name(), fi.Mode().Perm())
		}
	}
	if len(names) != 2 || names[0] != DBFile || names[1] != KeyFile {
		t.Fatalf("state files %v", names)
	}
}
