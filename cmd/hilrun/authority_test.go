package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modbatt/hilrun/authority"
	"github.com/modbatt/hilrun/protocol/message"
)

func TestAuthorityLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:8443", false, true},
		{"[::1]:8443", false, true},
		{"localhost:8443", false, true},
		{"0.0.0.0:8443", false, false},
		{":8443", false, false},
		{"192.0.2.7:8443", false, false},
		{"192.0.2.7:8443", true, true},
		{"nonsense", false, false},
	} {
		if err := checkLoopback(tc.addr, tc.remote); (err == nil) != tc.ok {
			t.Errorf("%s remote=%v: %v", tc.addr, tc.remote, err)
		}
	}
}

func TestAuthorityVerifyCLI(t *testing.T) {
	if code, _, _ := runCLI(t, "authority", "verify", "--state", t.TempDir()); code != exitEnviron {
		t.Fatalf("empty state: exit %d", code)
	}
	if code, _, _ := runCLI(t, "authority", "serve", "--state", t.TempDir(), "--listen", "0.0.0.0:1"); code != exitUsage {
		t.Fatalf("non-loopback serve: exit %d", code)
	}
	if code, _, errs := runCLI(t, "authority", "bogus"); code != exitUsage || !strings.Contains(errs, "unknown subcommand") {
		t.Fatalf("bogus: %d %q", code, errs)
	}
	for _, sub := range []string{"serve", "verify"} {
		if code, _, _ := runCLI(t, "authority", sub, "--help"); code != exitOK {
			t.Fatalf("%s --help: exit %d", sub, code)
		}
	}
}

// authLog is a bytes.Buffer safe for the server's log writes and the test's reads.
type authLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *authLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *authLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAuthorityServe starts the server on a free loopback port, talks to it, stops it as SIGINT
// would (the context ends), and verifies the ledger it left.
func TestAuthorityServe(t *testing.T) {
	dir := t.TempDir()
	var logs authLog
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- dispatch(ctx, &cli{stdout: io.Discard, stderr: &logs}, []string{"authority", "serve", "--listen", "127.0.0.1:0", "--state", dir})
	}()
	re := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
	var addr string
	for i := 0; i < 200 && addr == ""; i++ {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	if addr == "" {
		cancel()
		t.Fatalf("no address in the log: %s", logs.String())
	}
	c := &authority.Client{BaseURL: "http://" + addr}
	if _, info, err := c.Authority(context.Background()); err != nil || info.Issuer != authority.DefaultIssuer {
		t.Fatalf("authority: %+v %v", info, err)
	}
	// A pack key needs the CAN relay, which is not configured: a clear refusal.
	_, err := c.GenerateKeys(context.Background(), authority.GenerateKeysRequest{
		AccessData: message.AccessData{Type: "can", ChainID: "c", DeviceID: "PC-1", Endpoint: "0x40"}, Role: "pack",
		PartnerAccessData: message.AccessData{Type: "can", ChainID: "c", DeviceID: "BM-1", Endpoint: "0x01"}})
	if !errors.Is(err, authority.ErrNoKeyGenerator) {
		t.Fatalf("generate-keys without relay: %v", err)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("serve exit %d: %s", code, logs.String())
	}
	var out bytes.Buffer
	if code := dispatch(context.Background(), &cli{stdout: &out, stderr: io.Discard}, []string{"authority", "verify", "--state", dir}); code != exitOK || !strings.Contains(out.String(), "ledger intact") {
		t.Fatalf("verify exit %d: %s", code, out.String())
	}
}
