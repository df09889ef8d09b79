// Package peers finds the real outside tools the interop tests talk to (python-can, tshark,
// can-utils, qemu, User-Mode Linux) and decides what a test does when one is missing: skip with a
// clear message on a developer's machine, fail in CI where HILRUN_REQUIRE_INTEROP=1 says every
// peer must be there.
package peers

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// RequireEnv is the variable that turns a missing peer from a skip into a failure.
const RequireEnv = "HILRUN_REQUIRE_INTEROP"

// Python is the interpreter python-can is installed for; the first python3 on PATH may be
// another one that cannot see it.
const Python = "/usr/bin/python3"

// Missing skips t, or fails it when RequireEnv is set, naming what is missing and how to get it.
func Missing(t testing.TB, what, install string) {
	t.Helper()
	msg := what + " is not available (" + install + ")"
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s, and %s=1 requires it", msg, RequireEnv)
	}
	t.Skip(msg)
}

// Tool returns the path of an executable on PATH, or skips/fails t.
func Tool(t testing.TB, name, debPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name, "apt-get install "+debPackage)
	}
	return p
}

var pythonCan = sync.OnceValue(func() string {
	out, err := exec.Command(Python, "-c", "import can; print(can.__version__)").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
})

// PythonCan returns the interpreter that has python-can, or skips/fails t.
func PythonCan(t testing.TB) string {
	t.Helper()
	if pythonCan() == "" {
		Missing(t, "python-can for "+Python, "apt-get install python3-can")
	}
	return Python
}
