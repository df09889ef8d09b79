package an3155

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/modbatt/hilrun/bus/pty"
)

// TargetConfig describes the emulated part.
type TargetConfig struct {
	PID       uint16 // product ID; default PIDSTM32WB55
	Version   byte   // protocol version; default 0x31
	Base      uint32 // flash base; default FlashBase
	Size      int    // flash bytes; default 64 KiB
	PageSize  int    // erase page; default PageWB55
	OldErase  bool   // offer Erase (0x43) instead of Extended Erase (0x44)
	Protected bool   // read protection active: reads and writes are NACKed
}

func (c TargetConfig) withDefaults() TargetConfig {
	if c.PID == 0 {
		c.PID = PIDSTM32WB55
	}
	if c.Version == 0 {
		c.Version = 0x31
	}
	if c.Base == 0 {
		c.Base = FlashBase
	}
	if c.Size <= 0 {
		c.Size = 64 << 10
	}
	if c.PageSize <= 0 {
		c.PageSize = PageWB55
	}
	return c
}

// Faults make the target misbehave, for tests of the host's error paths. Each count is spent
// one event at a time.
type Faults struct {
	NACKWrites   int  // NACK this many Write Memory data phases (a transient fault)
	CorruptWrite int  // store a flipped bit in this many written blocks, and ACK them
	Mute         bool // answer nothing (a missing BOOT0, a wrong port)
}

// TargetStats counts what the target did.
type TargetStats struct {
	Commands, NACKs, Writes, Erases, Reads int
	WrittenBytes                           int
	Jumped                                 bool
	JumpAddr                               uint32
}

// Target is an emulated AN3155 boot loader: Feed takes the host's bytes one at a time and returns
// the answer bytes; Serve runs it over a byte stream (a pty master).
type Target struct {
	cfg TargetConfig

	mu     sync.Mutex
	mem    []byte
	faults Faults
	stats  TargetStats
	synced bool

	// parser state: collect need bytes into buf, then call step
	need int
	buf  []byte
	step func(b []byte) []byte
	cmd  byte
	addr uint32
}

// NewTarget makes a target with erased (0xFF) flash.
func NewTarget(cfg TargetConfig) *Target {
	cfg = cfg.withDefaults()
	t := &Target{cfg: cfg, mem: make([]byte, cfg.Size)}
	for i := range t.mem {
		t.mem[i] = 0xFF
	}
	t.awaitCommand()
	return t
}

// SetFaults replaces the fault settings.
func (t *Target) SetFaults(f Faults) {
	t.mu.Lock()
	t.faults = f
	t.mu.Unlock()
}

// Stats returns the counters.
func (t *Target) Stats() TargetStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stats
}

// Memory returns a copy of n bytes of flash at addr.
func (t *Target) Memory(addr uint32, n int) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	off, ok := t.offset(addr, n)
	if !ok {
		return nil
	}
	return append([]byte(nil), t.mem[off:off+n]...)
}

// Commands lists the command codes Get reports.
func (t *Target) Commands() []byte {
	erase := byte(CmdExtendedErase)
	if t.cfg.OldErase {
		erase = CmdErase
	}
	return []byte{CmdGet, CmdGetVersion, CmdGetID, CmdReadMemory, CmdGo, CmdWriteMemory, erase}
}

func (t *Target) offset(addr uint32, n int) (int, bool) {
	if addr < t.cfg.Base || n < 0 {
		return 0, false
	}
	off := int64(addr) - int64(t.cfg.Base)
	if off+int64(n) > int64(len(t.mem)) {
		return 0, false
	}
	return int(off), true
}

func (t *Target) expect(n int, step func(b []byte) []byte) {
	t.need, t.step, t.buf = n, step, t.buf[:0]
}

func (t *Target) awaitCommand() { t.expect(2, t.onCommand) }

func (t *Target) nack() []byte {
	t.stats.NACKs++
	t.awaitCommand()
	return []byte{NACK}
}

// Feed takes one byte from the host and returns the target's answer (possibly none).
func (t *Target) Feed(b byte) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.faults.Mute || t.stats.Jumped {
		return nil
	}
	if !t.synced {
		if b == Sync {
			t.synced = true
			return []byte{ACK}
		}
		return nil // noise before the sync byte is ignored, as the baud-rate detector does
	}
	t.buf = append(t.buf, b)
	if len(t.buf) < t.need {
		return nil
	}
	data := append([]byte(nil), t.buf...)
	t.buf = t.buf[:0]
	return t.step(data)
}

func (t *Target) onCommand(b []byte) []byte {
	cmd := b[0]
	if b[1] != ^cmd {
		return t.nack()
	}
	t.cmd = cmd
	t.stats.Commands++
	switch cmd {
	case CmdGet:
		cmds := t.Commands()
		out := append([]byte{ACK, byte(len(cmds)), t.cfg.Version}, cmds...)
		t.awaitCommand()
		return append(out, ACK)
	case CmdGetVersion:
		t.awaitCommand()
		return []byte{ACK, t.cfg.Version, 0x00, 0x00, ACK}
	case CmdGetID:
		t.awaitCommand()
		return []byte{ACK, 0x01, byte(t.cfg.PID >> 8), byte(t.cfg.PID), ACK}
	case CmdReadMemory, CmdWriteMemory:
		if t.cfg.Protected {
			return t.nack()
		}
		t.expect(5, t.onAddress)
		return []byte{ACK}
	case CmdGo:
		t.expect(5, t.onAddress)
		return []byte{ACK}
	case CmdErase:
		if t.cfg.OldErase && !t.cfg.Protected {
			t.expect(1, t.onEraseCount)
			return []byte{ACK}
		}
	case CmdExtendedErase:
		if !t.cfg.OldErase && !t.cfg.Protected {
			t.expect(2, t.onExtEraseCount)
			return []byte{ACK}
		}
	}
	return t.nack()
}

func (t *Target) onAddress(b []byte) []byte {
	if xor(b[:4]) != b[4] {
		return t.nack()
	}
	a := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if _, ok := t.offset(a, 1); !ok {
		return t.nack()
	}
	t.addr = a
	switch t.cmd {
	case CmdReadMemory:
		t.expect(2, t.onReadCount)
	case CmdWriteMemory:
		if a%4 != 0 {
			return t.nack()
		}
		t.expect(1, t.onWriteCount)
	case CmdGo:
		t.stats.Jumped, t.stats.JumpAddr = true, a
		t.awaitCommand()
	}
	return []byte{ACK}
}

func (t *Target) onReadCount(b []byte) []byte {
	if b[1] != ^b[0] {
		return t.nack()
	}
	n := int(b[0]) + 1
	off, ok := t.offset(t.addr, n)
	if !ok {
		return t.nack()
	}
	t.stats.Reads++
	t.awaitCommand()
	return append([]byte{ACK}, t.mem[off:off+n]...)
}

func (t *Target) onWriteCount(b []byte) []byte {
	n := int(b[0]) + 1
	t.expect(n+1, func(d []byte) []byte { return t.onWriteData(b[0], d) })
	return nil
}

func (t *Target) onWriteData(cnt byte, d []byte) []byte {
	data, sum := d[:len(d)-1], d[len(d)-1]
	if xor(data)^cnt != sum || len(data)%4 != 0 {
		return t.nack()
	}
	if t.faults.NACKWrites > 0 {
		t.faults.NACKWrites--
		return t.nack()
	}
	off, ok := t.offset(t.addr, len(data))
	if !ok {
		return t.nack()
	}
	for _, v := range t.mem[off : off+len(data)] {
		if v != 0xFF {
			return t.nack() // flash programs only erased cells
		}
	}
	copy(t.mem[off:], data)
	if t.faults.CorruptWrite > 0 {
		t.faults.CorruptWrite--
		t.mem[off] ^= 0x01
	}
	t.stats.Writes++
	t.stats.WrittenBytes += len(data)
	t.awaitCommand()
	return []byte{ACK}
}

func (t *Target) pages() int { return len(t.mem) / t.cfg.PageSize }

func (t *Target) erasePage(p int) bool {
	if p < 0 || p >= t.pages() {
		return false
	}
	s := p * t.cfg.PageSize
	for i := s; i < s+t.cfg.PageSize; i++ {
		t.mem[i] = 0xFF
	}
	return true
}

func (t *Target) eraseAll() {
	for i := range t.mem {
		t.mem[i] = 0xFF
	}
	t.stats.Erases++
	t.awaitCommand()
}

func (t *Target) onEraseCount(b []byte) []byte {
	if b[0] == 0xFF {
		t.expect(1, func(c []byte) []byte {
			if c[0] != 0x00 {
				return t.nack()
			}
			t.eraseAll()
			return []byte{ACK}
		})
		return nil
	}
	if int(b[0])+1 > t.pages() {
		return t.nack()
	}
	t.expect(int(b[0])+2, func(d []byte) []byte {
		pages, sum := d[:len(d)-1], d[len(d)-1]
		if xor(pages)^b[0] != sum {
			return t.nack()
		}
		return t.erasePages(func(yield func(int) bool) {
			for _, p := range pages {
				if !yield(int(p)) {
					return
				}
			}
		})
	})
	return nil
}

func (t *Target) onExtEraseCount(b []byte) []byte {
	n := int(b[0])<<8 | int(b[1])
	if n >= 0xFFF0 {
		t.expect(1, func(c []byte) []byte {
			if c[0] != b[0]^b[1] {
				return t.nack()
			}
			switch n {
			case EraseMass, EraseBank1:
				t.eraseAll()
				return []byte{ACK}
			}
			return t.nack()
		})
		return nil
	}
	if n+1 > t.pages() {
		return t.nack() // refuse at once rather than buffer a count larger than the flash
	}
	t.expect(2*(n+1)+1, func(d []byte) []byte {
		body, sum := d[:len(d)-1], d[len(d)-1]
		if xor(body)^b[0]^b[1] != sum {
			return t.nack()
		}
		return t.erasePages(func(yield func(int) bool) {
			for i := 0; i+1 < len(body); i += 2 {
				if !yield(int(body[i])<<8 | int(body[i+1])) {
					return
				}
			}
		})
	})
	return nil
}

func (t *Target) erasePages(seq func(func(int) bool)) []byte {
	ok := true
	seq(func(p int) bool {
		if p < 0 || p >= t.pages() {
			ok = false
			return false
		}
		return true
	})
	if !ok {
		return t.nack()
	}
	seq(func(p int) bool { t.erasePage(p); return true })
	t.stats.Erases++
	t.awaitCommand()
	return []byte{ACK}
}

type deadliner interface{ SetReadDeadline(time.Time) error }

// Serve answers the host on rw until ctx ends, rw is closed or reaches EOF (nil), or fails.
// With hangup non-nil, read errors it accepts (a pty with no client) are waited out.
func (t *Target) Serve(ctx context.Context, rw io.ReadWriter, hangup func(error) bool) error {
	if dl, ok := rw.(deadliner); ok {
		stop := context.AfterFunc(ctx, func() { dl.SetReadDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	buf := make([]byte, 512)
	var out []byte
	for {
		n, err := rw.Read(buf)
		if ctx.Err() != nil {
			return nil
		}
		out = out[:0]
		for _, b := range buf[:n] {
			out = append(out, t.Feed(b)...)
		}
		if len(out) > 0 {
			if _, werr := rw.Write(out); werr != nil && (hangup == nil || !hangup(werr)) {
				return fmt.Errorf("an3155 target: write: %w", werr)
			}
		}
		switch {
		case err == nil:
		case hangup != nil && hangup(err):
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(10 * time.Millisecond):
			}
		case errors.Is(err, io.EOF), errors.Is(err, os.ErrClosed):
			return nil
		default:
			return fmt.Errorf("an3155 target: read: %w", err)
		}
	}
}

// ServePTY serves on the master of pair; a host closing and reopening the slave is not an end.
func (t *Target) ServePTY(ctx context.Context, pair *pty.Pair) error {
	return t.Serve(ctx, pair.Master, pty.IsHangup)
}
