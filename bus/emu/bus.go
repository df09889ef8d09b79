package emu

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
)

// Pacing says whether the bus waits out each frame's wire time.
type Pacing int

const (
	// RealTime delivers each frame at its end-of-frame time on the bus's clock (the wall clock,
	// or simulated time with a clock.Sim).
	RealTime Pacing = iota
	// AsFastAsPossible delivers at once; timestamps still follow the bit-accurate schedule.
	AsFastAsPossible
)

func (p Pacing) String() string {
	if p == AsFastAsPossible {
		return "fast"
	}
	return "realtime"
}

// Defaults for the zero values of Config.
const (
	DefaultBitrate = 500_000
	DefaultRxQueue = 1024
	DefaultTxQueue = 64
	// recoveryBits is the bus-off recovery time of ISO 11898-1: 128 occurrences of 11
	// consecutive recessive bits.
	recoveryBits = 128 * 11
	// tecBusOff is the transmit error count at which a controller goes bus-off.
	tecBusOff = 256
)

// Config describes an emulated bus. The zero value is a classic 500 kbit/s bus in real time.
type Config struct {
	Timing   bus.Timing   // Nominal 0 means DefaultBitrate
	FD       bool         // accept CAN FD frames
	Pacing   Pacing       // RealTime or AsFastAsPossible
	Clock    clock.Clock  // nil means clock.Real{}
	Stuffing bus.Stuffing // bus.WorstCase (the zero value), bus.Exact or bus.Unstuffed
	RxQueue  int          // per-endpoint receive queue depth; 0 means DefaultRxQueue
	TxQueue  int          // per-endpoint transmit queue depth; 0 means DefaultTxQueue
	// BusOffRecovery is how long an endpoint stays bus-off; 0 means 128×11 nominal bit times.
	BusOffRecovery time.Duration
	// Spin is how much of each real-time wait is spent polling the wall clock instead of
	// sleeping, which trades CPU for spacing fidelity. It applies only with clock.Real.
	Spin   time.Duration
	Seed   uint64       // seeds fault probabilities
	Logger *slog.Logger // nil means slog.Default()
}

// Recorder receives every frame the bus carries, with its end-of-frame time, in bus order. It is
// called from the bus's scheduler, so a slow Recorder slows the bus.
type Recorder interface {
	Record(r bus.Received) error
}

// Load is the bus's traffic since it was made.
type Load struct {
	Elapsed time.Duration // bus time since New
	Busy    time.Duration // time frames (and error frames) occupied the bus
	Frames  uint64        // frames transmitted successfully (duplicates count twice)
	Bits    uint64        // bits of those frames under the stuffing model
	// PerID counts frames by identifier; extended identifiers carry bit 31 (CAN_EFF_FLAG).
	PerID      map[uint32]uint64
	Errors     uint64 // frames destroyed by an error frame
	Dropped    uint64 // frames lost by a drop fault
	Corrupted  uint64
	Delayed    uint64
	Duplicated uint64
	BusOffs    uint64
	RecordErrs uint64 // Recorder failures
}

// Utilisation is the share of elapsed time the bus was busy.
func (l Load) Utilisation() float64 {
	if l.Elapsed <= 0 {
		return 0
	}
	return float64(l.Busy) / float64(l.Elapsed)
}

// Bus is an emulated CAN bus. Its methods are safe for concurrent use.
type Bus struct {
	cfg     Config
	clk     clock.Clock
	log     *slog.Logger
	bitTime time.Duration
	spin    time.Duration

	mu        sync.Mutex
	stuffing  bus.Stuffing // cfg.Stuffing, or what SetStuffing set
	eps       []*Endpoint
	rules     []*ruleState
	nextRule  FaultID
	rng       *rand.Rand
	recorders []Recorder
	load      Load
	start     time.Time
	idle      time.Time // end of the last frame on the ideal schedule
	closed    bool

	wake chan struct{}
	quit chan struct{}
	done chan struct{}
	aux  sync.WaitGroup // delayed deliveries and recovery timers

	// Waits in progress and their deadlines, so a test driving a clock.Sim can tell when every
	// goroutine of the bus has caught up with the simulated time (settled).
	wmu       sync.Mutex
	waits     map[*byte]time.Time
	schedIdle bool      // the scheduler waits for work
	schedWait time.Time // the scheduler waits for this time
}

// ErrBadConfig is wrapped by New's errors.
var ErrBadConfig = errors.New("emu: bad bus configuration")

// New starts an emulated bus; Close stops it.
func New(cfg Config) (*Bus, error) {
	if cfg.Timing.Nominal == 0 {
		cfg.Timing.Nominal = DefaultBitrate
	}
	switch {
	case cfg.Timing.Nominal < 0 || cfg.Timing.Data < 0:
		return nil, fmt.Errorf("%w: negative bitrate", ErrBadConfig)
	case cfg.Timing.Data != 0 && !cfg.FD:
		return nil, fmt.Errorf("%w: a data bitrate needs FD", ErrBadConfig)
	case cfg.RxQueue < 0 || cfg.TxQueue < 0:
		return nil, fmt.Errorf("%w: negative queue depth", ErrBadConfig)
	case cfg.Stuffing < bus.WorstCase || cfg.Stuffing > bus.Exact:
		return nil, fmt.Errorf("%w: unknown stuffing model %d", ErrBadConfig, cfg.Stuffing)
	case cfg.Pacing != RealTime && cfg.Pacing != AsFastAsPossible:
		return nil, fmt.Errorf("%w: unknown pacing %d", ErrBadConfig, cfg.Pacing)
	}
	if cfg.RxQueue == 0 {
		cfg.RxQueue = DefaultRxQueue
	}
	if cfg.TxQueue == 0 {
		cfg.TxQueue = DefaultTxQueue
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	bitTime := time.Second / time.Duration(cfg.Timing.Nominal)
	if cfg.BusOffRecovery == 0 {
		cfg.BusOffRecovery = time.Duration(recoveryBits) * time.Second / time.Duration(cfg.Timing.Nominal)
	}
	b := &Bus{
		cfg:     cfg,
		clk:     cfg.Clock,
		log:     cfg.Logger,
		bitTime: bitTime,
		rng:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9E3779B97F4A7C15)),
		wake:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if _, ok := cfg.Clock.(clock.Real); ok {
		b.spin = cfg.Spin
	}
	b.stuffing = cfg.Stuffing
	b.start = b.clk.Now()
	b.idle = b.start
	b.load.PerID = map[uint32]uint64{}
	b.waits = map[*byte]time.Time{}
	go b.run()
	return b, nil
}

// Config returns the bus's configuration with defaults filled in.
func (b *Bus) Config() Config {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.cfg
	c.Stuffing = b.stuffing
	return c
}

// SetStuffing changes the bit-stuffing model of every frame transmitted from now on, for a bus
// whose maker did not choose it: a latency run sets bus.Exact, the stuffing a real wire has and
// its wire-time floors assume, where worst-case stuffing would lengthen each frame by up to a
// fifth.
func (b *Bus) SetStuffing(s bus.Stuffing) error {
	if s < bus.WorstCase || s > bus.Exact {
		return fmt.Errorf("%w: unknown stuffing model %d", ErrBadConfig, s)
	}
	b.mu.Lock()
	b.stuffing = s
	b.mu.Unlock()
	return nil
}

// Join attaches a new endpoint named name (names need not be unique; fault rules select
// senders by name). Joining a closed bus returns a closed endpoint.
func (b *Bus) Join(name string) *Endpoint {
	ep := &Endpoint{
		b:      b,
		name:   name,
		rx:     make(chan bus.Received, b.cfg.RxQueue),
		events: make(chan event, 8),
		room:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		ep.closed = true
		close(ep.done)
		return ep
	}
	b.eps = append(b.eps, ep)
	return ep
}

// AddRecorder makes r see every frame from now on; the returned function detaches it.
func (b *Bus) AddRecorder(r Recorder) (remove func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recorders = append(b.recorders, r)
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for i, x := range b.recorders {
			if x == r {
				b.recorders = append(b.recorders[:i:i], b.recorders[i+1:]...)
				return
			}
		}
	}
}

// Load returns a snapshot of the bus's traffic statistics.
func (b *Bus) Load() Load {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.load
	l.PerID = make(map[uint32]uint64, len(b.load.PerID))
	for k, v := range b.load.PerID {
		l.PerID[k] = v
	}
	l.Elapsed = b.nowLocked().Sub(b.start)
	return l
}

// Endpoints returns the number of attached endpoints.
func (b *Bus) Endpoints() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.eps)
}

// Close stops the bus and closes every endpoint.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		<-b.done
		return nil
	}
	b.closed = true
	eps := b.eps
	b.eps = nil
	for _, ep := range eps {
		ep.closeLocked()
	}
	close(b.quit)
	b.mu.Unlock()
	<-b.done
	b.aux.Wait()
	return nil
}

// nowLocked is the bus time: the wall (or simulated) clock, or the end of the schedule when
// fast pacing has run ahead of it.
func (b *Bus) nowLocked() time.Time {
	now := b.clk.Now()
	if b.idle.After(now) {
		return b.idle
	}
	return now
}

func (b *Bus) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// arbKey orders frames as the arbitration field does on the wire: base ID, then SRR/IDE
// (recessive for extended), then the extension, then RTR (recessive for remote).
func arbKey(f *bus.Frame) uint64 {
	var base, ext, ide, rtr uint64
	if f.Extended {
		base, ext, ide = uint64(f.ID>>18), uint64(f.ID&0x3FFFF), 1
	} else {
		base = uint64(f.ID)
	}
	if f.Remote {
		rtr = 1
	}
	return base<<21 | ide<<20 | ext<<2 | rtr
}

// pickLocked chooses the next frame: the earliest ready time decides when the bus starts, and
// every head ready within one bit of it contends.
func (b *Bus) pickLocked() (*Endpoint, time.Time, bool) {
	var first time.Time
	found := false
	for _, ep := range b.eps {
		if len(ep.txq) == 0 {
			continue
		}
		r := ep.txq[0].ready(b.idle)
		if !found || r.Before(first) {
			first, found = r, true
		}
	}
	if !found {
		return nil, time.Time{}, false
	}
	limit := first.Add(b.bitTime)
	var win *Endpoint
	var winKey uint64
	for _, ep := range b.eps {
		if len(ep.txq) == 0 || ep.txq[0].ready(b.idle).After(limit) {
			continue
		}
		k := arbKey(&ep.txq[0].f)
		if win == nil || k < winKey {
			win, winKey = ep, k
		}
	}
	return win, first, true
}

type delivery struct {
	from  *Endpoint
	f     bus.Frame
	at    time.Time     // end of frame on the bus
	delay time.Duration // extra latency before receivers see it
}

// run is the scheduler: one frame at a time, arbitration, faults, pacing, delivery.
func (b *Bus) run() {
	defer close(b.done)
	for {
		b.mu.Lock()
		_, start, ok := b.pickLocked()
		if !ok {
			b.mu.Unlock()
			b.wmu.Lock()
			b.schedIdle = true
			b.wmu.Unlock()
			select {
			case <-b.wake:
			case <-b.quit:
				return
			}
			b.wmu.Lock()
			b.schedIdle = false
			b.wmu.Unlock()
			continue
		}
		if b.cfg.Pacing == RealTime {
			// Frames whose start falls within the first bit still join arbitration.
			limit := start.Add(b.bitTime)
			if b.clk.Now().Before(limit) {
				b.mu.Unlock()
				if !b.waitUntil(limit) {
					return
				}
				b.mu.Lock()
			}
		}
		ep, start, ok := b.pickLocked()
		if !ok { // the sender was closed meanwhile
			b.mu.Unlock()
			continue
		}
		out := b.transmitLocked(ep, start)
		recs := b.recorders
		b.mu.Unlock()

		for _, d := range out {
			if b.cfg.Pacing == RealTime && !b.waitUntil(d.at) {
				return
			}
			b.deliver(d, recs)
		}
	}
}

// transmitLocked takes the winning frame off ep's queue, applies the fault rules and advances
// the schedule; it returns the deliveries to make, in time order.
func (b *Bus) transmitLocked(ep *Endpoint, start time.Time) []delivery {
	p := ep.txq[0]
	f := p.f
	dur := b.cfg.Timing.Duration(&f, b.stuffing)
	nom, dat := bus.FrameBits(&f, b.stuffing)
	end := start.Add(dur)

	act, rule := b.matchLocked(ep, &f)
	switch act {
	case Error, BusOff:
		// Destroyed after the CRC: the frame up to its delimiter, then an error flag, its
		// echo, the error delimiter and the intermission (6+6+8+3 bits).
		errEnd := end.Add(time.Duration(-trailerBits+1+23) * b.bitTime)
		b.load.Busy += errEnd.Sub(start)
		b.idle = errEnd
		b.load.Errors++
		if act == BusOff {
			b.busOffLocked(ep, rule.Recovery, errEnd)
			return nil
		}
		ep.tec += 8
		if ep.tec >= tecBusOff {
			b.busOffLocked(ep, 0, errEnd)
		}
		return nil // the frame stays at the head of the queue and contends again
	}

	ep.popLocked()
	if ep.tec > 0 {
		ep.tec--
	}
	b.idle = end
	b.load.Busy += dur
	count := func(f *bus.Frame) {
		b.load.Frames++
		b.load.Bits += uint64(nom + dat)
		b.load.PerID[idKey(f)]++
	}
	switch act {
	case Drop:
		b.load.Dropped++
		return nil
	case Corrupt:
		b.load.Corrupted++
		b.corruptLocked(&f, rule.Bits)
	case Duplicate:
		b.load.Duplicated++
		count(&f)
		end2 := end.Add(dur)
		b.idle = end2
		b.load.Busy += dur
		count(&f)
		return []delivery{{from: ep, f: f, at: end}, {from: ep, f: f, at: end2}}
	case Delay:
		b.load.Delayed++
		count(&f)
		return []delivery{{from: ep, f: f, at: end, delay: rule.Delay}}
	}
	count(&f)
	return []delivery{{from: ep, f: f, at: end}}
}

// trailerBits are the bits after the CRC: delimiter, ACK slot and delimiter, EOF, intermission.
const trailerBits = 13

func idKey(f *bus.Frame) uint32 {
	if f.Extended {
		return f.ID | 0x80000000
	}
	return f.ID
}

func (b *Bus) corruptLocked(f *bus.Frame, bits int) {
	n := int(f.Len) * 8
	if f.Remote || n == 0 {
		return
	}
	if bits <= 0 {
		bits = 1
	}
	if bits > n {
		bits = n
	}
	var flipped [512]bool
	for i := 0; i < bits; {
		pos := b.rng.IntN(n)
		if flipped[pos] {
			continue
		}
		flipped[pos] = true
		f.Data[pos/8] ^= 0x80 >> (pos % 8)
		i++
	}
}

// busOffLocked takes ep off the bus: its queue is flushed, Receive reports the event, and it
// recovers after the recovery time on the bus's clock.
func (b *Bus) busOffLocked(ep *Endpoint, recovery time.Duration, at time.Time) {
	if ep.busOff {
		return
	}
	if recovery <= 0 {
		recovery = b.cfg.BusOffRecovery
	}
	ep.busOff = true
	ep.tec = 0
	ep.stats.BusOff++
	b.load.BusOffs++
	ep.txq = nil
	ep.wakeSenders()
	ep.post(event{kind: evBusOff})
	if b.cfg.Pacing == RealTime {
		recovery += at.Sub(b.clk.Now()) // count from the end of the error frame
	}
	t := b.clk.NewTimer(recovery)
	tok := b.enterWait(b.clk.Now().Add(recovery))
	b.aux.Add(1)
	go func() {
		defer b.aux.Done()
		defer b.leaveWait(tok)
		select {
		case <-t.C():
		case <-b.quit:
			t.Stop()
			return
		}
		b.mu.Lock()
		ep.busOff = false
		ep.post(event{kind: evRestarted})
		b.mu.Unlock()
		b.log.Debug("emu: endpoint recovered from bus-off", "endpoint", ep.name)
	}()
}

// deliver hands a frame to every endpoint but its sender and to the recorders. The endpoints
// come first: they react to the frame on the clock, the recorders only write it down, so a
// capture's formatting and its occasional flush stay off the path of every answer.
func (b *Bus) deliver(d delivery, recs []Recorder) {
	r := bus.Received{Frame: d.f, Time: d.at}
	if d.delay <= 0 {
		b.fanOut(d.from, r)
	}
	b.record(r, recs)
	if d.delay > 0 {
		b.deliverLate(d, r)
	}
}

// record hands r to the recorders, counting their failures.
func (b *Bus) record(r bus.Received, recs []Recorder) {
	for _, rec := range recs {
		if err := rec.Record(r); err != nil {
			b.mu.Lock()
			b.load.RecordErrs++
			n := b.load.RecordErrs
			b.mu.Unlock()
			if n == 1 {
				b.log.Warn("emu: recorder failed", "err", err)
			}
		}
	}
}

// deliverLate hands a delayed frame to the endpoints after its delay (a delay fault): the
// recorders saw it at its end of frame, the receivers see it late.
func (b *Bus) deliverLate(d delivery, r bus.Received) {
	r.Time = d.at.Add(d.delay)
	t := b.clk.NewTimer(d.delay)
	tok := b.enterWait(b.clk.Now().Add(d.delay))
	b.aux.Add(1)
	go func() {
		defer b.aux.Done()
		defer b.leaveWait(tok)
		select {
		case <-t.C():
		case <-b.quit:
			t.Stop()
			return
		}
		b.fanOut(d.from, r)
	}()
}

func (b *Bus) fanOut(from *Endpoint, r bus.Received) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ep := range b.eps {
		if ep == from || ep.busOff {
			continue
		}
		select {
		case ep.rx <- r:
		default:
			ep.stats.RxDropped++
		}
	}
}

// waitUntil waits on the bus's clock until t; false means the bus closed.
func (b *Bus) waitUntil(t time.Time) bool {
	for {
		d := t.Sub(b.clk.Now())
		if d <= 0 {
			return true
		}
		if d <= b.spin {
			select {
			case <-b.quit:
				return false
			default:
			}
			runtime.Gosched()
			continue
		}
		tm := b.clk.NewTimer(d - b.spin)
		b.setSchedWait(t)
		select {
		case <-tm.C():
		case <-b.quit:
			tm.Stop()
			return false
		}
		b.setSchedWait(time.Time{})
	}
}

func (b *Bus) setSchedWait(t time.Time) {
	b.wmu.Lock()
	b.schedWait = t
	b.wmu.Unlock()
}

func (b *Bus) enterWait(until time.Time) *byte {
	tok := new(byte)
	b.wmu.Lock()
	b.waits[tok] = until
	b.wmu.Unlock()
	return tok
}

func (b *Bus) leaveWait(tok *byte) {
	b.wmu.Lock()
	delete(b.waits, tok)
	b.wmu.Unlock()
}

// settled reports that the scheduler is waiting (for work, or for a time still ahead) and no
// other waiter of the bus is due: stepping a clock.Sim now cannot overtake the bus.
func (b *Bus) settled() bool {
	now := b.clk.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	queued := false
	for _, ep := range b.eps {
		queued = queued || len(ep.txq) > 0
	}
	b.wmu.Lock()
	defer b.wmu.Unlock()
	switch {
	case b.schedIdle && (queued || len(b.wake) > 0):
		return false
	case !b.schedIdle && !b.schedWait.After(now):
		return false
	}
	for _, until := range b.waits {
		if !until.After(now) {
			return false
		}
	}
	return true
}
