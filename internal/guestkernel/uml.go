package guestkernel

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// UMLKernel is an unpacked user-mode-linux package.
type UMLKernel struct {
	Binary  string // linux.uml
	Modules string // usr/lib/uml/modules/<version>
}

// FetchUML returns the cached User-Mode Linux kernel, downloading it on first use.
func FetchUML(ctx context.Context) (*UMLKernel, error) {
	cache, err := CacheDir()
	if err != nil {
		return nil, err
	}
	p, err := fetch(ctx, cache, "user-mode-linux", false, func(rel string) bool {
		return rel == "usr/bin/linux.uml" || strings.HasPrefix(rel, "usr/lib/uml/modules/") && canModule(rel)
	})
	if err != nil {
		return nil, err
	}
	k := &UMLKernel{Binary: filepath.Join(p.Dir, "usr", "bin", "linux.uml")}
	mods, _ := filepath.Glob(filepath.Join(p.Dir, "usr", "lib", "uml", "modules", "*"))
	if len(mods) != 1 {
		return nil, fmt.Errorf("%w: %d module trees in %s", ErrUnavailable, len(mods), p.Dir)
	}
	k.Modules = mods[0]
	return k, nil
}

// Run boots UML with the host's / as a read-only hostfs root and binary as init. out is a host
// directory the guest mounts read-write to leave its exit code in (UML itself always exits 0).
func (k *UMLKernel) Run(ctx context.Context, binary, out string, spec Spec) (Result, error) {
	mods, err := findModules(k.Modules, spec.Modules)
	if err != nil {
		return Result{}, err
	}
	words := map[string]string{}
	for k, v := range spec.Env {
		words[k] = v
	}
	for k, v := range map[string]string{
		envKind:    UML.String(),
		envRun:     spec.Test,
		envBench:   spec.Bench,
		envModules: strings.Join(mods, ","),
		envOut:     out,
		envShare:   spec.Share,
		envRequire: os.Getenv(envRequire),
	} {
		words[k] = v
	}
	env, err := cmdlineEnv(words)
	if err != nil {
		return Result{}, err
	}
	mem := spec.Memory
	if mem == "" {
		mem = "256M"
	}
	args := append([]string{
		"mem=" + mem, "root=/dev/root", "rootfstype=hostfs", "rootflags=/", "ro",
		"init=" + binary, "con=null", "con0=fd:0,fd:1", "ssl=null", "quiet",
	}, env...)
	cmd := exec.CommandContext(ctx, k.Binary, args...)
	var console bytes.Buffer
	cmd.Stdout = &console
	cmd.Stderr = &console
	// UML keeps the guest's memory in a file under TMPDIR: on a disk file system every page
	// the guest touches is written back and booting takes many times longer.
	cmd.Env = append(os.Environ(), "TMPDIR="+memoryDir(out))
	cmd.WaitDelay = 2 * time.Second
	ownGroup(cmd)
	start := time.Now()
	runErr := cmd.Run()
	_ = killGroup(cmd)
	res := Result{Console: console.String(), Elapsed: time.Since(start), ExitCode: -1}
	if runErr != nil {
		return res, fmt.Errorf("guestkernel: linux.uml: %w", runErr)
	}
	b, err := os.ReadFile(filepath.Join(out, "exit"))
	if err != nil {
		if code, ok := markerCode(res.Console); ok {
			res.ExitCode = code
			return res, nil
		}
		return res, fmt.Errorf("guestkernel: UML guest left no exit code: %w", err)
	}
	res.ExitCode, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return res, fmt.Errorf("guestkernel: UML guest exit code %q: %w", b, err)
	}
	return res, nil
}

// markerCode finds the exit code the guest printed on its console.
func markerCode(console string) (int, bool) {
	i := strings.LastIndex(console, exitMarker)
	if i < 0 {
		return 0, false
	}
	rest := console[i+len(exitMarker):]
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(rest)
	}
	code, err := strconv.Atoi(rest[:end])
	return code, err == nil
}

// memoryDir picks a tmpfs directory for UML's memory file when there is one.
func memoryDir(fallback string) string {
	var st unix.Statfs_t
	if unix.Statfs("/dev/shm", &st) == nil && st.Type == unix.TMPFS_MAGIC && unix.Access("/dev/shm", unix.W_OK) == nil {
		return "/dev/shm"
	}
	return fallback
}
