package an3155

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus/pty"
	"github.com/modbatt/hilrun/internal/peers"
)

// TestStm32flashAgainstTarget runs stm32flash, an independent AN3155 host, against the emulated
// boot loader on a pty: it must identify the part, write and verify an image, read it back
// and start it.
//
// stm32flash 0.7 does not know the STM32WB55 (0x495), so the target poses as parts it knows with
// the same flash base: an STM32F10x medium-density (0x410: Erase 0x43, 1 KiB pages) and an
// STM32G07x/08x (0x460: Extended Erase 0x44, 2 KiB pages).
func TestStm32flashAgainstTarget(t *testing.T) {
	tool := peers.Tool(t, "stm32flash", "stm32flash")
	for _, cfg := range []TargetConfig{
		{PID: 0x410, OldErase: true, PageSize: 1024, Size: 128 << 10},
		{PID: 0x460, PageSize: 2048, Size: 128 << 10},
	} {
		t.Run(fmt.Sprintf("pid-0x%03x", cfg.PID), func(t *testing.T) { stm32flash(t, tool, cfg) })
	}
}

func stm32flash(t *testing.T, tool string, cfg TargetConfig) {
	pair, err := pty.Open()
	if err != nil {
		t.Skipf("no ptys: %v", err)
	}
	tg := NewTarget(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	done := make(chan struct{})
	go func() { defer close(done); tg.ServePTY(ctx, pair) }()
	defer func() { cancel(); <-done; pair.Close() }()

	dir := t.TempDir()
	img := make([]byte, 5000)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range img {
		img[i] = byte(rng.Uint32())
	}
	in := filepath.Join(dir, "in.bin")
	if err := os.WriteFile(in, img, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, tool, append(args, pair.Path())...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("stm32flash %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	// A Linux pty drops PARENB from its termios, and stm32flash checks the line settings it
	// set, so it runs at 8N1 here; the boot loader protocol is the same.
	out := run("-b", "115200", "-m", "8n1", "-w", in, "-v", "-S", "0x08000000")
	t.Logf("stm32flash write:\n%s", out)
	if id := fmt.Sprintf("0x%04x", cfg.PID); !bytes.Contains([]byte(out), []byte(id)) {
		t.Errorf("stm32flash did not identify the part as %s:\n%s", id, out)
	}
	if got := tg.Memory(FlashBase, len(img)); !bytes.Equal(got, img) {
		t.Fatal("flash contents differ after stm32flash -w")
	}
	back := filepath.Join(dir, "back.bin")
	run("-b", "115200", "-m", "8n1", "-r", back, "-S", "0x08000000:5000")
	if b, _ := os.ReadFile(back); !bytes.Equal(b, img) {
		t.Fatal("stm32flash -r read other bytes")
	}
	run("-b", "115200", "-m", "8n1", "-g", "0x08000000")
	if s := tg.Stats(); !s.Jumped || s.JumpAddr != FlashBase {
		t.Fatalf("no jump: %+v", s)
	}
}
