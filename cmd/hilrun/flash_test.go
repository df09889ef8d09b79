package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFlashCommandEmulated(t *testing.T) {
	img := filepath.Join(t.TempDir(), "gateway.bin")
	if err := os.WriteFile(img, make([]byte, 10_000), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "flash", "--rig", "../../rigs/emulated.yaml", "--device", "pack", "--image", img, "--version", "1.0.0")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "emulated boot loader booted gateway 1.0.0 sha256:") || !strings.Contains(errs, "100% (10000/10000 bytes)") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, errs)
	}
}

func TestFlashCommandErrors(t *testing.T) {
	img := filepath.Join(t.TempDir(), "x.bin")
	os.WriteFile(img, []byte{1, 2, 3, 4}, 0o644)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--rig", "../../rigs/emulated.yaml", "--image", img}, exitUsage, "required"},
		{[]string{"--rig", "../../rigs/emulated.yaml", "--device", "nobody", "--image", img}, exitUsage, "no device"},
		{[]string{"--rig", "../../rigs/emulated.yaml", "--device", "pack", "--image", "/nonexistent"}, exitEnviron, "no such file"},
		{[]string{"--rig", "../../rigs/lab-pcan.yaml", "--device", "module-1", "--image", img}, exitEnviron, "run it from a suite"},
		{[]string{"--rig", "../../rigs/emulated.yaml", "--device", "pack", "--image", img, "--method", "stm32-uart"}, exitEnviron, "flash.port"},
		{[]string{"--rig", "/nonexistent.yaml", "--device", "pack", "--image", img}, exitEnviron, "no such file"},
	}
	for _, c := range cases {
		code, _, errs := runCLI(t, append([]string{"flash"}, c.args...)...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d, stderr %s", c.args, code, errs)
		}
	}
}
