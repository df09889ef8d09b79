package guestkernel

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modbatt/hilrun/internal/peers"
)

func TestCPIOGolden(t *testing.T) {
	var b bytes.Buffer
	c := newCPIO(&b)
	c.file("a/b", 0o644, []byte("hi"))
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	want := "070701" + "00000001" + "000041ED" + "00000000" + "00000000" + "00000002" + "00000000" +
		"00000000" + "00000000" + "00000000" + "00000000" + "00000000" + "00000002" + "00000000" + "a\x00" +
		"070701" + "00000002" + "000081A4" + "00000000" + "00000000" + "00000001" + "00000000" +
		"00000002" + "00000000" + "00000000" + "00000000" + "00000000" + "00000004" + "00000000" + "a/b\x00\x00\x00" + "hi\x00\x00" +
		"070701" + "00000003" + "00000000" + "00000000" + "00000000" + "00000001" + "00000000" +
		"00000000" + "00000000" + "00000000" + "00000000" + "00000000" + "0000000B" + "00000000" + "TRAILER!!!\x00" + "\x00\x00\x00"
	if got := b.String(); got != want {
		t.Errorf("cpio =\n%q\nwant\n%q", got, want)
	}
	if b.Len()%4 != 0 {
		t.Errorf("archive length %d not a multiple of 4", b.Len())
	}
}

// TestCPIOReadByCpio checks the archive with GNU cpio, the reference reader.
func TestCPIOReadByCpio(t *testing.T) {
	cpio := peers.Tool(t, "cpio", "cpio")
	var b bytes.Buffer
	c := newCPIO(&b)
	c.file("init", 0o755, []byte("#!/bin/true\n"))
	c.file("modules/x.ko", 0o644, bytes.Repeat([]byte{1}, 1001))
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cpio, "-it", "--quiet")
	cmd.Stdin = &b
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -it: %v: %s", err, out)
	}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != "init modules modules/x.ko" {
		t.Errorf("cpio lists %q", got)
	}
}

func TestMarkerCode(t *testing.T) {
	for console, want := range map[string]int{
		"x\n" + exitMarker + "0\r\nreboot":     0,
		exitMarker + "3\n":                     3,
		exitMarker + "1\n" + exitMarker + "12": 12,
	} {
		if got, ok := markerCode(console); !ok || got != want {
			t.Errorf("markerCode(%q) = %d, %v; want %d", console, got, ok, want)
		}
	}
	if _, ok := markerCode("panic"); ok {
		t.Error("markerCode found a code in a console without one")
	}
}

func TestCmdlineEnv(t *testing.T) {
	words, err := cmdlineEnv(map[string]string{"B": "2", "A": "^TestX$"})
	if err != nil || strings.Join(words, " ") != "A=^TestX$ B=2" {
		t.Errorf("cmdlineEnv = %q, %v", words, err)
	}
	if _, err := cmdlineEnv(map[string]string{"A": "two words"}); err == nil {
		t.Error("cmdlineEnv accepted a value with a space")
	}
}

func TestSharedLibraries(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	interp, libs, err := sharedLibraries(self)
	if err != nil {
		t.Fatal(err)
	}
	if interp == "" && len(libs) > 0 {
		t.Errorf("libraries %v without an ELF interpreter", libs)
	}
	for name, p := range libs {
		if filepath.Base(p) != name {
			t.Errorf("%s resolved to %s", name, p)
		}
	}
}

func TestFindModules(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"kernel/net/can/can.ko", "kernel/drivers/net/can/vcan.ko"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(root, p), nil, 0o644)
	}
	got, err := findModules(root, []string{"vcan", "can"})
	if err != nil || len(got) != 2 || filepath.Base(got[0]) != "vcan.ko" || filepath.Base(got[1]) != "can.ko" {
		t.Errorf("findModules = %v, %v", got, err)
	}
	if _, err := findModules(root, []string{"can-isotp"}); err == nil {
		t.Error("findModules found a module that is not there")
	}
}

func TestPrune(t *testing.T) {
	root := t.TempDir()
	files := []string{
		"boot/vmlinuz-6.1.0-1-amd64", "boot/System.map-6.1.0-1-amd64",
		"lib/modules/6.1.0-1-amd64/kernel/net/can/can.ko",
		"lib/modules/6.1.0-1-amd64/kernel/drivers/net/can/vcan.ko",
		"lib/modules/6.1.0-1-amd64/kernel/drivers/net/ethernet/e1000.ko",
		"usr/share/doc/x/changelog.gz",
	}
	for _, f := range files {
		os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(root, f), nil, 0o644)
	}
	keep := func(rel string) bool { return strings.HasPrefix(rel, "boot/vmlinuz-") || canModule(rel) }
	if err := prune(root, keep); err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		_, err := os.Stat(filepath.Join(root, f))
		if kept := err == nil; kept != (i == 0 || i == 2 || i == 3) {
			t.Errorf("%s kept=%v", f, kept)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "usr")); err == nil {
		t.Error("empty directory usr left behind")
	}
}
