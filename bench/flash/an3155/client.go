package an3155

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/modbatt/hilrun/clock"
)

// Port is a serial line with a read timeout: Read returns 0 bytes and no error when the timeout
// passes with nothing to read (go.bug.st/serial's Port behaves so).
type Port interface {
	io.ReadWriter
	SetReadTimeout(t time.Duration) error
}

// Client is the host side of the protocol.
type Client struct {
	port Port

	// Timeout bounds the wait for each answer byte; EraseTimeout the wait for an erase's ACK
	// (a mass erase takes seconds); Retries is how many times a failed Write Memory block or
	// sync is tried again.
	Timeout      time.Duration
	EraseTimeout time.Duration
	Retries      int

	slice time.Duration // read timeout per Read, so ctx is checked between reads
	clk   clock.Clock
}

// NewClient makes a client with 1 s answer timeout, 30 s erase timeout and 3 retries. The
// timeouts run on clk (nil means the real clock): the serial line's own read timeout wakes
// the reads, and clk decides when an answer is overdue.
func NewClient(p Port, clk clock.Clock) *Client {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Client{port: p, Timeout: time.Second, EraseTimeout: 30 * time.Second, Retries: 3, slice: 50 * time.Millisecond, clk: clk}
}

// readFull reads len(b) bytes, failing with ErrTimeout when one of them does not come within
// timeout.
func (c *Client) readFull(ctx context.Context, b []byte, timeout time.Duration) error {
	if err := c.port.SetReadTimeout(min(c.slice, timeout)); err != nil {
		return fmt.Errorf("an3155: setting read timeout: %w", err)
	}
	got := 0
	deadline := c.clk.Now().Add(timeout)
	for got < len(b) {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := c.port.Read(b[got:])
		got += n
		if err != nil {
			return fmt.Errorf("an3155: read: %w", err)
		}
		if n > 0 {
			deadline = c.clk.Now().Add(timeout)
			continue
		}
		if c.clk.Now().After(deadline) {
			return ErrTimeout
		}
	}
	return nil
}

func (c *Client) write(b []byte) error {
	if _, err := c.port.Write(b); err != nil {
		return fmt.Errorf("an3155: write: %w", err)
	}
	return nil
}

// ack waits for ACK; NACK gives ErrNACK, anything else ErrGarbled.
func (c *Client) ack(ctx context.Context, timeout time.Duration) error {
	var b [1]byte
	if err := c.readFull(ctx, b[:], timeout); err != nil {
		return err
	}
	switch b[0] {
	case ACK:
		return nil
	case NACK:
		return ErrNACK
	}
	return fmt.Errorf("%w: 0x%02X", ErrGarbled, b[0])
}

// drain throws away whatever the boot loader still sends, so a retry starts clean.
func (c *Client) drain(ctx context.Context) {
	var b [64]byte
	_ = c.port.SetReadTimeout(c.slice)
	for ctx.Err() == nil {
		n, err := c.port.Read(b[:])
		if n == 0 || err != nil {
			return
		}
	}
}

// Sync sends 0x7F until the boot loader answers. An already synced boot loader answers the
// extra 0x7F as an unknown command with NACK, which also proves it is there.
func (c *Client) Sync(ctx context.Context) error {
	var last error
	for try := 0; try <= c.Retries; try++ {
		if err := c.write([]byte{Sync}); err != nil {
			return err
		}
		err := c.ack(ctx, c.Timeout)
		if err == nil || errors.Is(err, ErrNACK) {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		last = err
		c.drain(ctx)
	}
	return &CommandError{Cmd: Sync, Phase: "sync", Err: last}
}

// command sends a command byte with its complement and waits for the ACK.
func (c *Client) command(ctx context.Context, cmd byte) error {
	if err := c.write([]byte{cmd, ^cmd}); err != nil {
		return err
	}
	if err := c.ack(ctx, c.Timeout); err != nil {
		return &CommandError{Cmd: cmd, Phase: "command", Err: err}
	}
	return nil
}

// Info is what Get reports.
type Info struct {
	Version  byte   // boot loader protocol version, 0x31 = 3.1
	Commands []byte // supported command codes
}

// Supports reports whether cmd is in the list.
func (i Info) Supports(cmd byte) bool {
	for _, c := range i.Commands {
		if c == cmd {
			return true
		}
	}
	return false
}

// Get asks for the protocol version and the supported commands.
func (c *Client) Get(ctx context.Context) (Info, error) {
	if err := c.command(ctx, CmdGet); err != nil {
		return Info{}, err
	}
	var n [1]byte
	if err := c.readFull(ctx, n[:], c.Timeout); err != nil {
		return Info{}, &CommandError{Cmd: CmdGet, Phase: "answer", Err: err}
	}
	b := make([]byte, int(n[0])+1)
	if err := c.readFull(ctx, b, c.Timeout); err != nil {
		return Info{}, &CommandError{Cmd: CmdGet, Phase: "answer", Err: err}
	}
	if err := c.ack(ctx, c.Timeout); err != nil {
		return Info{}, &CommandError{Cmd: CmdGet, Phase: "answer", Err: err}
	}
	return Info{Version: b[0], Commands: b[1:]}, nil
}

// GetID returns the product ID (0x495 for the STM32WB55).
func (c *Client) GetID(ctx context.Context) (uint16, error) {
	if err := c.command(ctx, CmdGetID); err != nil {
		return 0, err
	}
	var n [1]byte
	if err := c.readFull(ctx, n[:], c.Timeout); err != nil {
		return 0, &CommandError{Cmd: CmdGetID, Phase: "answer", Err: err}
	}
	b := make([]byte, int(n[0])+1)
	if err := c.readFull(ctx, b, c.Timeout); err != nil {
		return 0, &CommandError{Cmd: CmdGetID, Phase: "answer", Err: err}
	}
	if err := c.ack(ctx, c.Timeout); err != nil {
		return 0, &CommandError{Cmd: CmdGetID, Phase: "answer", Err: err}
	}
	if len(b) != 2 {
		return 0, &CommandError{Cmd: CmdGetID, Phase: "answer", Err: fmt.Errorf("%w: %d-byte ID", ErrGarbled, len(b))}
	}
	return uint16(b[0])<<8 | uint16(b[1]), nil
}

// ReadMemory reads n (1–256) bytes at addr.
func (c *Client) ReadMemory(ctx context.Context, addr uint32, n int) ([]byte, error) {
	if n < 1 || n > MaxBlock {
		return nil, ErrTooLarge
	}
	if err := c.command(ctx, CmdReadMemory); err != nil {
		return nil, err
	}
	if err := c.write(addrBytes(addr)); err != nil {
		return nil, err
	}
	if err := c.ack(ctx, c.Timeout); err != nil {
		return nil, &CommandError{Cmd: CmdReadMemory, Phase: "address", Err: err}
	}
	cnt := byte(n - 1)
	if err := c.write([]byte{cnt, ^cnt}); err != nil {
		return nil, err
	}
	if err := c.ack(ctx, c.Timeout); err != nil {
		return nil, &CommandError{Cmd: CmdReadMemory, Phase: "count", Err: err}
	}
	b := make([]byte, n)
	if err := c.readFull(ctx, b, c.Timeout); err != nil {
		return nil, &CommandError{Cmd: CmdReadMemory, Phase: "data", Err: err}
	}
	return b, nil
}

// WriteMemory writes data (1–256 bytes, a multiple of 4 at a 4-byte aligned address; shorter
// tails are padded with 0xFF) at addr, retrying a NACKed or timed-out block.
func (c *Client) WriteMemory(ctx context.Context, addr uint32, data []byte) error {
	if len(data) == 0 || len(data) > MaxBlock {
		return ErrTooLarge
	}
	if addr%4 != 0 {
		return ErrAlign
	}
	if r := len(data) % 4; r != 0 {
		data = append(append([]byte(nil), data...), []byte{0xFF, 0xFF, 0xFF}[:4-r]...)
	}
	var last error
	for try := 0; try <= c.Retries; try++ {
		last = c.writeOnce(ctx, addr, data)
		if last == nil || ctx.Err() != nil {
			return last
		}
		c.drain(ctx)
	}
	return last
}

func (c *Client) writeOnce(ctx context.Context, addr uint32, data []byte) error {
	if err := c.command(ctx, CmdWriteMemory); err != nil {
		return err
	}
	if err := c.write(addrBytes(addr)); err != nil {
		return err
	}
	if err := c.ack(ctx, c.Timeout); err != nil {
		return &CommandError{Cmd: CmdWriteMemory, Phase: "address", Err: err}
	}
	b := make([]byte, 0, len(data)+2)
	b = append(b, byte(len(data)-1))
	b = append(b, data...)
	b = append(b, xor(b))
	if err := c.write(b); err != nil {
		return err
	}
	if err := c.ack(ctx, c.Timeout); err != nil {
		return &CommandError{Cmd: CmdWriteMemory, Phase: "data", Err: err}
	}
	return nil
}

// ExtendedErase erases the given pages (two-byte numbers), or with pages == nil the whole flash.
func (c *Client) ExtendedErase(ctx context.Context, pages []uint16) error {
	if len(pages) > 0xFFF0 {
		return ErrTooLarge
	}
	if err := c.command(ctx, CmdExtendedErase); err != nil {
		return err
	}
	var b []byte
	if pages == nil {
		b = []byte{0xFF, 0xFF, 0x00}
	} else {
		n := len(pages) - 1
		b = []byte{byte(n >> 8), byte(n)}
		for _, p := range pages {
			b = append(b, byte(p>>8), byte(p))
		}
		b = append(b, xor(b))
	}
	if err := c.write(b); err != nil {
		return err
	}
	if err := c.ack(ctx, c.EraseTimeout); err != nil {
		return &CommandError{Cmd: CmdExtendedErase, Phase: "data", Err: err}
	}
	return nil
}

// Erase is the older erase with one-byte page numbers (up to 255 pages), or with pages == nil
// the global erase.
func (c *Client) Erase(ctx context.Context, pages []uint16) error {
	if len(pages) > 255 {
		return ErrTooLarge
	}
	for _, p := range pages {
		if p > 0xFF {
			return fmt.Errorf("%w: page %d needs Extended Erase", ErrTooLarge, p)
		}
	}
	if err := c.command(ctx, CmdErase); err != nil {
		return err
	}
	var b []byte
	if pages == nil {
		b = []byte{0xFF, 0x00}
	} else {
		b = []byte{byte(len(pages) - 1)}
		for _, p := range pages {
			b = append(b, byte(p))
		}
		b = append(b, xor(b))
	}
	if err := c.write(b); err != nil {
		return err
	}
	if err := c.ack(ctx, c.EraseTimeout); err != nil {
		return &CommandError{Cmd: CmdErase, Phase: "data", Err: err}
	}
	return nil
}

// Go starts the application at addr (the vector table: stack pointer, then reset handler).
func (c *Client) Go(ctx context.Context, addr uint32) error {
	if err := c.command(ctx, CmdGo); err != nil {
		return err
	}
	if err := c.write(addrBytes(addr)); err != nil {
		return err
	}
	if err := c.ack(ctx, c.Timeout); err != nil {
		return &CommandError{Cmd: CmdGo, Phase: "address", Err: err}
	}
	return nil
}
