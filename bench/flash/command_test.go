package flash

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bench/rig"
)

func fakeTool(t *testing.T) string {
	p, err := filepath.Abs("testdata/fake-flasher.sh")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCommandFlash(t *testing.T) {
	out := filepath.Join(t.TempDir(), "flashed.bin")
	img := testImage(t, "gateway", 3000, nil)
	c := Command{Tool: fakeTool(t), Args: []string{"{{.Image}}", out}, Device: rig.Device{Name: "pack"}}
	var p progressLog
	if err := c.Flash(context.Background(), img, p.f); err != nil {
		t.Fatal(err)
	}
	p.check(t, len(img.Bytes))
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, img.Bytes) {
		t.Fatalf("tool got other bytes: %v", err)
	}
}

func TestCommandExpand(t *testing.T) {
	img := testImage(t, "gateway", 10, nil)
	c := Command{Args: []string{"program {{.Image}} verify reset exit 0x08000000", "{{.Device.Name}}@{{.Device.Flash.Port}}", "{{.Name}}-{{.Version}}-{{.Hash}}", "{{.Size}}"},
		Device: rig.Device{Name: "pack", Flash: rig.Flash{Port: "/dev/ttyUSB0"}}}
	args, err := c.Expand(img, "/tmp/x.bin")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"program /tmp/x.bin verify reset exit 0x08000000", "pack@/dev/ttyUSB0", "gateway-1.2.3-" + img.ID.HashHex(), "10"}
	if strings.Join(args, "|") != strings.Join(want, "|") {
		t.Fatalf("%q", args)
	}
	if _, err := (Command{Args: []string{"{{.Nope}}"}}).Expand(img, "x"); err == nil {
		t.Fatal("unknown template field accepted")
	}
}

func TestCommandFailures(t *testing.T) {
	img := testImage(t, "gateway", 100, nil)
	out := filepath.Join(t.TempDir(), "o")
	err := Command{Tool: fakeTool(t), Args: []string{"{{.Image}}", out, "3"}}.Flash(context.Background(), img, nil)
	var te *ToolError
	if !errors.As(err, &te) || !errors.Is(err, ErrTool) || te.ExitCode != 3 || !strings.Contains(te.Output, "target not responding") {
		t.Fatalf("exit 3: %v", err)
	}
	err = Command{Tool: "/nonexistent/openocd"}.Flash(context.Background(), img, nil)
	if !errors.As(err, &te) || te.ExitCode != -1 {
		t.Fatalf("missing tool: %v", err)
	}
	err = Command{Tool: fakeTool(t), Args: []string{"{{.Image}}", out, "sleep"}, Timeout: 200 * time.Millisecond}.Flash(context.Background(), img, nil)
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout: %v", err)
	}
}
