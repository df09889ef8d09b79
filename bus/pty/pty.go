// Package pty makes Linux pseudo-terminal pairs that stand in for the tty of a USB serial
// adapter: the slave side is a path any serial library (go-serial, pyserial, slcand) can open,
// the master side is where an emulated device reads commands and writes replies.
package pty

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Pair is an open pseudo-terminal: Master is the device side; Path names the slave.
type Pair struct {
	Master *os.File
	path   string
	link   string
}

// Open allocates a pair through /dev/ptmx, unlocks the slave and puts both sides in raw mode, so
// no line discipline echoes, translates CR to LF or eats control bytes before the first client
// configures the port.
func Open() (*Pair, error) {
	// os.OpenFile registers a character device with the runtime poller, so reads and writes
	// on the master honour deadlines and Close wakes them.
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("pty: open /dev/ptmx: %w", err)
	}
	var n int
	var ierr error
	rc, err := m.SyscallConn()
	if err == nil {
		err = rc.Control(func(fd uintptr) {
			if ierr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ierr != nil {
				ierr = fmt.Errorf("unlock (TIOCSPTLCK): %w", ierr)
				return
			}
			if n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN); ierr != nil {
				ierr = fmt.Errorf("slave number (TIOCGPTN): %w", ierr)
				return
			}
			ierr = makeRaw(int(fd))
		})
	}
	if err == nil {
		err = ierr
	}
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("pty: %w", err)
	}
	p := &Pair{Master: m, path: fmt.Sprintf("/dev/pts/%d", n)}
	// The slave's termios outlive this descriptor: they belong to the pair until the master
	// closes.
	s, err := unix.Open(p.path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("pty: open %s: %w", p.path, err)
	}
	err = makeRaw(s)
	unix.Close(s)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("pty: slave raw mode: %w", err)
	}
	return p, nil
}

// makeRaw is cfmakeraw: bytes pass unchanged in both directions.
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// Path is the slave's device path (/dev/pts/N).
func (p *Pair) Path() string { return p.path }

// Link makes path a symbolic link to the slave, replacing an existing symlink (never a regular
// file), so a fixed name like /tmp/ttyCAN0 can be handed to tools. Close removes it.
func (p *Pair) Link(path string) error {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSymlink == 0 {
			return fmt.Errorf("pty: %s exists and is not a symlink", path)
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("pty: replace %s: %w", path, err)
		}
	}
	if err := os.Symlink(p.path, path); err != nil {
		return fmt.Errorf("pty: link: %w", err)
	}
	p.link = path
	return nil
}

// Close closes the master, which hangs up every open slave descriptor, and removes the link.
func (p *Pair) Close() error {
	err := p.Master.Close()
	if p.link != "" {
		if target, lerr := os.Readlink(p.link); lerr == nil && target == p.path {
			if rerr := os.Remove(p.link); rerr != nil && err == nil {
				err = rerr
			}
		}
		p.link = ""
	}
	return err
}

// IsHangup reports whether err from a master read means no process has the slave open: Linux
// answers EIO until a client opens it again.
func IsHangup(err error) bool {
	return errors.Is(err, syscall.EIO)
}
