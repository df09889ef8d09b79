package framework_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/protocol/message"
)

func loadRig(t *testing.T) *rig.Rig {
	t.Helper()
	r, err := rig.Load(filepath.Join("..", "..", "rigs", "emulated.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// flow binds, pairs and commands every module through the app, as the seeds' flow does.
func flow(t *testing.T, ctx context.Context, s *framework.System) {
	t.Helper()
	if _, err := s.App.BindPack(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.App.PairPack(ctx, "battery_management"); err != nil {
		t.Fatal(err)
	}
	on, off := true, false
	cl, dl := uint16(500), uint16(1000)
	for _, m := range s.Modules {
		if _, err := s.App.BindModule(ctx, m.EntityID()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.App.PairModule(ctx, "battery_management", m.EntityID()); err != nil {
			t.Fatal(err)
		}
		ack, err := s.App.Command(ctx, m.Rig.ModuleID, &message.Command{Code: message.CmdChargeDischarge,
			ChargeEnable: &on, DischargeEnable: &off, ChargeLimit: &cl, DischargeLimit: &dl})
		if err != nil || ack.Status != message.StatusOK {
			t.Fatalf("%s: %+v %v", m.Name(), ack, err)
		}
	}
}

func checkCaptures(t *testing.T, s *framework.System, buses int) {
	t.Helper()
	got := s.Captures()
	if len(got) != 2*buses {
		t.Fatalf("captures %v, want a .log and a .pcap per bus", got)
	}
	for _, p := range got {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("capture %s: %v (size %v)", p, err, st)
		}
	}
}

func TestInProcess(t *testing.T) {
	r := loadRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	im := &framework.Images{OutDir: t.TempDir()}
	s, err := framework.Up(ctx, framework.Options{Rig: r, Name: "inproc", ReportDir: t.TempDir(), Images: im, ZeroCost: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Down()
	if s.Pack == nil || len(s.Modules) != 4 || s.App == nil {
		t.Fatalf("pack %v, %d modules, app %v", s.Pack, len(s.Modules), s.App)
	}
	for _, m := range s.Modules {
		if _, ok := s.Reports[m.EntityID()]; !ok && len(s.Images) > 0 {
			t.Errorf("no boot report of %s reached the app", m.Name())
		}
	}
	flow(t, ctx, s)
	if err := s.PowerOff("module-2"); err != nil {
		t.Fatal(err)
	}
	if err := s.PowerOn(ctx, "module-2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Down(); err != nil {
		t.Fatal(err)
	}
	if err := s.Down(); err != nil {
		t.Fatalf("second Down: %v", err)
	}
	checkCaptures(t, s, len(r.Buses))
}

// TestPrograms is the same flow with the pack and the modules as the built gateway and
// firmware programs on the buses served over Unix sockets.
func TestPrograms(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts five programs")
	}
	r := loadRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	im := &framework.Images{OutDir: t.TempDir()}
	for _, n := range []string{"firmware", "gateway"} {
		if _, err := im.Get(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	s, err := framework.Up(ctx, framework.Options{Rig: r, Name: "programs", ReportDir: dir, Images: im, ZeroCost: true, Programs: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Down()
	if !s.Programs {
		t.Fatal("not in programs mode")
	}
	for _, e := range []string{"pack-0", "module-1", "module-2", "module-3", "module-4"} {
		if _, ok := s.Reports[e]; !ok {
			t.Errorf("no boot report of %s", e)
		}
	}
	flow(t, ctx, s)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Down(); err != nil {
		t.Fatal(err)
	}
	checkCaptures(t, s, len(r.Buses))
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	if len(logs) != 5 {
		t.Errorf("program logs %v, want one per device", logs)
	}
}
