package guestkernel

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/modbatt/hilrun/internal/peers"
)

// RunTest boots the guest spec names with this test binary as init, runs spec.Test inside and
// fails t when it fails. When the guest kernel cannot be had it skips t (or fails it where
// HILRUN_REQUIRE_INTEROP=1), saying why.
func RunTest(t *testing.T, spec Spec) Result {
	t.Helper()
	if Inside() {
		t.Skip("already inside a guest kernel")
	}
	timeout := spec.Timeout
	if timeout == 0 {
		// A guest boots in seconds on an idle machine but many times slower on a loaded one.
		timeout = 3 * time.Minute
	}
	// Fetching (a download of up to 70 MB on first use) has its own budget.
	fetchCtx, cancelFetch := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancelFetch()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("test binary: %v", err)
	}
	work := t.TempDir()
	fetchStart := time.Now()
	var res Result
	switch spec.Kind {
	case UML:
		if raceEnabled {
			t.Skip("a -race test binary cannot run in User-Mode Linux (ThreadSanitizer's shadow memory does not fit its address space); run without -race")
		}
		k, err := FetchUML(fetchCtx)
		if err != nil {
			missing(t, "User-Mode Linux", err)
		}
		t.Logf("UML kernel ready in %v", time.Since(fetchStart).Round(time.Millisecond))
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		res, err = k.Run(ctx, self, work, spec)
		logResult(t, spec, res, err)
	case Qemu:
		k, err := FetchQemu(fetchCtx)
		if err != nil {
			missing(t, "qemu with the Debian amd64 kernel", err)
		}
		t.Logf("qemu kernel ready in %v", time.Since(fetchStart).Round(time.Millisecond))
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		res, err = k.Run(ctx, self, work, spec)
		logResult(t, spec, res, err)
	default:
		t.Fatalf("guestkernel: unknown kind %v", spec.Kind)
	}
	return res
}

func missing(t *testing.T, what string, err error) {
	t.Helper()
	if errors.Is(err, ErrUnavailable) {
		peers.Missing(t, what, err.Error())
	}
	t.Fatalf("%s: %v", what, err)
}

func logResult(t *testing.T, spec Spec, res Result, err error) {
	t.Helper()
	t.Logf("%s guest ran %s in %v (start to exit), exit code %d", spec.Kind, spec.Test, res.Elapsed.Round(time.Millisecond), res.ExitCode)
	if err != nil || res.ExitCode != 0 {
		t.Logf("guest console:\n%s", indent(res.Console))
		if err != nil {
			t.Fatal(err)
		}
		t.Fatalf("guest test %s failed with exit code %d", spec.Test, res.ExitCode)
	}
	if testing.Verbose() {
		t.Logf("guest console:\n%s", indent(res.Console))
	}
}

func indent(s string) string {
	return "\t" + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n\t")
}
