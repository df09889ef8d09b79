package pty

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func openSlave(t *testing.T, path string) *os.File {
	t.Helper()
	s, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readFull(t *testing.T, f *os.File, n int) []byte {
	t.Helper()
	if err := f.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, n)
	tmp := make([]byte, n)
	for len(buf) < n {
		k, err := f.Read(tmp[:n-len(buf)])
		if err != nil {
			t.Fatalf("read after %q: %v", buf, err)
		}
		buf = append(buf, tmp[:k]...)
	}
	return buf
}

// Raw mode on both sides: CR and BEL pass unchanged and nothing is echoed back.
func TestRawBothWays(t *testing.T) {
	p, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s := openSlave(t, p.Path())
	defer s.Close()

	down := []byte("V\rt1232AABB\r\a\n\x00")
	if _, err := p.Master.Write(down); err != nil {
		t.Fatal(err)
	}
	if got := readFull(t, s, len(down)); !bytes.Equal(got, down) {
		t.Fatalf("slave read %q, want %q", got, down)
	}
	up := []byte("z\rV1013\r\a")
	if _, err := s.Write(up); err != nil {
		t.Fatal(err)
	}
	if got := readFull(t, p.Master, len(up)); !bytes.Equal(got, up) {
		t.Fatalf("master read %q, want %q (echo or translation?)", got, up)
	}
}

func TestHangupAndReopen(t *testing.T) {
	p, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s := openSlave(t, p.Path())
	s.Close()
	p.Master.SetReadDeadline(time.Now().Add(time.Second))
	_, err = p.Master.Read(make([]byte, 8))
	if !IsHangup(err) {
		t.Fatalf("read with no slave open: %v, want EIO", err)
	}
	s = openSlave(t, p.Path())
	defer s.Close()
	if _, err := s.Write([]byte("C\r")); err != nil {
		t.Fatal(err)
	}
	if got := readFull(t, p.Master, 2); string(got) != "C\r" {
		t.Fatalf("after reopen read %q", got)
	}
}

func TestLink(t *testing.T) {
	p, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "ttyCAN0")
	if err := os.WriteFile(link+"x", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.Link(link + "x"); err == nil {
		t.Fatal("Link replaced a regular file")
	}
	if err := p.Link(link); err != nil {
		t.Fatal(err)
	}
	s := openSlave(t, link)
	s.Close()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Fatalf("link left behind: %v", err)
	}
}
