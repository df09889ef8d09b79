package flash

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"

	"go.bug.st/serial"

	"github.com/modbatt/hilrun/bench/flash/an3155"
	"github.com/modbatt/hilrun/clock"
)

// STM32UART flashes through the STM32 system boot loader over a serial port (AN3155): sync,
// identify, erase the pages the image covers, write it in 256-byte blocks, read it back, and
// jump to it.
type STM32UART struct {
	Port     string // serial device path
	Baud     int    // default 115200
	Address  uint32 // default an3155.FlashBase
	PageSize int    // erase page; default an3155.PageWB55
	Verify   bool   // read back after writing
	NoGo     bool   // leave the part in the boot loader after flashing
	Clock    clock.Clock
	Log      *slog.Logger

	// Open opens the port; nil means go.bug.st/serial at 8E1. Tests replace it.
	Open func(path string, baud int) (an3155.Port, error)
}

// OpenSerial opens path at baud, 8 data bits, even parity, one stop bit: the boot loader's
// line settings. On a pty the parity setting is accepted and not enforced.
func OpenSerial(path string, baud int) (an3155.Port, error) {
	p, err := serial.Open(path, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.EvenParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("flash: open %s: %w", path, err)
	}
	return p, nil
}

type closer interface{ Close() error }

// Flash writes img. Progress counts written bytes, then (with Verify) read-back bytes: total
// is the image size, times two when verifying.
func (s STM32UART) Flash(ctx context.Context, img Image, progress Progress) error {
	if len(img.Bytes) == 0 {
		return ErrEmpty
	}
	baud, addr, page := s.Baud, s.Address, s.PageSize
	if baud == 0 {
		baud = 115200
	}
	if addr == 0 {
		addr = an3155.FlashBase
	}
	if page <= 0 {
		page = an3155.PageWB55
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	open := s.Open
	if open == nil {
		open = OpenSerial
	}
	port, err := open(s.Port, baud)
	if err != nil {
		return err
	}
	if c, ok := port.(closer); ok {
		defer c.Close()
	}
	c := an3155.NewClient(port, s.Clock)
	if err := c.Sync(ctx); err != nil {
		return fmt.Errorf("flash: %s: %w (is BOOT0 high and the part reset?)", s.Port, err)
	}
	info, err := c.Get(ctx)
	if err != nil {
		return fmt.Errorf("flash: %w", err)
	}
	pid, err := c.GetID(ctx)
	if err != nil {
		return fmt.Errorf("flash: %w", err)
	}
	log.Info("stm32 boot loader", "port", s.Port, "version", fmt.Sprintf("%d.%d", info.Version>>4, info.Version&0xF), "pid", fmt.Sprintf("0x%03X", pid))

	if addr < an3155.FlashBase {
		return fmt.Errorf("flash: address 0x%08X below flash", addr)
	}
	first := int(addr-an3155.FlashBase) / page
	last := (int(addr-an3155.FlashBase) + len(img.Bytes) - 1) / page
	pages := make([]uint16, 0, last-first+1)
	for p := first; p <= last; p++ {
		pages = append(pages, uint16(p))
	}
	switch {
	case info.Supports(an3155.CmdExtendedErase):
		err = c.ExtendedErase(ctx, pages)
	case info.Supports(an3155.CmdErase):
		err = c.Erase(ctx, pages)
	default:
		err = an3155.ErrNoErase
	}
	if err != nil {
		return fmt.Errorf("flash: erase: %w", err)
	}

	total := len(img.Bytes)
	if s.Verify {
		total *= 2
	}
	progress.report(0, total)
	for off := 0; off < len(img.Bytes); off += an3155.MaxBlock {
		blk := img.Bytes[off:min(off+an3155.MaxBlock, len(img.Bytes))]
		if err := c.WriteMemory(ctx, addr+uint32(off), blk); err != nil {
			return fmt.Errorf("flash: write at 0x%08X: %w", addr+uint32(off), err)
		}
		progress.report(off+len(blk), total)
	}
	if s.Verify {
		for off := 0; off < len(img.Bytes); off += an3155.MaxBlock {
			want := img.Bytes[off:min(off+an3155.MaxBlock, len(img.Bytes))]
			got, err := c.ReadMemory(ctx, addr+uint32(off), len(want))
			if err != nil {
				return fmt.Errorf("flash: read back at 0x%08X: %w", addr+uint32(off), err)
			}
			if i := mismatch(got, want); i >= 0 {
				return fmt.Errorf("%w: at 0x%08X: 0x%02X, want 0x%02X", ErrVerify, addr+uint32(off+i), got[i], want[i])
			}
			progress.report(len(img.Bytes)+off+len(want), total)
		}
	}
	if s.NoGo {
		return nil
	}
	if err := c.Go(ctx, addr); err != nil {
		return fmt.Errorf("flash: go: %w", err)
	}
	return nil
}

func mismatch(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
