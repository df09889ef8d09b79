package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modbatt/hilrun/bench/flash/an3155"
	"github.com/modbatt/hilrun/bus/pty"
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

// hwRig writes a rig whose pack is flashed with the given flash mapping.
func hwRig(t *testing.T, flashYAML string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hw.yaml")
	doc := `name: hw
buses: [{name: can1, bitrate: 500000, transport: {kind: emulated}}]
devices:
  - {name: pack, role: pack, image: gateway, flash: ` + flashYAML + `, buses: [can1]}
power: {kind: none}
authority: {kind: emulated}
`
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFlashCommandSTM32UART(t *testing.T) {
	pair, err := pty.Open()
	if err != nil {
		t.Skipf("no ptys: %v", err)
	}
	tg := an3155.NewTarget(an3155.TargetConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); tg.ServePTY(ctx, pair) }()
	defer func() { cancel(); <-done; pair.Close() }()

	img := filepath.Join(t.TempDir(), "gateway.bin")
	data := bytes.Repeat([]byte{0x12, 0x34, 0x56}, 1000)
	os.WriteFile(img, data, 0o644)
	rigPath := hwRig(t, "{method: stm32-uart, port: "+pair.Path()+", verify: true}")
	code, out, errs := runCLI(t, "flash", "--rig", rigPath, "--device", "pack", "--image", img)
	if code != exitOK || !strings.Contains(out, "flashed pack: gateway dev") || !strings.Contains(errs, "100% (6000/6000 bytes)") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if !bytes.Equal(tg.Memory(an3155.FlashBase, len(data)), data) || !tg.Stats().Jumped {
		t.Fatal("target not flashed")
	}
}

func TestFlashCommandTemplate(t *testing.T) {
	tool, _ := filepath.Abs("../../bench/flash/testdata/fake-flasher.sh")
	out := filepath.Join(t.TempDir(), "written.bin")
	img := filepath.Join(t.TempDir(), "gateway.bin")
	os.WriteFile(img, []byte("image bytes"), 0o644)
	rigPath := hwRig(t, `{method: command, tool: "`+tool+`", args: ["{{.Image}}", "`+out+`"]}`)
	code, _, errs := runCLI(t, "flash", "--rig", rigPath, "--device", "pack", "--image", img, "--quiet")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if b, _ := os.ReadFile(out); string(b) != "image bytes" {
		t.Fatalf("tool wrote %q", b)
	}
	rigPath = hwRig(t, `{method: command, tool: "`+tool+`", args: ["{{.Image}}", "`+out+`", "4"]}`)
	if code, _, errs := runCLI(t, "flash", "--rig", rigPath, "--device", "pack", "--image", img); code != exitFailed || !strings.Contains(errs, "exit 4") {
		t.Fatalf("failing tool: exit %d: %s", code, errs)
	}
}
