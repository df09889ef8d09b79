package framework

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"text/template"
	"time"

	"go.bug.st/serial"

	"github.com/modbatt/hilrun/bench/rig"
)

// PowerSwitch switches the supply of a real device of the rig (a relay board on a serial
// line, or an external command). Emulated devices are powered by the framework itself.
type PowerSwitch interface {
	Set(ctx context.Context, device string, on bool) error
	Close() error
}

// SwitchData is what the power templates of a rig file see: {{.Device}}, {{.Role}},
// {{.Channel}} (the relay channel the rig gives the device, or -1).
type SwitchData struct {
	Device  string
	Role    string
	Channel int
	On      bool
}

// ErrNoChannel is returned for a device the rig's relay has no channel for.
var ErrNoChannel = errors.New("framework: no relay channel for the device")

// OpenPowerSwitch returns the switch the rig's power section describes, or nil for power
// kinds emulated and none (nothing to switch). env is added to the environment of power
// commands (the bench passes the authority's key and URL, which lab scripts that provision
// a device need).
func OpenPowerSwitch(r *rig.Rig, env []string) (PowerSwitch, error) {
	switch r.Power.Kind {
	case rig.PowerSerialRelay:
		on, err := template.New("on").Parse(r.Power.On)
		if err != nil {
			return nil, fmt.Errorf("framework: power.on: %w", err)
		}
		off, err := template.New("off").Parse(r.Power.Off)
		if err != nil {
			return nil, fmt.Errorf("framework: power.off: %w", err)
		}
		baud := r.Power.Baud
		if baud == 0 {
			baud = 9600
		}
		return &relaySwitch{rig: r, on: on, off: off, port: r.Power.Port, baud: baud}, nil
	case rig.PowerCommand:
		if r.Power.Command == nil {
			return nil, errors.New("framework: power kind command without command.on/off")
		}
		return &commandSwitch{rig: r, on: r.Power.Command.On, off: r.Power.Command.Off, env: env}, nil
	}
	return nil, nil
}

func switchData(r *rig.Rig, device string, on bool) SwitchData {
	d := SwitchData{Device: device, Channel: -1, On: on}
	if dev, ok := r.Device(device); ok {
		d.Role = dev.Role
	}
	if ch, ok := r.Power.Channels[device]; ok {
		d.Channel = ch
	}
	return d
}

// relaySwitch writes the rig's on/off text, rendered for the device's channel, to a relay
// board on a serial line. The port is opened at the first switch and kept.
type relaySwitch struct {
	rig     *rig.Rig
	on, off *template.Template
	port    string
	baud    int

	mu sync.Mutex
	sp serial.Port
}

func (s *relaySwitch) Set(ctx context.Context, device string, on bool) error {
	d := switchData(s.rig, device, on)
	if d.Channel < 0 {
		return fmt.Errorf("%w: %s (power.channels)", ErrNoChannel, device)
	}
	t := s.off
	if on {
		t = s.on
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return fmt.Errorf("framework: power template for %s: %w", device, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sp == nil {
		sp, err := serial.Open(s.port, &serial.Mode{BaudRate: s.baud})
		if err != nil {
			return fmt.Errorf("framework: power relay %s: %w", s.port, err)
		}
		s.sp = sp
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := s.sp.Write(b.Bytes()); err != nil {
		return fmt.Errorf("framework: power relay %s: switch %s: %w", s.port, device, err)
	}
	if err := s.sp.Drain(); err != nil { // the command is on the wire before the bench waits on the device
		return fmt.Errorf("framework: power relay %s: %w", s.port, err)
	}
	return nil
}

func (s *relaySwitch) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sp == nil {
		return nil
	}
	err := s.sp.Close()
	s.sp = nil
	return err
}

// commandSwitch runs the rig's on or off argv, each word a template over SwitchData,
// without a shell.
type commandSwitch struct {
	rig     *rig.Rig
	on, off []string
	env     []string
}

// switchTimeout bounds one power command: a relay tool that hangs must not hang the run.
const switchTimeout = 30 * time.Second

func (s *commandSwitch) Set(ctx context.Context, device string, on bool) error {
	words := s.off
	if on {
		words = s.on
	}
	d := switchData(s.rig, device, on)
	argv := make([]string, len(words))
	for i, w := range words {
		t, err := template.New("power").Option("missingkey=error").Parse(w)
		if err != nil {
			return fmt.Errorf("framework: power command word %d: %w", i, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, d); err != nil {
			return fmt.Errorf("framework: power command word %d: %w", i, err)
		}
		argv[i] = b.String()
	}
	ctx, cancel := context.WithTimeout(ctx, switchTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), s.env...)
	cmd.WaitDelay = time.Second // a tool that leaves a child holding its output must not hang us
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("framework: power %s %s: %s: %w: %s", map[bool]string{true: "on", false: "off"}[on], device,
			strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (s *commandSwitch) Close() error { return nil }
