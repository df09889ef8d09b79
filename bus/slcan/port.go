package slcan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.bug.st/serial"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
)

// Config sets up an adapter. The zero value opens a classic 500 kbit/s channel.
type Config struct {
	Bitrate     int  // nominal bitrate in bit/s, one of Bitrates; 0 means 500 kbit/s
	DataBitrate int  // CAN FD data bitrate, one of DataBitrates; 0 means classic CAN only
	ListenOnly  bool // open with L: the adapter never transmits or acknowledges
	// Timestamps asks the adapter to stamp received frames (Z1). The stamps are checked but
	// Received.Time stays the host clock: a 60-second millisecond counter cannot be placed in
	// absolute time without a reference.
	Timestamps   bool
	Baud         int           // serial line speed; 0 means 115200 (USB CDC adapters ignore it)
	ReplyTimeout time.Duration // how long a command may wait for its reply; 0 means 1 s
	PollInterval time.Duration // serial read timeout, bounds how fast Close is noticed; 0 means 50 ms
	RxQueue      int           // received frames buffered before dropping; 0 means 1024
	Clock        clock.Clock   // stamps received frames; nil means clock.Real{}
	Logger       *slog.Logger  // nil means slog.Default()
}

func (c *Config) defaults() {
	if c.Bitrate == 0 {
		c.Bitrate = 500_000
	}
	if c.Baud == 0 {
		c.Baud = 115200
	}
	if c.ReplyTimeout == 0 {
		c.ReplyTimeout = time.Second
	}
	if c.PollInterval == 0 {
		c.PollInterval = 50 * time.Millisecond
	}
	if c.RxQueue == 0 {
		c.RxQueue = 1024
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Stream is the byte pipe to an adapter. A Read that times out returns 0 bytes and no error, as
// go.bug.st/serial does; any Read or Write error means the adapter is gone.
type Stream interface {
	io.ReadWriteCloser
}

// Port is an slcan adapter presented as a bus.Endpoint and bus.Describer.
type Port struct {
	s   Stream
	cfg Config
	log *slog.Logger

	wmu      sync.Mutex // orders writes with their place in pend
	pmu      sync.Mutex
	pend     []*pending // commands awaiting their reply, in send order
	rx       chan bus.Received
	open     atomic.Bool   // frames are delivered only once the channel is open
	closing  atomic.Bool   // Close was called
	stopping atomic.Bool   // the stream is being closed on purpose
	done     chan struct{} // closed when the reader stops
	errOnce  sync.Once
	err      error // why the reader stopped; read after done

	txFrames, rxFrames, txErrors, rxDropped, malformed atomic.Uint64
}

type pending struct {
	ch chan result
}

type result struct {
	r   Reply
	err error
}

var (
	_ bus.Endpoint  = (*Port)(nil)
	_ bus.Describer = (*Port)(nil)
)

// Open opens the serial port at path (a tty, a pty or a symlink to one), runs the adapter's
// init sequence (flush, close, bitrate, data bitrate, timestamps, open) and returns the
// endpoint. Modem-control lines are not touched, so a pty works.
func Open(ctx context.Context, path string, cfg Config) (*Port, error) {
	cfg.defaults()
	sp, err := serial.Open(path, &serial.Mode{BaudRate: cfg.Baud})
	if err != nil {
		return nil, fmt.Errorf("slcan: open %s: %w", path, err)
	}
	if err := sp.SetReadTimeout(cfg.PollInterval); err != nil {
		sp.Close()
		return nil, fmt.Errorf("slcan: %s: read timeout: %w", path, err)
	}
	// Bytes a previous session left in the tty are not ours.
	_ = sp.ResetInputBuffer()
	p, err := New(ctx, sp, cfg)
	if err != nil {
		return nil, fmt.Errorf("slcan: %s: %w", path, err)
	}
	return p, nil
}

// New runs the init sequence over an already open stream and returns the endpoint. It closes s
// when the init fails.
func New(ctx context.Context, s Stream, cfg Config) (*Port, error) {
	cfg.defaults()
	code, ok := BitrateCode(cfg.Bitrate)
	if !ok {
		s.Close()
		return nil, fmt.Errorf("slcan: no Sn code for %d bit/s", cfg.Bitrate)
	}
	dcode := -1
	if cfg.DataBitrate != 0 {
		if dcode, ok = DataBitrateCode(cfg.DataBitrate); !ok {
			s.Close()
			return nil, fmt.Errorf("slcan: no Yn code for %d bit/s", cfg.DataBitrate)
		}
	}
	p := &Port{s: s, cfg: cfg, log: cfg.Logger, rx: make(chan bus.Received, cfg.RxQueue), done: make(chan struct{})}
	go p.readLoop()

	fail := func(step string, err error) (*Port, error) {
		p.shutdown()
		return nil, fmt.Errorf("init %s: %w", step, err)
	}
	// A bare CR ends whatever half command the adapter holds; its answer (CR or BEL) and the
	// answer to C (BEL when the channel was already closed) do not matter.
	if _, err := p.command(ctx, &Command{Op: OpEmpty}); err != nil && !errors.Is(err, ErrDevice) {
		return fail("flush", err)
	}
	if _, err := p.command(ctx, &Command{Op: OpClose}); err != nil && !errors.Is(err, ErrDevice) {
		return fail("close", err)
	}
	steps := []Command{{Op: OpBitrate, Arg: uint32(code)}}
	if dcode >= 0 {
		steps = append(steps, Command{Op: OpDataBitrate, Arg: uint32(dcode)})
	}
	for _, c := range steps {
		if _, err := p.command(ctx, &c); err != nil {
			return fail(fmt.Sprintf("op %d", c.Op), err)
		}
	}
	ts := Command{Op: OpTimestamps}
	if cfg.Timestamps {
		ts.Arg = 1
	}
	// Adapters without timestamp support refuse Z; that only matters when stamps were asked for.
	if _, err := p.command(ctx, &ts); err != nil && (cfg.Timestamps || !errors.Is(err, ErrDevice)) {
		return fail("timestamps", err)
	}
	open := Command{Op: OpOpen}
	if cfg.ListenOnly {
		open.Op = OpListen
	}
	p.open.Store(true)
	if _, err := p.command(ctx, &open); err != nil {
		return fail("open", err)
	}
	return p, nil
}

// Version asks the adapter for its hardware/firmware version (V).
func (p *Port) Version(ctx context.Context) (string, error) {
	return p.query(ctx, OpVersion, ReplyVersion)
}

// Serial asks the adapter for its serial number (N).
func (p *Port) Serial(ctx context.Context) (string, error) {
	return p.query(ctx, OpSerial, ReplySerial)
}

// Status reads and clears the adapter's status flags (F).
func (p *Port) Status(ctx context.Context) (Status, error) {
	r, err := p.command(ctx, &Command{Op: OpStatus})
	if err != nil {
		return 0, err
	}
	if r.Kind != ReplyStatus {
		return 0, fmt.Errorf("%w: F answered with reply kind %d", ErrMalformed, r.Kind)
	}
	return r.Status, nil
}

func (p *Port) query(ctx context.Context, op Op, want ReplyKind) (string, error) {
	r, err := p.command(ctx, &Command{Op: op})
	if err != nil {
		return "", err
	}
	if r.Kind != want {
		return "", fmt.Errorf("%w: query answered with reply kind %d", ErrMalformed, r.Kind)
	}
	return r.Text, nil
}

// Capabilities reports what the channel was opened for.
func (p *Port) Capabilities() bus.Capabilities {
	return bus.Capabilities{FD: p.cfg.DataBitrate != 0, Remote: true, Bitrate: p.cfg.Bitrate}
}

// Send transmits f and waits for the adapter's acknowledgement.
func (p *Port) Send(ctx context.Context, f bus.Frame) error {
	if f.FD && p.cfg.DataBitrate == 0 {
		p.txErrors.Add(1)
		return bus.ErrNoFD
	}
	_, err := p.command(ctx, &Command{Op: OpTransmit, Frame: f})
	if err != nil {
		p.txErrors.Add(1)
		return err
	}
	p.txFrames.Add(1)
	return nil
}

// command writes c and waits for its reply. A BEL comes back as ErrDevice.
func (p *Port) command(ctx context.Context, c *Command) (Reply, error) {
	var buf [MaxLine + 1]byte
	line, err := AppendCommand(buf[:0], c)
	if err != nil {
		return Reply{}, err
	}
	if err := p.failed(); err != nil {
		return Reply{}, err
	}
	pd := &pending{ch: make(chan result, 1)}
	p.wmu.Lock()
	p.pmu.Lock()
	p.pend = append(p.pend, pd)
	p.pmu.Unlock()
	_, werr := p.s.Write(line)
	p.wmu.Unlock()
	if werr != nil {
		p.forget(pd)
		err := p.fail(werr)
		return Reply{}, err
	}
	t := p.cfg.Clock.NewTimer(p.cfg.ReplyTimeout)
	defer t.Stop()
	select {
	case res := <-pd.ch:
		return res.r, res.err
	case <-ctx.Done():
		p.forget(pd)
		return Reply{}, ctx.Err()
	case <-t.C():
		// The adapter lost the command; later replies belong to later commands.
		p.forget(pd)
		return Reply{}, fmt.Errorf("%w: %q", ErrNoReply, line[:len(line)-1])
	case <-p.done:
		return Reply{}, p.err
	}
}

func (p *Port) forget(pd *pending) {
	p.pmu.Lock()
	if i := slices.Index(p.pend, pd); i >= 0 {
		p.pend = slices.Delete(p.pend, i, i+1)
	}
	p.pmu.Unlock()
}

// answer hands a reply to the oldest command waiting for one.
func (p *Port) answer(res result) {
	p.pmu.Lock()
	if len(p.pend) == 0 {
		p.pmu.Unlock()
		p.log.Debug("slcan: reply nobody waits for", "kind", res.r.Kind, "err", res.err)
		return
	}
	pd := p.pend[0]
	p.pend = p.pend[1:]
	p.pmu.Unlock()
	pd.ch <- res
}

// Receive returns the next frame the adapter received.
func (p *Port) Receive(ctx context.Context) (bus.Received, error) {
	select {
	case r := <-p.rx:
		return r, nil
	default:
	}
	select {
	case r := <-p.rx:
		return r, nil
	case <-ctx.Done():
		return bus.Received{}, ctx.Err()
	case <-p.done:
		select {
		case r := <-p.rx:
			return r, nil
		default:
		}
		return bus.Received{}, p.err
	}
}

// Stats reports the port's counters; frames and lines that could not be parsed count as
// RxDropped.
func (p *Port) Stats() bus.Stats {
	return bus.Stats{
		TxFrames:  p.txFrames.Load(),
		RxFrames:  p.rxFrames.Load(),
		TxErrors:  p.txErrors.Load(),
		RxDropped: p.rxDropped.Load() + p.malformed.Load(),
	}
}

// Close closes the channel (C) and the port.
func (p *Port) Close() error {
	if p.closing.Swap(true) {
		<-p.done
		return nil
	}
	if p.failed() == nil {
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.ReplyTimeout)
		if _, err := p.command(ctx, &Command{Op: OpClose}); err != nil {
			p.log.Debug("slcan: close channel", "err", err)
		}
		cancel()
	}
	p.shutdown()
	return nil
}

func (p *Port) shutdown() {
	p.stopping.Store(true)
	err := p.s.Close()
	<-p.done
	if err != nil {
		p.log.Debug("slcan: close port", "err", err)
	}
}

func (p *Port) failed() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// fail records why the port stopped working and returns that error.
func (p *Port) fail(cause error) error {
	p.errOnce.Do(func() {
		if p.stopping.Load() {
			p.err = bus.ErrClosed
		} else {
			p.err = fmt.Errorf("%w: %v", bus.ErrUnplugged, cause)
		}
	})
	return p.err
}

func (p *Port) readLoop() {
	defer close(p.done)
	var sp Splitter
	buf := make([]byte, 4096)
	for {
		n, err := p.s.Read(buf)
		if n > 0 {
			sp.Feed(buf[:n])
			p.drain(&sp)
		}
		if err != nil {
			p.fail(err)
			if !p.stopping.Load() {
				p.log.Warn("slcan: adapter gone", "err", err)
			}
			return
		}
		// n == 0 with no error is the read timeout: check for Close.
		if n == 0 && p.stopping.Load() {
			p.fail(bus.ErrClosed)
			return
		}
	}
}

func (p *Port) drain(sp *Splitter) {
	for {
		tok, ok, err := sp.Next()
		if !ok {
			return
		}
		if err != nil {
			p.malformed.Add(1)
			p.log.Debug("slcan: dropped line", "err", err)
			continue
		}
		if tok.Bell {
			p.answer(result{r: Reply{Kind: ReplyError}, err: ErrDevice})
			continue
		}
		r, err := ParseReply(tok.Line)
		if err != nil {
			p.malformed.Add(1)
			p.log.Debug("slcan: dropped line", "err", err)
			continue
		}
		if r.Kind != ReplyFrame {
			p.answer(result{r: r})
			continue
		}
		if !p.open.Load() {
			continue // left over from before this session opened the channel
		}
		select {
		case p.rx <- bus.Received{Frame: r.Frame, Time: p.cfg.Clock.Now()}:
			p.rxFrames.Add(1)
		default:
			p.rxDropped.Add(1)
		}
	}
}
