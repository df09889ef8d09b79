package framework_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/bus/pty"
)

// TestRelaySwitch drives a relay board emulated on a pty: the bytes the board receives are
// the rig's on/off templates rendered for each device's channel.
func TestRelaySwitch(t *testing.T) {
	pair, err := pty.Open()
	if err != nil {
		t.Skipf("no pty here: %v", err)
	}
	defer pair.Close()
	r := &rig.Rig{
		Devices: []rig.Device{{Name: "pack", Role: rig.RolePack}, {Name: "module-1", Role: rig.RoleModule}},
		Power: rig.Power{Kind: rig.PowerSerialRelay, Port: pair.Path(), Baud: 9600,
			On: "R{{.Channel}}=1\r", Off: "R{{.Channel}}=0\r", Channels: map[string]int{"pack": 1, "module-1": 7}},
	}
	sw, err := framework.OpenPowerSwitch(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, step := range []struct {
		dev string
		on  bool
	}{{"pack", true}, {"module-1", true}, {"module-1", false}, {"pack", false}} {
		if err := sw.Set(ctx, step.dev, step.on); err != nil {
			t.Fatal(err)
		}
	}
	want := "R1=1\rR7=1\rR7=0\rR1=0\r"
	got := make([]byte, 0, len(want))
	buf := make([]byte, 64)
	pair.Master.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < len(want) {
		n, err := pair.Master.Read(buf)
		if err != nil {
			t.Fatalf("relay read %q, then %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != want {
		t.Errorf("relay received %q, want %q", got, want)
	}
	if err := sw.Set(ctx, "module-9", true); !errors.Is(err, framework.ErrNoChannel) {
		t.Errorf("unknown device: %v, want ErrNoChannel", err)
	}
}

// TestCommandSwitch runs the rig's power argv, rendered per device, without a shell, with
// the bench's environment added.
func TestCommandSwitch(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	r := &rig.Rig{
		Devices: []rig.Device{{Name: "pack", Role: rig.RolePack}},
		Power: rig.Power{Kind: rig.PowerCommand, Channels: map[string]int{"pack": 3}, Command: &rig.PowerCommandSet{
			On:  []string{"sh", "-c", `echo "on $0 $1 $HILRUN_TEST_WORD" >> "$2"`, "{{.Device}}", "{{.Role}}/{{.Channel}}", log},
			Off: []string{"sh", "-c", `echo "off $0" >> "$1"`, "{{.Device}}", log},
		}},
	}
	sw, err := framework.OpenPowerSwitch(r, []string{"HILRUN_TEST_WORD=relay"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := sw.Set(ctx, "pack", true); err != nil {
		t.Fatal(err)
	}
	if err := sw.Set(ctx, "pack", false); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "on pack pack/3 relay\noff pack\n"; got != want {
		t.Errorf("commands wrote %q, want %q", got, want)
	}

	r.Power.Command.On = []string{"false"}
	sw, _ = framework.OpenPowerSwitch(r, nil)
	if err := sw.Set(ctx, "pack", true); err == nil || !strings.Contains(err.Error(), "power on pack") {
		t.Errorf("failing command: %v", err)
	}
	r.Power.Command.On = []string{"echo", "{{.Nope}}"}
	sw, _ = framework.OpenPowerSwitch(r, nil)
	if err := sw.Set(ctx, "pack", true); err == nil {
		t.Error("a template naming an unknown field switched")
	}
}
