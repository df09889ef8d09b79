package isotp

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/canid"
)

// pipeEnd is one side of an in-memory two-node bus.
type pipeEnd struct {
	in, out chan bus.Received
	closed  chan struct{}
	once    sync.Once
}

func pipe() (*pipeEnd, *pipeEnd) {
	a2b, b2a := make(chan bus.Received, 1024), make(chan bus.Received, 1024)
	return &pipeEnd{in: b2a, out: a2b, closed: make(chan struct{})}, &pipeEnd{in: a2b, out: b2a, closed: make(chan struct{})}
}

func (p *pipeEnd) Send(ctx context.Context, f bus.Frame) error {
	select {
	case <-p.closed:
		return bus.ErrClosed
	default:
	}
	select {
	case p.out <- bus.Received{Frame: f}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.closed:
		return bus.ErrClosed
	}
}

func (p *pipeEnd) Receive(ctx context.Context) (bus.Received, error) {
	select {
	case r := <-p.in:
		return r, nil
	case <-ctx.Done():
		return bus.Received{}, ctx.Err()
	case <-p.closed:
		return bus.Received{}, bus.ErrClosed
	}
}

func (p *pipeEnd) Stats() bus.Stats { return bus.Stats{} }
func (p *pipeEnd) Close() error     { p.once.Do(func() { close(p.closed) }); return nil }

func TestConnRoundTrip(t *testing.T) {
	for _, cfg := range []Config{ProfileV1(), ProfileV1FD()} {
		a, b := pipe()
		ca := NewConn(a, clock.Real{}, mustNode(t, modAddr, cfg))
		cb := NewConn(b, clock.Real{}, mustNode(t, packAddr, cfg))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for _, size := range []int{3, 210, 4095} {
			errc := make(chan error, 1)
			go func() { errc <- ca.Send(ctx, Message{ID: cmdID, Data: seq(size)}) }()
			m, err := cb.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.Data, seq(size)) || m.ID != cmdID {
				t.Fatalf("%d: got %d bytes", size, len(m.Data))
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
		// Both directions at once, same message type: flow controls and data share identifiers.
		back := Message{ID: cmdID.Reply(), Data: seq(300)}
		errc := make(chan error, 2)
		go func() { errc <- ca.Send(ctx, Message{ID: cmdID, Data: seq(300)}) }()
		go func() { errc <- cb.Send(ctx, back) }()
		if m, err := cb.Receive(ctx); err != nil || len(m.Data) != 300 {
			t.Fatal(err)
		}
		if m, err := ca.Receive(ctx); err != nil || m.ID != back.ID {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
		if s := cb.Stats(); s.RxMessages != 4 || s.TxMessages != 1 || s.RxErrors != 0 {
			t.Errorf("stats %+v", s)
		}
		cancel()
		ca.Close()
		cb.Close()
		if _, err := ca.Receive(context.Background()); !errors.Is(err, ErrConnClosed) {
			t.Errorf("after close: %v", err)
		}
	}
}

func TestConnTimeoutSimClock(t *testing.T) {
	sim := clock.NewSim(t0)
	a, b := pipe()
	ca := NewConn(a, sim, mustNode(t, modAddr, ProfileV1()))
	defer ca.Close()
	errc := make(chan error, 1)
	go func() { errc <- ca.Send(context.Background(), Message{ID: cmdID, Data: seq(100)}) }()
	// The FF goes out; nobody answers.
	r, err := b.Receive(context.Background())
	if err != nil || r.Frame.Data[0]>>4 != 1 {
		t.Fatalf("first frame %v %v", r.Frame, err)
	}
	waitFor(t, func() bool { return sim.Pending() > 0 })
	sim.Advance(999 * time.Millisecond)
	select {
	case err := <-errc:
		t.Fatalf("early: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	sim.Advance(time.Millisecond)
	select {
	case err := <-errc:
		if !errors.Is(err, ErrTimeoutBs) {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no timeout")
	}
}

func TestConnSendFailure(t *testing.T) {
	a, _ := pipe()
	ca := NewConn(a, clock.Real{}, mustNode(t, modAddr, ProfileV1()))
	a.Close() // sends now fail with bus.ErrClosed, and the reader stops
	err := ca.Send(context.Background(), Message{ID: cmdID, Data: seq(3)})
	if err == nil {
		t.Fatal("send on a closed endpoint succeeded")
	}
	ca.Close()
	// Either the frame failed (N_As, wrapping the transport's error) or the connection stopped
	// first because its reader saw the closed endpoint.
	if !errors.Is(err, ErrTimeoutAs) && !errors.Is(err, ErrConnClosed) {
		t.Errorf("err %v", err)
	}
	if !errors.Is(err, bus.ErrClosed) && !errors.Is(ca.Stats().LastFailure, bus.ErrClosed) {
		t.Errorf("the transport's error is lost: %v / %v", err, ca.Stats().LastFailure)
	}
}

func TestConnIgnoresOtherTraffic(t *testing.T) {
	a, b := pipe()
	cb := NewConn(b, clock.Real{}, mustNode(t, packAddr, ProfileV1()))
	defer cb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	other := canid.New(canid.TypeCommand, false, 0, 0x05, 0x01).Encode()
	a.Send(ctx, bus.Frame{ID: other, Extended: true, Len: 2, Data: [64]byte{0x01, 0xAA}})
	a.Send(ctx, bus.Frame{ID: 0x400, Len: 1})
	a.Send(ctx, bus.Frame{ID: cmdRaw, Extended: true, Len: 2, Data: [64]byte{0x01, 0xBB}})
	m, err := cb.Receive(ctx)
	if err != nil || !bytes.Equal(m.Data, []byte{0xBB}) {
		t.Fatalf("%v %v", m, err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// stamped wraps a pipe end so every sent frame carries the simulated time it was sent at.
type stamped struct {
	*pipeEnd
	clk *clock.Sim
	mu  sync.Mutex
	log []bus.Received
}

func (s *stamped) Send(ctx context.Context, f bus.Frame) error {
	s.mu.Lock()
	s.log = append(s.log, bus.Received{Frame: f, Time: s.clk.Now()})
	s.mu.Unlock()
	return s.pipeEnd.Send(ctx, f)
}

func TestConnSTminSimClock(t *testing.T) {
	sim := clock.NewSim(t0)
	a, b := pipe()
	sa := &stamped{pipeEnd: a, clk: sim}
	rcfg := ProfileV1()
	rcfg.STmin = 10 * time.Millisecond
	ca := NewConn(sa, sim, mustNode(t, modAddr, ProfileV1()))
	cb := NewConn(b, sim, mustNode(t, packAddr, rcfg))
	defer ca.Close()
	defer cb.Close()
	errc := make(chan error, 1)
	go func() { errc <- ca.Send(context.Background(), Message{ID: cmdID, Data: seq(50)}) }() // FF + 7 CFs
	got := make(chan Message, 1)
	go func() { m, _ := cb.Receive(context.Background()); got <- m }()
	var m Message
	for steps := 0; m.Data == nil; steps++ {
		if steps > 500 {
			t.Fatal("transfer did not finish")
		}
		time.Sleep(time.Millisecond) // let both loops settle before time moves
		select {
		case m = <-got:
			continue
		default:
		}
		sim.Advance(time.Millisecond)
	}
	if err := <-errc; err != nil || !bytes.Equal(m.Data, seq(50)) {
		t.Fatalf("%v, %d bytes", err, len(m.Data))
	}
	sa.mu.Lock()
	defer sa.mu.Unlock()
	var cfs []time.Time
	for _, r := range sa.log {
		if r.Frame.Data[0]>>4 == 2 {
			cfs = append(cfs, r.Time)
		}
	}
	if len(cfs) != 7 {
		t.Fatalf("%d CFs", len(cfs))
	}
	if total := cfs[6].Sub(cfs[0]); total < 59*time.Millisecond {
		t.Errorf("7 CFs over %v, STmin 10ms", total)
	}
	// The stamp is taken when the endpoint is called, which may be one simulated step (1 ms)
	// after the node released the frame, as time moves on while the loop runs.
	for i := 1; i < len(cfs); i++ {
		if d := cfs[i].Sub(cfs[i-1]); d < 9*time.Millisecond {
			t.Errorf("CF %d after %v, STmin 10ms", i, d)
		}
	}
}
