// Package adapter emulates a USB-CAN adapter that speaks slcan, the way a CANable or Lawicel
// CANUSB does: it answers the host's commands on a byte stream (usually the master side of a
// pty, so real host software opens the slave as if it were /dev/ttyACM0) and bridges frames
// between that host and any bus.Endpoint, such as a client of the emulated bus.
//
// Behaviour follows the Lawicel rules: configuration (S, s, Y, y, Z, M, m) only while the
// channel is closed; O, L and C switch it; transmits and F only while open; every command gets
// exactly one reply, CR (or a payload line) on success and BEL on refusal. Transmits are
// acknowledged with z/Z unless Config.CRAcks asks for a bare CR. Acceptance code and mask are
// accepted and stored but do not filter. When the host selects a bitrate other than the bus's,
// the channel opens but, as on a real bus, hears nothing and cannot transmit: frames are not
// forwarded, transmits are refused and the bus-error flag is raised.
package adapter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/pty"
	"github.com/modbatt/hilrun/bus/slcan"
	"github.com/modbatt/hilrun/clock"
)

// Config describes the emulated adapter.
type Config struct {
	Version  string // V reply text (hardware and firmware version, 4 digits); "" means "1013"
	Firmware string // v reply text; "" means "hilrun-slcan"
	Serial   string // N reply text; "" means "HIL0"
	FD       bool   // accept the CAN FD commands (d D b B Y y), as a CANable 2 does
	CRAcks   bool   // acknowledge transmits with a bare CR instead of z/Z
	// WriteTimeout bounds how long a frame waits for a host that stopped reading; then it is
	// dropped and the overrun flag raised. 0 means 100 ms.
	WriteTimeout time.Duration
	Clock        clock.Clock  // timestamps; nil means clock.Real{}
	Logger       *slog.Logger // nil means slog.Default()
}

// Stats are the adapter's counters.
type Stats struct {
	Commands   uint64 // lines from the host
	Refused    uint64 // commands answered with BEL
	ToBus      uint64 // frames the host transmitted
	ToHost     uint64 // frames written to the host
	Dropped    uint64 // frames from the bus not written (channel closed, host absent, slow host)
	HostDetach uint64 // times the host closed the port
}

// Adapter is one emulated adapter attached to a bus endpoint.
type Adapter struct {
	ep  bus.Endpoint
	cfg Config
	log *slog.Logger

	mu         sync.Mutex
	open       bool
	listen     bool
	stamps     bool
	bitrate    int // bit/s the host asked for; 0 after a custom s command
	busBitrate int // the bus's, 0 when unknown
	status     slcan.Status
	attached   bool
	stats      Stats

	wmu sync.Mutex // one line at a time to the host
}

// New makes an adapter on ep. The channel starts closed at the bus's bitrate (500 kbit/s when
// the endpoint does not say).
func New(ep bus.Endpoint, cfg Config) *Adapter {
	if cfg.Version == "" {
		cfg.Version = "1013"
	}
	if cfg.Firmware == "" {
		cfg.Firmware = "hilrun-slcan"
	}
	if cfg.Serial == "" {
		cfg.Serial = "HIL0"
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 100 * time.Millisecond
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &Adapter{ep: ep, cfg: cfg, log: cfg.Logger, bitrate: 500_000}
	if d, ok := ep.(bus.Describer); ok {
		if br := d.Capabilities().Bitrate; br > 0 {
			a.busBitrate, a.bitrate = br, br
		}
	}
	return a
}

// Stats returns the adapter's counters.
func (a *Adapter) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

// ServePTY serves the host on the master side of pair until ctx ends (nil) or the bus endpoint
// fails (its error). A host closing the slave is not an end: the adapter waits for the next one,
// keeping its state as a powered adapter would.
func (a *Adapter) ServePTY(ctx context.Context, pair *pty.Pair) error {
	return a.serve(ctx, pair.Master, pty.IsHangup)
}

// Serve serves the host on rw until ctx ends, rw reaches EOF or is closed (nil), or rw or the bus
// endpoint fails (the error).
// Without read deadlines on rw, ending ctx takes effect only when the next read returns.
func (a *Adapter) Serve(ctx context.Context, rw io.ReadWriter) error {
	return a.serve(ctx, rw, func(error) bool { return false })
}

type deadliner interface {
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

func (a *Adapter) serve(ctx context.Context, rw io.ReadWriter, hangup func(error) bool) error {
	outer := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.fromBus(ctx, rw); err != nil {
			cancel(err) // no bus, no adapter: end the host side too
		}
	}()
	defer func() {
		cancel(nil) // ends fromBus's Receive, whatever ended the host side
		wg.Wait()
	}()

	// ended is Serve's result once ctx is done: nil when the caller ended it, the bus's error
	// when the bus did.
	ended := func() error {
		if outer.Err() == nil {
			return context.Cause(ctx)
		}
		return nil
	}
	dl, _ := rw.(deadliner)
	if dl != nil {
		// Wake the read below when ctx ends.
		stop := context.AfterFunc(ctx, func() { dl.SetReadDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	var sp slcan.Splitter
	buf := make([]byte, 1024)
	for {
		n, err := rw.Read(buf)
		if ctx.Err() != nil {
			return ended()
		}
		if n > 0 {
			a.setAttached(true)
			sp.Feed(buf[:n])
			for {
				tok, ok, perr := sp.Next()
				if !ok {
					break
				}
				a.write(rw, a.handle(ctx, tok, perr))
			}
		}
		switch {
		case err == nil:
		case hangup(err):
			if a.setAttached(false) {
				a.log.Debug("slcan adapter: host closed the port")
			}
			sp.Reset()
			// Linux reports the hangup until a host opens the slave again; poll for that.
			if clock.Sleep(ctx, a.cfg.Clock, 20*time.Millisecond) != nil {
				return ended()
			}
		case errors.Is(err, io.EOF), errors.Is(err, os.ErrClosed):
			return nil
		default:
			return fmt.Errorf("slcan adapter: read from host: %w", err)
		}
	}
}

// setAttached records whether a host has the port open and reports whether that changed.
func (a *Adapter) setAttached(v bool) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.attached == v {
		return false
	}
	a.attached = v
	if !v {
		a.stats.HostDetach++
	}
	return true
}

// write sends one line to the host, giving up after WriteTimeout so a host that stopped reading
// cannot stall the adapter. It reports whether the whole line went out.
func (a *Adapter) write(w io.Writer, line []byte) bool {
	if len(line) == 0 {
		return true
	}
	a.wmu.Lock()
	defer a.wmu.Unlock()
	if dl, ok := w.(deadliner); ok {
		// A descriptor deadline is wall-clock time whatever clock the adapter models.
		dl.SetWriteDeadline(time.Now().Add(a.cfg.WriteTimeout))
	}
	_, err := w.Write(line)
	return err == nil
}

var (
	replyOK  = []byte{slcan.CR}
	replyBEL = []byte{slcan.BEL}
)

// handle executes one host token and returns the reply.
func (a *Adapter) handle(ctx context.Context, tok slcan.Token, perr error) []byte {
	a.mu.Lock()
	a.stats.Commands++
	a.mu.Unlock()
	if perr != nil || tok.Bell {
		return a.refuse("unparsable line", perr)
	}
	c, err := slcan.ParseCommand(tok.Line)
	if err != nil {
		return a.refuse("bad command", err)
	}
	if c.Op == slcan.OpTransmit {
		return a.transmit(ctx, &c)
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	r := slcan.Reply{Kind: slcan.ReplyOK}
	ok := true
	switch c.Op {
	case slcan.OpEmpty:
	case slcan.OpBitrate:
		ok = !a.open
		if ok {
			a.bitrate = slcan.Bitrates[c.Arg]
		}
	case slcan.OpTiming:
		// Register values depend on the controller's clock; take them as matching the bus.
		ok = !a.open
		if ok {
			a.bitrate = 0
		}
	case slcan.OpDataBitrate, slcan.OpDataTiming:
		ok = a.cfg.FD && !a.open
	case slcan.OpTimestamps:
		ok = !a.open
		if ok {
			a.stamps = c.Arg == 1
		}
	case slcan.OpAcceptCode, slcan.OpAcceptMask:
		ok = !a.open
	case slcan.OpOpen, slcan.OpListen:
		ok = !a.open
		if ok {
			a.open, a.listen, a.status = true, c.Op == slcan.OpListen, 0
			if a.mismatch() {
				a.log.Warn("slcan adapter: host bitrate differs from the bus", "host", a.bitrate, "bus", a.busBitrate)
			}
		}
	case slcan.OpClose:
		ok = a.open
		a.open, a.listen = false, false
	case slcan.OpVersion:
		r = slcan.Reply{Kind: slcan.ReplyVersion, Text: a.cfg.Version}
	case slcan.OpFirmware:
		r = slcan.Reply{Kind: slcan.ReplyFirmware, Text: a.cfg.Firmware}
	case slcan.OpSerial:
		r = slcan.Reply{Kind: slcan.ReplySerial, Text: a.cfg.Serial}
	case slcan.OpStatus:
		ok = a.open
		r = slcan.Reply{Kind: slcan.ReplyStatus, Status: a.status}
		if ok {
			a.status = 0
		}
	default:
		ok = false
	}
	if !ok {
		a.stats.Refused++
		return replyBEL
	}
	out, err := slcan.AppendReply(nil, &r)
	if err != nil {
		a.stats.Refused++
		return replyBEL
	}
	return out
}

// mismatch reports whether the host's bitrate differs from the bus's; a.mu held.
func (a *Adapter) mismatch() bool {
	return a.bitrate != 0 && a.busBitrate != 0 && a.bitrate != a.busBitrate
}

func (a *Adapter) refuse(what string, err error) []byte {
	a.mu.Lock()
	a.stats.Refused++
	a.mu.Unlock()
	a.log.Debug("slcan adapter: refused", "what", what, "err", err)
	return replyBEL
}

func (a *Adapter) transmit(ctx context.Context, c *slcan.Command) []byte {
	a.mu.Lock()
	ok := a.open && !a.listen && (a.cfg.FD || !c.Frame.FD)
	if ok && a.mismatch() {
		a.status |= slcan.StatusBusError | slcan.StatusErrorPassive
		ok = false
	}
	a.mu.Unlock()
	if !ok {
		return a.refuse("transmit not possible now", nil)
	}
	if err := a.ep.Send(ctx, c.Frame); err != nil {
		a.mu.Lock()
		switch {
		case errors.Is(err, bus.ErrTxFull):
			a.status |= slcan.StatusTxFull
		case errors.Is(err, bus.ErrBusOff):
			a.status |= slcan.StatusBusError | slcan.StatusErrorPassive
		}
		a.mu.Unlock()
		return a.refuse("transmit", err)
	}
	a.mu.Lock()
	a.stats.ToBus++
	a.mu.Unlock()
	if a.cfg.CRAcks {
		return replyOK
	}
	r := slcan.Reply{Kind: slcan.ReplyTxAck, Frame: c.Frame}
	out, _ := slcan.AppendReply(nil, &r)
	return out
}

// fromBus forwards frames from the endpoint to the host while the channel is open. It returns
// nil when ctx ends and the endpoint's error when the endpoint fails.
func (a *Adapter) fromBus(ctx context.Context, w io.Writer) error {
	var line []byte
	for {
		rcv, err := a.ep.Receive(ctx)
		if err != nil {
			if errors.Is(err, bus.ErrBusOff) {
				a.mu.Lock()
				a.status |= slcan.StatusBusError | slcan.StatusErrorPassive
				a.mu.Unlock()
				continue
			}
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("slcan adapter: bus endpoint: %w", err)
		}
		a.mu.Lock()
		forward := a.open && a.attached && !a.mismatch() && (a.cfg.FD || !rcv.Frame.FD)
		stamps := a.stamps
		if !forward {
			a.stats.Dropped++
		}
		a.mu.Unlock()
		if !forward {
			continue
		}
		r := slcan.Reply{Kind: slcan.ReplyFrame, Frame: rcv.Frame, Stamped: stamps}
		if stamps {
			t := rcv.Time
			if t.IsZero() {
				t = a.cfg.Clock.Now()
			}
			r.Stamp = uint16(t.UnixMilli() % slcan.MaxTimestamp)
		}
		line, err = slcan.AppendReply(line[:0], &r)
		if err != nil {
			continue
		}
		sent := a.write(w, line)
		a.mu.Lock()
		if sent {
			a.stats.ToHost++
		} else {
			a.stats.Dropped++
			a.status |= slcan.StatusOverrun
		}
		a.mu.Unlock()
	}
}
