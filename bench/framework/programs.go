package framework

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/legacy"
)

// serveBuses serves every in-process bus on a Unix socket, for devices that run as
// separate programs, and returns the addresses by bus name.
func (s *System) serveBuses() error {
	dir, err := os.MkdirTemp("", "hr-bus-") // short: socket paths are limited to ~100 bytes
	if err != nil {
		return fmt.Errorf("framework: %w", err)
	}
	s.tempDirs = append(s.tempDirs, dir)
	s.sockets = map[string]string{}
	for name, l := range s.links {
		b := l.wire
		a := emu.Address{Mode: emu.Framed, Network: "unix", Addr: filepath.Join(dir, name+".sock")}
		ln, err := emu.Listen(s.runCtx, a)
		if err != nil {
			return fmt.Errorf("framework: serve bus %s: %w", name, err)
		}
		srv := emu.NewServer(b, s.log)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); _ = srv.Serve(s.runCtx, ln, emu.Framed) }()
		s.sockets[name] = a.String()
	}
	return nil
}

// writeFlash writes the bytes a device holds to its flash file, which is what runs.
func (s *System) writeFlash(name string, data []byte) (string, error) {
	if len(data) == 0 {
		return "", fmt.Errorf("%w: %s holds no image", ErrImageMissing, name)
	}
	path := filepath.Join(s.flashDir, name)
	if err := os.WriteFile(path, data, 0o755); err != nil {
		return "", fmt.Errorf("framework: flash %s: %w", name, err)
	}
	return path, nil
}

// program runs a flashed image as a process until ctx ends (SIGTERM, then SIGKILL after 3 s),
// its output in the report's logs directory.
func (s *System) program(name, path string, args []string) func(context.Context) error {
	return func(ctx context.Context) error {
		logPath := filepath.Join(s.logDir, name+".log")
		logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("framework: %w", err)
		}
		defer logf.Close()
		cmd := exec.CommandContext(ctx, path, args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = 3 * time.Second
		err = cmd.Run()
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("framework: %s exited: %v (output in %s)", name, err, logPath)
	}
}

func (s *System) authorityKey() string {
	return base64.StdEncoding.EncodeToString(s.Authority.PublicKey().Bytes())
}

// programProfile maps a rig profile to the programs' --profile flag.
func programProfile(d *rig.Device, def string, zero bool) string {
	switch {
	case zero:
		return "zero"
	case d.Profile != "":
		return d.Profile
	}
	return def
}

func (m *Module) startProgram(s *System) error {
	path, err := s.writeFlash(m.Name(), m.flashed)
	if err != nil {
		return err
	}
	args := []string{"--bus", s.sockets[m.busName], "--unique-id", fmt.Sprintf("0x%08X", m.Rig.UniqueID),
		"--seed", fmt.Sprint(m.Rig.Seed), "--nvm", filepath.Join(s.flashDir, m.Name()+".nvm"),
		"--profile", programProfile(&m.Rig, "atmega64m1", s.zero), "--authority-key", s.authorityKey(),
		"--entity-id", m.Name(), "--log-level", "warn"}
	if m.Rig.Cells > 0 {
		args = append(args, "--cells", fmt.Sprint(m.Rig.Cells))
	}
	if m.LegacyOnly {
		args = append(args, "--no-web4")
	}
	s.power(m.Name(), s.program(m.Name(), path, args), nil)
	return nil
}

func (p *Pack) startProgram(s *System) error {
	path, err := s.writeFlash(p.Name(), p.flashed)
	if err != nil {
		return err
	}
	args := []string{"--can1", s.sockets[p.buses[0]], "--can2", s.sockets[p.buses[1]], "--pack-id", fmt.Sprint(p.Rig.PackID),
		"--nvm", filepath.Join(s.flashDir, p.Name()+".nvm"), "--profile", programProfile(&p.Rig, "stm32wb55", s.zero),
		"--authority-key", s.authorityKey(), "--entity-id", p.EntityID(), "--log-level", "warn"}
	s.power(p.Name(), s.program(p.Name(), path, args), nil)
	return nil
}

// waitRegistration waits on the module bus for the pack's registration (0x510) of the
// module's unique ID, from position mark, and checks the module ID it assigns.
func (m *Module) waitRegistration(ctx context.Context, p *Probe, mark int) error {
	var got uint8
	_, _, err := p.Wait(ctx, mark, fmt.Sprintf("the pack's registration of %s", m.Name()), func(f bus.Frame) bool {
		d, err := legacy.Decode(f)
		if err != nil {
			return false
		}
		r, ok := d.Msg.(*legacy.Registration)
		if ok && r.UniqueID == m.Rig.UniqueID {
			got = r.ModuleID
			return true
		}
		return false
	})
	if err != nil {
		return fmt.Errorf("framework: the pack did not register %s: %w", m.Name(), err)
	}
	if got != m.Rig.ModuleID {
		return fmt.Errorf("framework: the pack registered %s as module 0x%02X, the rig says 0x%02X", m.Name(), got, m.Rig.ModuleID)
	}
	return nil
}
