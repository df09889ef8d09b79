package guestkernel

import (
	"fmt"
	"io"
	"strings"
)

// cpioWriter writes a "newc" cpio archive, the format the kernel unpacks as an initramfs.
type cpioWriter struct {
	w    io.Writer
	ino  uint32
	err  error
	seen map[string]bool
}

func newCPIO(w io.Writer) *cpioWriter { return &cpioWriter{w: w, seen: map[string]bool{}} }

const (
	modeDir  = 0o040000
	modeFile = 0o100000
)

func (c *cpioWriter) header(name string, mode uint32, size int) {
	if c.err != nil {
		return
	}
	c.ino++
	nlink := 1
	if mode&modeDir != 0 {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(name)+1, 0)
	c.write([]byte(hdr + name + "\x00"))
	c.pad(len(hdr) + len(name) + 1)
}

func (c *cpioWriter) write(b []byte) {
	if c.err == nil {
		_, c.err = c.w.Write(b)
	}
}

func (c *cpioWriter) pad(n int) {
	if r := n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

// dir adds a directory and its parents (names are relative: "lib/modules").
func (c *cpioWriter) dir(name string) {
	name = strings.Trim(name, "/")
	if name == "" || c.seen[name] {
		return
	}
	if i := strings.LastIndexByte(name, '/'); i > 0 {
		c.dir(name[:i])
	}
	c.seen[name] = true
	c.header(name, modeDir|0o755, 0)
}

// file adds a regular file, creating its parent directories.
func (c *cpioWriter) file(name string, perm uint32, data []byte) {
	name = strings.Trim(name, "/")
	if i := strings.LastIndexByte(name, '/'); i > 0 {
		c.dir(name[:i])
	}
	c.seen[name] = true
	c.header(name, modeFile|perm, len(data))
	c.write(data)
	c.pad(len(data))
}

// close writes the trailer.
func (c *cpioWriter) close() error {
	c.header("TRAILER!!!", 0, 0)
	return c.err
}
