package guestkernel

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrUnavailable is wrapped by every error that means the guest kernel cannot be had on this
// machine (no apt, no package list and no right to update it, no network, no qemu).
var ErrUnavailable = errors.New("guestkernel: guest kernel unavailable")

// CacheDir is where unpacked kernel packages are kept between runs: $HILRUN_KERNEL_CACHE, or
// hilrun/kernel under os.UserCacheDir.
func CacheDir() (string, error) {
	if d := os.Getenv("HILRUN_KERNEL_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("%w: no cache directory: %v", ErrUnavailable, err)
	}
	return filepath.Join(d, "hilrun", "kernel"), nil
}

// Package is an unpacked Debian package in the cache.
type Package struct {
	Name, Version string
	Dir           string // root of the unpacked tree
}

// fetch returns the unpacked package, downloading and unpacking it on first use. pkg is a
// package name or, when resolve is set, a metapackage whose first linux-image dependency is
// taken (linux-image-amd64 → linux-image-6.1.0-NN-amd64).
//
// Only files keep accepts (paths relative to the package root) stay in the cache: a kernel
// package is hundreds of megabytes unpacked, of which the tests need a kernel and a few modules.
func fetch(ctx context.Context, cache, pkg string, resolve bool, keep func(rel string) bool) (Package, error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return Package{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	unlock, err := lockDir(cache)
	if err != nil {
		return Package{}, err
	}
	defer unlock()

	// Any kernel of the package serves the tests, so a cached one is used without asking apt
	// (apt-cache alone takes seconds on a loaded machine). HILRUN_KERNEL_REFRESH=1 asks anyway.
	if os.Getenv("HILRUN_KERNEL_REFRESH") != "1" {
		if p, ok := newestCached(cache, pkg, resolve); ok {
			return p, nil
		}
	}
	name, version, err := candidate(ctx, pkg, resolve)
	if err != nil {
		// No usable package list: try to update it once (this needs root).
		if uerr := run(ctx, "", "apt-get", "update", "-qq"); uerr == nil {
			name, version, err = candidate(ctx, pkg, resolve)
		}
		if err != nil {
			if p, ok := newestCached(cache, pkg, resolve); ok {
				return p, nil
			}
			return Package{}, fmt.Errorf("%w: %s: %v (it is fetched with apt-get download, which needs apt's package lists: apt-get update)", ErrUnavailable, pkg, err)
		}
	}
	p := Package{Name: name, Version: version, Dir: filepath.Join(cache, name+"_"+sanitize(version))}
	if _, err := os.Stat(filepath.Join(p.Dir, ".complete")); err == nil {
		return p, nil
	}
	work, err := os.MkdirTemp(cache, ".fetch-")
	if err != nil {
		return Package{}, err
	}
	defer os.RemoveAll(work)
	if err := run(ctx, work, "apt-get", "download", "-qq", name+"="+version); err != nil {
		return Package{}, fmt.Errorf("%w: apt-get download %s=%s: %v", ErrUnavailable, name, version, err)
	}
	debs, _ := filepath.Glob(filepath.Join(work, "*.deb"))
	if len(debs) != 1 {
		return Package{}, fmt.Errorf("%w: apt-get download %s left %d .deb files", ErrUnavailable, name, len(debs))
	}
	tree := filepath.Join(work, "tree")
	if err := run(ctx, "", "dpkg-deb", "-x", debs[0], tree); err != nil {
		return Package{}, fmt.Errorf("%w: unpack %s: %v", ErrUnavailable, debs[0], err)
	}
	if err := prune(tree, keep); err != nil {
		return Package{}, fmt.Errorf("guestkernel: prune %s: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(tree, ".complete"), []byte(name+" "+version+"\n"), 0o644); err != nil {
		return Package{}, err
	}
	os.RemoveAll(p.Dir)
	if err := os.Rename(tree, p.Dir); err != nil {
		return Package{}, err
	}
	return p, nil
}

// candidate asks apt which version of pkg it would install.
func candidate(ctx context.Context, pkg string, resolve bool) (name, version string, err error) {
	name = pkg
	if resolve {
		out, err := output(ctx, "apt-cache", "depends", pkg)
		if err != nil {
			return "", "", err
		}
		name = ""
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) == 2 && f[0] == "Depends:" && strings.HasPrefix(f[1], "linux-image-") {
				name = f[1]
				break
			}
		}
		if name == "" {
			return "", "", fmt.Errorf("apt-cache depends %s names no linux-image package", pkg)
		}
	}
	out, err := output(ctx, "apt-cache", "policy", name)
	if err != nil {
		return "", "", err
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "Candidate:" && f[1] != "(none)" {
			return name, f[1], nil
		}
	}
	return "", "", fmt.Errorf("apt knows no candidate for %s", name)
}

// newestCached finds an unpacked package from an earlier run, for machines without apt lists.
func newestCached(cache, pkg string, resolve bool) (Package, bool) {
	prefix := pkg + "_"
	if resolve {
		prefix = "linux-image-"
	}
	entries, err := os.ReadDir(cache)
	if err != nil {
		return Package{}, false
	}
	var best Package
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		dir := filepath.Join(cache, e.Name())
		if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
			continue
		}
		name, version, _ := strings.Cut(e.Name(), "_")
		if resolve && (strings.Contains(name, "-cloud-") || !strings.HasSuffix(name, "-amd64")) {
			continue
		}
		best = Package{Name: name, Version: version, Dir: dir}
	}
	return best, best.Dir != ""
}

func sanitize(v string) string {
	return strings.NewReplacer(":", "%3a", "/", "_").Replace(v)
}

// lockDir serialises cache updates between test processes running at once.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

func run(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, lastLine(errb.String()))
	}
	return nil
}

func output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w: %s", name, err, lastLine(errb.String()))
	}
	return string(out), nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// findModules maps module names to .ko files under root, in the order asked.
func findModules(root string, names []string) ([]string, error) {
	found := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".ko") {
			n := strings.TrimSuffix(d.Name(), ".ko")
			if _, dup := found[n]; !dup {
				found[n] = path
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("guestkernel: modules under %s: %w", root, err)
	}
	paths := make([]string, len(names))
	for i, n := range names {
		p, ok := found[n]
		if !ok {
			return nil, fmt.Errorf("%w: module %s not in %s", ErrUnavailable, n, root)
		}
		paths[i] = p
	}
	return paths, nil
}

// prune removes from tree every file keep rejects, and the directories left empty.
func prune(tree string, keep func(rel string) bool) error {
	var dirs []string
	err := filepath.WalkDir(tree, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(tree, path)
		if d.IsDir() {
			dirs = append(dirs, path)
			return nil
		}
		if keep(filepath.ToSlash(rel)) {
			return nil
		}
		return os.Remove(path)
	})
	for i := len(dirs) - 1; i > 0; i-- {
		_ = os.Remove(dirs[i]) // fails, as it should, on directories that still hold files
	}
	return err
}

// canModule accepts the kernel's CAN modules (net/can, drivers/net/can) under a modules tree.
func canModule(rel string) bool {
	return strings.HasSuffix(rel, ".ko") && (strings.Contains(rel, "/kernel/net/can/") || strings.Contains(rel, "/kernel/drivers/net/can/"))
}
