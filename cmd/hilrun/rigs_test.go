package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modbatt/hilrun/bench/rig"
)

type noHardware struct{}

var errAbsent = errors.New("absent")

func (noHardware) Interface(string) error { return errAbsent }
func (noHardware) Device(string) error    { return errAbsent }
func (noHardware) Tool(string) error      { return errAbsent }
func (noHardware) PTY() error             { return nil }
func (noHardware) Dial(string) error      { return errAbsent }

func TestRigsCommand(t *testing.T) {
	old := rigEnv
	rigEnv = func() rig.Env { return noHardware{} }
	t.Cleanup(func() { rigEnv = old })

	code, out, errs := runCLI(t, "rigs", "--dir", "../../rigs", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var st []rigStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	runs := map[string]bool{}
	for _, s := range st {
		if !s.Valid {
			t.Errorf("%s invalid: %v", s.File, s.Problems)
		}
		runs[s.Name] = s.Runnable
	}
	if !runs["emulated"] || !runs["emulated-full"] || runs["vcan"] || runs["lab-pcan"] || runs["lab-slcan"] {
		t.Errorf("runnable: %v", runs)
	}

	code, out, _ = runCLI(t, "rigs", "--dir", "../../rigs")
	if code != exitOK || !strings.Contains(out, "lab-pcan.yaml: cannot run here: buses[0].transport.interface: CAN interface can0") {
		t.Errorf("table output:\n%s", out)
	}

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("name: x\nbuses: []\ncolour: red\n"), 0o644)
	code, out, _ = runCLI(t, "rigs", "--dir", dir)
	if code != exitFailed || !strings.Contains(out, "colour: unknown field") {
		t.Errorf("bad rig: exit %d\n%s", code, out)
	}
	if code, _, _ := runCLI(t, "rigs", "--dir", t.TempDir()); code != exitEnviron {
		t.Errorf("empty dir: exit %d", code)
	}
}
