package rig

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Env answers what this machine has. HostEnv asks the real machine; tests pass a fake.
type Env interface {
	Interface(name string) error // the network interface exists and is a CAN interface
	Device(path string) error    // the serial device exists and this user may open it
	Tool(name string) error      // the executable is on PATH
	PTY() error                  // pseudo-terminals can be allocated (emulated adapters)
	Dial(hostport string) error  // a TCP server answers there
}

// ErrCannotRun is wrapped by *CannotRunError.
var ErrCannotRun = errors.New("rig: cannot run here")

// Reason is one thing a rig needs that this machine lacks.
type Reason struct {
	Path string // the rig field that asks for it, e.g. buses[0].transport.interface
	Need string // what is needed: "interface can0", "serial port /dev/ttyUSB0", "tool openocd"
	Err  error
}

func (r Reason) String() string { return fmt.Sprintf("%s: %s: %v", r.Path, r.Need, r.Err) }

// CannotRunError lists why a rig cannot run on this machine.
type CannotRunError struct {
	Rig     string
	Reasons []Reason
}

func (e *CannotRunError) Error() string {
	var s []string
	for _, r := range e.Reasons {
		s = append(s, r.String())
	}
	return fmt.Sprintf("rig %s cannot run here: %s", e.Rig, strings.Join(s, "; "))
}

func (e *CannotRunError) Unwrap() error { return ErrCannotRun }

// CanRunHere returns nil when env has everything the rig needs, else a *CannotRunError naming
// each missing piece (every one, not just the first).
func (r *Rig) CanRunHere(env Env) error {
	var rs []Reason
	need := func(path, what string, err error) {
		if err != nil {
			rs = append(rs, Reason{Path: path, Need: what, Err: err})
		}
	}
	pty := false
	for i, b := range r.Buses {
		p := fmt.Sprintf("buses[%d].transport", i)
		t := b.Transport
		switch t.Kind {
		case TransportSocketCAN:
			need(p+".interface", "CAN interface "+t.Interface, env.Interface(t.Interface))
		case TransportSLCAN:
			if t.Port == EmulatedAdapter {
				if !pty {
					need(p+".port", "pseudo-terminals", env.PTY())
					pty = true
				}
			} else {
				need(p+".port", "serial port "+t.Port, env.Device(t.Port))
			}
		case TransportSocketcand:
			need(p+".host", "socketcand server "+t.Host, env.Dial(t.Host))
		}
	}
	for i, d := range r.Devices {
		p := fmt.Sprintf("devices[%d].flash", i)
		switch d.Flash.Method {
		case FlashSTM32UART:
			need(p+".port", "serial port "+d.Flash.Port, env.Device(d.Flash.Port))
		case FlashCommand:
			need(p+".tool", "tool "+d.Flash.Tool, env.Tool(d.Flash.Tool))
		}
	}
	switch r.Power.Kind {
	case PowerSerialRelay:
		need("power.port", "serial port "+r.Power.Port, env.Device(r.Power.Port))
	case PowerCommand:
		if r.Power.Command != nil {
			for _, argv := range [][]string{r.Power.Command.On, r.Power.Command.Off} {
				if len(argv) > 0 {
					need("power.command", "tool "+argv[0], env.Tool(argv[0]))
				}
			}
		}
	}
	if len(rs) == 0 {
		return nil
	}
	return &CannotRunError{Rig: r.Name, Reasons: rs}
}

// HostEnv is the Env of the machine this process runs on.
type HostEnv struct {
	DialTimeout time.Duration // for Dial; 0 means 1 s
}

// ErrNotCAN is returned by HostEnv.Interface for an interface that exists but is not CAN.
var ErrNotCAN = errors.New("not a CAN interface")

// arphrdCAN is ARPHRD_CAN, the link type /sys/class/net/*/type reports for CAN interfaces.
const arphrdCAN = "280"

// Interface checks the interface exists and its link type is CAN.
func (HostEnv) Interface(name string) error {
	if _, err := net.InterfaceByName(name); err != nil {
		return fmt.Errorf("no such interface: %w", err)
	}
	b, err := os.ReadFile("/sys/class/net/" + name + "/type")
	if err != nil {
		return nil // no sysfs: the interface exists, trust it
	}
	if strings.TrimSpace(string(b)) != arphrdCAN {
		return fmt.Errorf("%w (link type %s)", ErrNotCAN, strings.TrimSpace(string(b)))
	}
	return nil
}

// Device checks path is a character device this user may read and write, without opening it
// (opening a serial port can toggle DTR and reset the board behind it).
func (HostEnv) Device(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Mode()&os.ModeCharDevice == 0 {
		return fmt.Errorf("%s is not a character device", path)
	}
	if err := unix.Access(path, unix.R_OK|unix.W_OK); err != nil {
		return fmt.Errorf("no read/write access (group dialout?): %w", err)
	}
	return nil
}

// Tool checks the executable is on PATH.
func (HostEnv) Tool(name string) error {
	_, err := exec.LookPath(name)
	return err
}

// PTY checks a pseudo-terminal can be allocated.
func (HostEnv) PTY() error {
	f, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

// Dial checks a TCP server answers at hostport.
func (e HostEnv) Dial(hostport string) error {
	t := e.DialTimeout
	if t <= 0 {
		t = time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), t)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return err
	}
	return c.Close()
}
