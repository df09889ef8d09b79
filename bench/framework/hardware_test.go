package framework_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bench/rig"
)

// labScript stands in for a lab's tooling: "on DEVICE" starts the image flashed for DEVICE
// as a process on the rig's buses (the device powering up), "off DEVICE" kills it (a power
// cut). The bench passes the authority's key in HILRUN_AUTHORITY_KEY, as it does to every
// power command.
const labScript = `#!/bin/sh
set -e
dir=$(dirname "$0"); what=$1; dev=$2
case $what in
on)
  case $dev in
  pack) args="--can1 $CAN1 --can2 $CAN2 --pack-id 0 --entity-id pack-0" ;;
  module-*) n=${dev#module-}; args="--bus $CAN2 --unique-id 0x4D42000$n --seed 1$n --entity-id $dev" ;;
  esac
  "$dir/$dev.img" $args --nvm "$dir/$dev.nvm" --profile zero --authority-key "$HILRUN_AUTHORITY_KEY" \
    --log-level warn >>"$dir/$dev.log" 2>&1 </dev/null &
  echo $! >"$dir/$dev.pid" ;;
off)
  [ -f "$dir/$dev.pid" ] && kill -9 "$(cat "$dir/$dev.pid")" 2>/dev/null || true
  rm -f "$dir/$dev.pid" ;;
esac
`

// TestHardwareRig brings up a rig whose pack and modules are "real": flashed by the command
// method (the lab's tool copies the image where the device boots from), powered by the
// command power kind (the lab's script), and reached only over buses served by another
// process. The bench sees them as it sees silicon: through flashing, power and the bus.
func TestHardwareRig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the device programs")
	}
	lab := shortDir(t)
	script := filepath.Join(lab, "lab.sh")
	if err := os.WriteFile(script, []byte(labScript), 0o755); err != nil {
		t.Fatal(err)
	}
	can1, can2 := serveEmu(t), serveEmu(t)
	t.Setenv("CAN1", can1)
	t.Setenv("CAN2", can2)
	t.Cleanup(func() {
		for _, d := range []string{"pack", "module-1", "module-2"} {
			_ = exec.Command(script, "off", d).Run()
		}
	})
	yaml := fmt.Sprintf(`name: lab-in-a-box
buses:
  - {name: can1, bitrate: 500000, transport: {kind: emulated, address: "%[1]s"}}
  - {name: can2, bitrate: 500000, transport: {kind: emulated, address: "%[2]s"}}
devices:
  - {name: app, role: app, buses: [can1]}
  - {name: pack, role: pack, image: gateway, pack_id: 0, buses: [can1, can2],
     flash: {method: command, tool: cp, args: ["{{.Image}}", "%[3]s/{{.Device.Name}}.img"]}}
  - {name: module-1, role: module, image: firmware, module_id: 1, unique_id: 0x4D420001, buses: [can2],
     flash: {method: command, tool: cp, args: ["{{.Image}}", "%[3]s/{{.Device.Name}}.img"]}}
  - {name: module-2, role: module, image: firmware, module_id: 2, unique_id: 0x4D420002, buses: [can2],
     flash: {method: command, tool: cp, args: ["{{.Image}}", "%[3]s/{{.Device.Name}}.img"]}}
  - {name: authority, role: authority}
power:
  kind: command
  command:
    on: ["%[4]s", "on", "{{.Device}}"]
    off: ["%[4]s", "off", "{{.Device}}"]
authority: {kind: emulated}
capture: {dir: captures, formats: [candump, pcap]}
`, can1, can2, lab, script)
	r, err := rig.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if !framework.HasHardware(r) {
		t.Fatal("rig has no real devices")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	im := &framework.Images{OutDir: t.TempDir()}
	s, err := framework.Up(ctx, framework.Options{Rig: r, Name: "hw", ReportDir: t.TempDir(), Images: im})
	if err != nil {
		logs, _ := filepath.Glob(filepath.Join(lab, "*.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", filepath.Base(l), b)
		}
		t.Fatal(err)
	}
	defer s.Down()
	for _, e := range []string{"pack-0", "module-1", "module-2"} {
		rep, ok := s.Reports[e]
		if !ok {
			t.Errorf("no boot report of %s", e)
			continue
		}
		if rep.ImageVersion != s.Images[map[bool]string{true: "gateway", false: "firmware"}[e == "pack-0"]].Version {
			t.Errorf("%s reports version %q", e, rep.ImageVersion)
		}
	}
	for _, m := range s.Modules {
		if m.Device != nil {
			t.Errorf("%s runs in-process; a real module must not", m.Name())
		}
	}
	flow(t, ctx, s)

	// A power cycle through the lab's script: the module comes back and is registered again.
	if err := s.PowerOff("module-2"); err != nil {
		t.Fatal(err)
	}
	if err := s.PowerOn(ctx, "module-2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Down(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"pack", "module-1", "module-2"} {
		if _, err := os.Stat(filepath.Join(lab, d+".pid")); err == nil {
			t.Errorf("%s still powered after teardown", d)
		}
	}
	checkCaptures(t, s, 2)
}
