package emu

import (
	"context"
	"errors"
	"math/bits"
	"sync"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newBus(t *testing.T, cfg Config) *Bus {
	t.Helper()
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func simBus(t *testing.T, cfg Config) (*Bus, *clock.Sim) {
	t.Helper()
	sim := clock.NewSim(t0)
	cfg.Clock = sim
	return newBus(t, cfg), sim
}

// settle waits (in real time, briefly) until the bus has caught up with the simulated clock.
func settle(t *testing.T, b *Bus) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !b.settled() {
		if time.Now().After(deadline) {
			t.Fatal("bus did not settle")
		}
		time.Sleep(10 * time.Microsecond)
	}
}

// step settles the bus and moves simulated time to the next deadline; false when none.
func step(t *testing.T, b *Bus, sim *clock.Sim) bool {
	t.Helper()
	settle(t, b)
	_, ok := sim.AdvanceToNext()
	return ok
}

// stepUntil steps simulated time until cond holds on a settled bus.
func stepUntil(t *testing.T, b *Bus, sim *clock.Sim, cond func() bool) {
	t.Helper()
	for {
		settle(t, b)
		if cond() {
			return
		}
		if _, ok := sim.AdvanceToNext(); !ok {
			t.Fatal("nothing left to happen")
		}
	}
}

// collect steps simulated time until ep has received n frames.
func collect(t *testing.T, sim *clock.Sim, ep *Endpoint, n int) []bus.Received {
	t.Helper()
	var got []bus.Received
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < n {
		if r, ev, ok := ep.tryNext(); ok {
			if ev.kind == 0 {
				got = append(got, r)
			}
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d frames", len(got), n)
		}
		if sim == nil || !ep.b.settled() || !step(t, ep.b, sim) {
			time.Sleep(20 * time.Microsecond)
		}
	}
	return got
}

func send(t *testing.T, ep bus.Endpoint, f bus.Frame) {
	t.Helper()
	if err := ep.Send(context.Background(), f); err != nil {
		t.Fatalf("send %v: %v", f, err)
	}
}

func std(id uint32, data ...byte) bus.Frame {
	f := bus.Frame{ID: id, Len: uint8(len(data))}
	copy(f.Data[:], data)
	return f
}

func ext(id uint32, data ...byte) bus.Frame {
	f := std(id, data...)
	f.Extended = true
	return f
}

func TestArbitrationOrderAndTiming(t *testing.T) {
	b, sim := simBus(t, Config{})
	a, bb, c, d, e, f, rx := b.Join("a"), b.Join("b"), b.Join("c"), b.Join("d"), b.Join("e"), b.Join("f"), b.Join("rx")
	remote := std(0x050)
	remote.Remote = true
	// All queued at the same instant: they contend together.
	send(t, a, std(0x700, 1))
	send(t, bb, ext(0x123<<18|5, 2))
	send(t, c, std(0x123, 3))
	send(t, d, std(0x600, 4)) // d's 0x010 waits behind its own 0x600
	send(t, d, std(0x010, 5))
	send(t, e, remote)
	send(t, f, std(0x050, 6))

	want := []bus.Frame{
		std(0x050, 6),       // data beats remote with the same ID
		remote,              //
		std(0x123, 3),       // standard beats extended with the same base
		ext(0x123<<18|5, 2), //
		std(0x600, 4),       // head of d's queue
		std(0x010, 5),       //
		std(0x700, 1),       //
	}
	got := collect(t, sim, rx, len(want))
	at := t0
	for i, r := range got {
		if r.Frame != want[i] {
			t.Errorf("frame %d: got %v, want %v", i, r.Frame, want[i])
		}
		at = at.Add(bus.Timing{Nominal: 500_000}.Duration(&want[i], bus.WorstCase))
		if !r.Time.Equal(at) {
			t.Errorf("frame %d: end at %v, want %v", i, r.Time.Sub(t0), at.Sub(t0))
		}
	}
	if s := a.Stats(); s.TxFrames != 1 || s.RxFrames != 0 {
		t.Errorf("sender stats %+v", s)
	}
}

func TestLaterFrameWaitsForBus(t *testing.T) {
	b, sim := simBus(t, Config{})
	a, c, rx := b.Join("a"), b.Join("c"), b.Join("rx")
	send(t, a, ext(0x1FFFFFFF, 1, 2, 3, 4, 5, 6, 7, 8))
	settle(t, b)
	sim.Advance(100 * time.Microsecond) // the first frame is on the wire now
	send(t, c, std(0x001))              // higher priority, but too late to contend
	got := collect(t, sim, rx, 2)
	if got[0].Frame.ID != 0x1FFFFFFF || got[1].Frame.ID != 0x001 {
		t.Fatalf("order %v, %v", got[0].Frame, got[1].Frame)
	}
	d0 := bus.Timing{Nominal: 500_000}.Duration(&got[0].Frame, bus.WorstCase)
	d1 := bus.Timing{Nominal: 500_000}.Duration(&got[1].Frame, bus.WorstCase)
	if got[0].Time != t0.Add(d0) || got[1].Time != t0.Add(d0+d1) {
		t.Errorf("times %v %v", got[0].Time.Sub(t0), got[1].Time.Sub(t0))
	}
}

func TestDurationModels(t *testing.T) {
	fd := bus.Frame{ID: 0x1234567, Extended: true, FD: true, BRS: true, Len: 64}
	cases := []struct {
		name  string
		cfg   Config
		f     bus.Frame
		wantD time.Duration
	}{
		{"ext8 worst", Config{}, ext(0x1234567, 1, 2, 3, 4, 5, 6, 7, 8), 320 * time.Microsecond},
		{"ext8 unstuffed", Config{Stuffing: bus.Unstuffed}, ext(0x1234567, 1, 2, 3, 4, 5, 6, 7, 8), 262 * time.Microsecond},
		{"std8 worst", Config{}, std(0x123, 1, 2, 3, 4, 5, 6, 7, 8), 270 * time.Microsecond},
		{"fd64 worst", Config{FD: true, Timing: bus.Timing{Nominal: 500_000, Data: 2_000_000}}, fd, 453500 * time.Nanosecond},
		{"std0 250k unstuffed", Config{Timing: bus.Timing{Nominal: 250_000}, Stuffing: bus.Unstuffed}, std(0x1), 47 * 4 * time.Microsecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, sim := simBus(t, c.cfg)
			tx, rx := b.Join("tx"), b.Join("rx")
			send(t, tx, c.f)
			send(t, tx, c.f)
			got := collect(t, sim, rx, 2)
			if d := got[0].Time.Sub(t0); d != c.wantD {
				t.Errorf("first end %v, want %v", d, c.wantD)
			}
			if d := got[1].Time.Sub(got[0].Time); d != c.wantD {
				t.Errorf("spacing %v, want %v", d, c.wantD)
			}
		})
	}
}

func TestExactStuffingFollowsContent(t *testing.T) {
	b, sim := simBus(t, Config{Stuffing: bus.Exact})
	tx, rx := b.Join("tx"), b.Join("rx")
	zeros, mixed := ext(0, 0, 0, 0, 0, 0, 0, 0, 0), ext(0x15555555, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55)
	send(t, tx, zeros)
	send(t, tx, mixed)
	got := collect(t, sim, rx, 2)
	tm := bus.Timing{Nominal: 500_000}
	if d := got[0].Time.Sub(t0); d != tm.Duration(&zeros, bus.Exact) {
		t.Errorf("zeros: %v", d)
	}
	if d := got[1].Time.Sub(got[0].Time); d != tm.Duration(&mixed, bus.Exact) || d >= got[0].Time.Sub(t0) {
		t.Errorf("alternating bits should stuff less: %v vs %v", d, got[0].Time.Sub(t0))
	}
}

func TestSendRejects(t *testing.T) {
	b := newBus(t, Config{Pacing: AsFastAsPossible})
	ep := b.Join("x")
	fd := bus.Frame{ID: 1, FD: true, Len: 12}
	if err := ep.Send(context.Background(), fd); !errors.Is(err, bus.ErrNoFD) {
		t.Errorf("FD on classic bus: %v", err)
	}
	var fe *bus.FrameError
	if err := ep.Send(context.Background(), bus.Frame{ID: 0x800}); !errors.As(err, &fe) {
		t.Errorf("bad frame: %v", err)
	}
	if s := ep.Stats(); s.TxErrors != 2 {
		t.Errorf("TxErrors %d", s.TxErrors)
	}
	ep.Close()
	if err := ep.Send(context.Background(), std(1)); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("after close: %v", err)
	}
	if _, err := ep.Receive(context.Background()); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("receive after close: %v", err)
	}
	b.Close()
	if err := b.Join("late").Send(context.Background(), std(1)); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("join after close: %v", err)
	}
}

func TestReceiveQueueOverflowDropsAndCounts(t *testing.T) {
	b := newBus(t, Config{Pacing: AsFastAsPossible, RxQueue: 4})
	tx, slow := b.Join("tx"), b.Join("slow")
	for i := range 10 {
		send(t, tx, std(0x100, byte(i)))
	}
	for b.Load().Frames < 10 {
		time.Sleep(100 * time.Microsecond)
	}
	got := collect(t, nil, slow, 4)
	for i, r := range got {
		if r.Frame.Data[0] != byte(i) {
			t.Errorf("kept frame %d has %v", i, r.Frame)
		}
	}
	if s := slow.Stats(); s.RxDropped != 6 || s.RxFrames != 4 {
		t.Errorf("slow stats %+v", s)
	}
}

func TestTransmitQueueBlocksUntilRoom(t *testing.T) {
	b, sim := simBus(t, Config{TxQueue: 2})
	tx, rx := b.Join("tx"), b.Join("rx")
	send(t, tx, std(1))
	send(t, tx, std(2))
	step(t, b, sim) // arbitration done: std(1) leaves the queue for the wire
	send(t, tx, std(3))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := tx.Send(ctx, std(4)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("full queue: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- tx.Send(context.Background(), std(5)) }()
	got := collect(t, sim, rx, 4)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i, id := range []uint32{1, 2, 3, 5} {
		if got[i].Frame.ID != id {
			t.Errorf("frame %d: %v", i, got[i].Frame)
		}
	}
}

func TestLoadStatistics(t *testing.T) {
	b, sim := simBus(t, Config{})
	tx, rx := b.Join("tx"), b.Join("rx")
	for range 3 {
		send(t, tx, std(0x10, 1, 2, 3, 4, 5, 6, 7, 8))
	}
	send(t, tx, ext(0x10))
	got := collect(t, sim, rx, 4)
	sim.Advance(got[3].Time.Sub(t0)) // elapsed = twice the busy time
	l := b.Load()
	busy := got[3].Time.Sub(t0)
	if l.Frames != 4 || l.Busy != busy || l.Elapsed != 2*busy {
		t.Errorf("load %+v, busy %v", l, busy)
	}
	if u := l.Utilisation(); u != 0.5 {
		t.Errorf("utilisation %v", u)
	}
	if l.PerID[0x10] != 3 || l.PerID[0x80000010] != 1 {
		t.Errorf("per ID %v", l.PerID)
	}
	f8, f0 := std(0x10, 1, 2, 3, 4, 5, 6, 7, 8), ext(0x10)
	n8, _ := bus.FrameBits(&f8, bus.WorstCase)
	n0, _ := bus.FrameBits(&f0, bus.WorstCase)
	if l.Bits != uint64(3*n8+n0) {
		t.Errorf("bits %d", l.Bits)
	}
}

type memRecorder struct {
	mu  sync.Mutex
	got []bus.Received
}

func (m *memRecorder) Record(r bus.Received) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got = append(m.got, r)
	return nil
}

func TestRecorderSeesEveryFrameInBusOrder(t *testing.T) {
	b, sim := simBus(t, Config{})
	rec := &memRecorder{}
	remove := b.AddRecorder(rec)
	a, c, rx := b.Join("a"), b.Join("c"), b.Join("rx")
	send(t, a, std(0x300))
	send(t, c, std(0x200))
	got := collect(t, sim, rx, 2)
	remove()
	send(t, a, std(0x400))
	collect(t, sim, rx, 1)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.got) != 2 || rec.got[0] != got[0] || rec.got[1] != got[1] {
		t.Errorf("recorded %v, received %v", rec.got, got)
	}
}

func TestFaults(t *testing.T) {
	payload := []byte{0xDE, 0xAD, 0xBE, 0xEF, 0, 1, 2, 3}
	hit, miss := std(0x123, payload...), std(0x124, payload...)
	tm := bus.Timing{Nominal: 500_000}
	dur := tm.Duration(&hit, bus.WorstCase)
	bit := 2 * time.Microsecond
	cases := []struct {
		name  string
		fault Fault
		// what rx sees after hit then miss are sent
		check func(t *testing.T, got []bus.Received, l Load)
		n     int
	}{
		{"drop", Fault{Kind: Drop, Mask: 0x7FF, Value: 0x123}, func(t *testing.T, got []bus.Received, l Load) {
			if got[0].Frame != miss || got[0].Time != t0.Add(2*dur) || l.Dropped != 1 {
				t.Errorf("got %v at %v, load %+v", got[0].Frame, got[0].Time.Sub(t0), l)
			}
		}, 1},
		{"corrupt", Fault{Kind: Corrupt, Mask: 0x7FF, Value: 0x123, Bits: 3}, func(t *testing.T, got []bus.Received, l Load) {
			diff := 0
			for i := range 8 {
				diff += bits.OnesCount8(got[0].Frame.Data[i] ^ hit.Data[i])
			}
			if diff != 3 || got[0].Frame.ID != 0x123 || got[1].Frame != miss || l.Corrupted != 1 {
				t.Errorf("flipped %d bits: %v; load %+v", diff, got[0].Frame, l)
			}
		}, 2},
		{"error", Fault{Kind: Error, Mask: 0x7FF, Value: 0x123, Count: 1}, func(t *testing.T, got []bus.Received, l Load) {
			// destroyed frame (up to its CRC delimiter) + error frame, then a clean retransmission
			errTime := dur - (trailerBits-1)*bit + 23*bit
			if got[0].Frame != hit || got[0].Time != t0.Add(errTime+dur) || l.Errors != 1 {
				t.Errorf("got %v at %v, want %v; load %+v", got[0].Frame, got[0].Time.Sub(t0), errTime+dur, l)
			}
		}, 2},
		{"delay", Fault{Kind: Delay, Mask: 0x7FF, Value: 0x123, Delay: 5 * time.Millisecond}, func(t *testing.T, got []bus.Received, l Load) {
			if got[0].Frame != miss || got[1].Frame != hit || got[1].Time != t0.Add(dur+5*time.Millisecond) {
				t.Errorf("got %v then %v at %v", got[0].Frame, got[1].Frame, got[1].Time.Sub(t0))
			}
		}, 2},
		{"duplicate", Fault{Kind: Duplicate, Mask: 0x7FF, Value: 0x123}, func(t *testing.T, got []bus.Received, l Load) {
			if got[0].Frame != hit || got[1].Frame != hit || got[1].Time != t0.Add(2*dur) || got[2].Frame != miss || l.Frames != 3 {
				t.Errorf("got %v; load %+v", got, l)
			}
		}, 3},
		{"sender filter", Fault{Kind: Drop, From: "other"}, func(t *testing.T, got []bus.Received, l Load) {
			if got[0].Frame != hit || got[1].Frame != miss || l.Dropped != 0 {
				t.Errorf("got %v", got)
			}
		}, 2},
		{"format filter", Fault{Kind: Drop, Fmt: ExtendedOnly}, func(t *testing.T, got []bus.Received, l Load) {
			if got[0].Frame != hit || l.Dropped != 0 {
				t.Errorf("got %v", got)
			}
		}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, sim := simBus(t, Config{})
			if _, err := b.AddFault(c.fault); err != nil {
				t.Fatal(err)
			}
			tx, rx := b.Join("tx"), b.Join("rx")
			send(t, tx, hit)
			send(t, tx, miss)
			got := collect(t, sim, rx, c.n)
			c.check(t, got, b.Load())
		})
	}
}

func TestFaultProbabilityAndCount(t *testing.T) {
	run := func(seed uint64) (Load, int) {
		b := newBus(t, Config{Pacing: AsFastAsPossible, Seed: seed})
		id, err := b.AddFault(Fault{Kind: Drop, P: 0.25, Count: 40})
		if err != nil {
			t.Fatal(err)
		}
		tx, rx := b.Join("tx"), b.Join("rx")
		for i := range 400 {
			send(t, tx, std(0x100, byte(i)))
		}
		n := 400 - 40
		collect(t, nil, rx, n)
		fired, _ := b.Fired(id)
		return b.Load(), fired
	}
	l1, f1 := run(7)
	l2, _ := run(7)
	if f1 != 40 || l1.Dropped != 40 || l1.Dropped != l2.Dropped {
		t.Errorf("fired %d, dropped %d / %d", f1, l1.Dropped, l2.Dropped)
	}
}

func TestRemoveFaultAtRunTime(t *testing.T) {
	b, sim := simBus(t, Config{})
	id, _ := b.AddFault(Fault{Kind: Drop})
	tx, rx := b.Join("tx"), b.Join("rx")
	send(t, tx, std(1))
	stepUntil(t, b, sim, func() bool { return b.Load().Dropped == 1 })
	if !b.RemoveFault(id) || b.RemoveFault(id) {
		t.Fatal("remove")
	}
	send(t, tx, std(2))
	if got := collect(t, sim, rx, 1); got[0].Frame.ID != 2 {
		t.Errorf("got %v", got[0].Frame)
	}
	if _, err := b.AddFault(Fault{Kind: Delay}); !errors.Is(err, ErrBadFault) {
		t.Errorf("delay without duration: %v", err)
	}
}

func TestBusOffAndRecovery(t *testing.T) {
	b, sim := simBus(t, Config{})
	if _, err := b.AddFault(Fault{Kind: BusOff, From: "bad", Count: 1}); err != nil {
		t.Fatal(err)
	}
	bad, good, rx := b.Join("bad"), b.Join("good"), b.Join("rx")
	send(t, bad, std(0x100))
	send(t, bad, std(0x101)) // flushed with the queue at bus-off
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { _, err := bad.Receive(ctx); errc <- err }()
	stepUntil(t, b, sim, func() bool { return b.Load().BusOffs > 0 })
	if err := <-errc; !errors.Is(err, bus.ErrBusOff) {
		t.Fatalf("receive: %v", err)
	}
	// Recovery: 128×11 bits at 500 kbit/s after the error frame (110 µs frame up to its CRC
	// delimiter, then 23 bits of error frame and intermission).
	f := std(0x100)
	recoverAt := t0.Add(bus.Timing{Nominal: 500_000}.Duration(&f, bus.WorstCase) + (23-12)*2*time.Microsecond + 2816*time.Microsecond)
	if err := bad.Send(ctx, std(0x102)); !errors.Is(err, bus.ErrBusOff) {
		t.Fatalf("send while bus-off: %v", err)
	}
	send(t, good, std(0x200)) // the rest of the bus carries on
	if got := collect(t, sim, rx, 1); got[0].Frame.ID != 0x200 {
		t.Fatalf("got %v", got[0].Frame)
	}
	stepUntil(t, b, sim, func() bool { return bad.Send(ctx, std(0x103)) == nil })
	if now := sim.Now(); !now.Equal(recoverAt) {
		t.Errorf("recovered at %v, want %v", now.Sub(t0), recoverAt.Sub(t0))
	}
	if got := collect(t, sim, rx, 1); got[0].Frame.ID != 0x103 {
		t.Fatalf("after recovery got %v", got[0].Frame)
	}
	if s := bad.Stats(); s.BusOff != 1 || s.TxErrors < 1 {
		t.Errorf("stats %+v", s)
	}
	if l := b.Load(); l.BusOffs != 1 || l.PerID[0x100] != 0 || l.PerID[0x101] != 0 {
		t.Errorf("load %+v", l)
	}
}

func TestRepeatedErrorsDriveSenderBusOff(t *testing.T) {
	b := newBus(t, Config{Pacing: AsFastAsPossible})
	if _, err := b.AddFault(Fault{Kind: Error, Mask: 0x7FF, Value: 0x321}); err != nil {
		t.Fatal(err)
	}
	tx := b.Join("tx")
	send(t, tx, std(0x321))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := tx.Receive(ctx); !errors.Is(err, bus.ErrBusOff) {
		t.Fatalf("receive: %v", err)
	}
	if l := b.Load(); l.Errors != 32 || l.BusOffs != 1 || l.Frames != 0 {
		t.Errorf("load %+v (TEC +8 per error: 32 errors to reach 256)", l)
	}
}

func TestForceBusOff(t *testing.T) {
	b := newBus(t, Config{Pacing: AsFastAsPossible, BusOffRecovery: time.Hour})
	x := b.Join("x")
	if n := b.ForceBusOff("x", 0); n != 1 {
		t.Fatalf("hit %d", n)
	}
	if err := x.Send(context.Background(), std(1)); !errors.Is(err, bus.ErrBusOff) {
		t.Errorf("send: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Timing: bus.Timing{Nominal: -1}},
		{Timing: bus.Timing{Nominal: 500_000, Data: 2_000_000}}, // data rate without FD
		{RxQueue: -1},
		{Pacing: 7},
		{Stuffing: 9},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
}
