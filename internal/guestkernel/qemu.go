package guestkernel

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// QemuKernel is an unpacked Debian linux-image package and the qemu that boots it.
type QemuKernel struct {
	Qemu    string // qemu-system-x86_64
	Kernel  string // boot/vmlinuz-<version>
	Modules string // lib/modules/<version>
}

// FetchQemu returns the cached Debian amd64 kernel (resolved through linux-image-amd64), and the
// qemu binary from PATH.
func FetchQemu(ctx context.Context) (*QemuKernel, error) {
	q, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return nil, fmt.Errorf("%w: qemu-system-x86_64 not on PATH (apt-get install qemu-system-x86)", ErrUnavailable)
	}
	cache, err := CacheDir()
	if err != nil {
		return nil, err
	}
	p, err := fetch(ctx, cache, "linux-image-amd64", true, func(rel string) bool {
		return strings.HasPrefix(rel, "boot/vmlinuz-") || strings.HasPrefix(rel, "lib/modules/") && canModule(rel)
	})
	if err != nil {
		return nil, err
	}
	kernels, _ := filepath.Glob(filepath.Join(p.Dir, "boot", "vmlinuz-*"))
	mods, _ := filepath.Glob(filepath.Join(p.Dir, "lib", "modules", "*"))
	if len(kernels) != 1 || len(mods) != 1 {
		return nil, fmt.Errorf("%w: %s holds %d kernels and %d module trees", ErrUnavailable, p.Dir, len(kernels), len(mods))
	}
	return &QemuKernel{Qemu: q, Kernel: kernels[0], Modules: mods[0]}, nil
}

// Run boots the kernel with an initramfs whose /init is binary (with its shared libraries) and
// whose /modules hold the modules spec names.
func (k *QemuKernel) Run(ctx context.Context, binary, work string, spec Spec) (Result, error) {
	mods, err := findModules(k.Modules, spec.Modules)
	if err != nil {
		return Result{}, err
	}
	initrd := filepath.Join(work, "initrd.cpio")
	guestMods, err := writeInitramfs(initrd, binary, mods)
	if err != nil {
		return Result{}, err
	}
	if spec.Share != "" {
		return Result{}, fmt.Errorf("guestkernel: qemu guests have no shared directory (Spec.Share is for UML)")
	}
	words := map[string]string{}
	for k, v := range spec.Env {
		words[k] = v
	}
	for k, v := range map[string]string{
		envKind:           Qemu.String(),
		envRun:            spec.Test,
		envBench:          spec.Bench,
		envModules:        strings.Join(guestMods, ","),
		envRequire:        os.Getenv(envRequire),
		"LD_LIBRARY_PATH": "/lib",
	} {
		words[k] = v
	}
	env, err := cmdlineEnv(words)
	if err != nil {
		return Result{}, err
	}
	mem := spec.Memory
	if mem == "" {
		mem = "512"
	}
	cmd := exec.CommandContext(ctx, k.Qemu,
		"-accel", "tcg", "-M", "pc", "-m", mem, "-smp", "1",
		"-nographic", "-no-reboot", "-nic", "none",
		"-kernel", k.Kernel, "-initrd", initrd,
		"-append", "console=ttyS0 quiet panic=-1 no_timer_check "+strings.Join(env, " "),
		"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04")
	var console bytes.Buffer
	cmd.Stdout = &console
	cmd.Stderr = &console
	cmd.WaitDelay = 2 * time.Second
	ownGroup(cmd)
	start := time.Now()
	runErr := cmd.Run()
	_ = killGroup(cmd)
	res := Result{Console: strings.ReplaceAll(console.String(), "\r\n", "\n"), Elapsed: time.Since(start), ExitCode: -1}
	var exit *exec.ExitError
	switch {
	case runErr == nil:
		// Powered off without touching isa-debug-exit: only the console marker can tell.
	case errors.As(runErr, &exit) && exit.ExitCode()%2 == 1 && ctx.Err() == nil:
		res.ExitCode = (exit.ExitCode() - 1) / 2
		return res, nil
	default:
		return res, fmt.Errorf("guestkernel: qemu: %w", runErr)
	}
	code, ok := markerCode(res.Console)
	if !ok {
		return res, errors.New("guestkernel: qemu guest powered off without an exit code")
	}
	res.ExitCode = code
	return res, nil
}

// writeInitramfs builds an uncompressed newc initramfs: /init, the ELF interpreter at its own
// path, every shared library in /lib, and the modules in /modules. It returns the guest paths of
// the modules in load order.
func writeInitramfs(dst, binary string, modules []string) ([]string, error) {
	f, err := os.Create(dst)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	c := newCPIO(bw)
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "modules", "lib", "etc"} {
		c.dir(d)
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	c.file("init", 0o755, data)
	interp, libs, err := sharedLibraries(binary)
	if err != nil {
		return nil, err
	}
	if interp != "" {
		b, err := os.ReadFile(interp)
		if err != nil {
			return nil, fmt.Errorf("guestkernel: ELF interpreter: %w", err)
		}
		c.file(interp, 0o755, b)
	}
	for name, host := range libs {
		b, err := os.ReadFile(host)
		if err != nil {
			return nil, fmt.Errorf("guestkernel: library %s: %w", name, err)
		}
		c.file("lib/"+name, 0o755, b)
	}
	guest := make([]string, len(modules))
	for i, m := range modules {
		b, err := os.ReadFile(m)
		if err != nil {
			return nil, err
		}
		guest[i] = "/modules/" + filepath.Base(m)
		c.file(guest[i], 0o644, b)
	}
	if err := c.close(); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return guest, f.Close()
}

// libDirs are where the host's dynamic loader finds libraries on Debian.
var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// sharedLibraries returns binary's ELF interpreter and every library it needs, transitively, as
// soname → host path. A static binary has neither.
func sharedLibraries(binary string) (string, map[string]string, error) {
	libs := map[string]string{}
	var interp string
	var visit func(file string, top bool) error
	visit = func(file string, top bool) error {
		ef, err := elf.Open(file)
		if err != nil {
			return fmt.Errorf("guestkernel: %w", err)
		}
		defer ef.Close()
		if top {
			for _, p := range ef.Progs {
				if p.Type == elf.PT_INTERP {
					b := make([]byte, p.Filesz)
					if _, err := p.ReadAt(b, 0); err != nil {
						return fmt.Errorf("guestkernel: PT_INTERP of %s: %w", file, err)
					}
					interp = strings.TrimRight(string(b), "\x00")
				}
			}
		}
		needed, err := ef.ImportedLibraries()
		if err != nil {
			return nil // no dynamic section
		}
		for _, n := range needed {
			if _, done := libs[n]; done || (interp != "" && n == path.Base(interp)) {
				continue
			}
			host := ""
			for _, d := range libDirs {
				if _, err := os.Stat(filepath.Join(d, n)); err == nil {
					host = filepath.Join(d, n)
					break
				}
			}
			if host == "" {
				return fmt.Errorf("guestkernel: %s needs %s, not found in %v", file, n, libDirs)
			}
			libs[n] = host
			if err := visit(host, false); err != nil {
				return err
			}
		}
		return nil
	}
	if err := visit(binary, true); err != nil {
		return "", nil, err
	}
	return interp, libs, nil
}
