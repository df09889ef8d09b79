package main

import (
	"strings"
	"testing"
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
