package socketcan

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
)

// fakeBackend feeds scripted records to an Endpoint and records what it writes.
type fakeBackend struct {
	in     chan fakeRead
	mu     sync.Mutex
	out    []bus.Frame
	closed chan struct{}
	once   sync.Once
	wErr   error
}

type fakeRead struct {
	r   Record
	err error
}

func newFake() *fakeBackend {
	return &fakeBackend{in: make(chan fakeRead, 16), closed: make(chan struct{})}
}

func (b *fakeBackend) read() (Record, time.Time, error) {
	select {
	case r := <-b.in:
		return r.r, time.Unix(1700000000, 0), r.err
	case <-b.closed:
		return Record{}, time.Time{}, io.EOF
	}
}

func (b *fakeBackend) write(_ context.Context, f *bus.Frame) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wErr != nil {
		return b.wErr
	}
	b.out = append(b.out, *f)
	return nil
}

func (b *fakeBackend) close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

func fakeEndpoint(t *testing.T, fd bool) (*Endpoint, *fakeBackend) {
	b := newFake()
	e := newEndpoint("fake0", options{fd: fd, queue: 4, clk: clock.Real{}, log: nil}, b)
	t.Cleanup(func() { e.Close() })
	return e, b
}

func TestEndpointReceive(t *testing.T) {
	e, b := fakeEndpoint(t, false)
	f := bus.Frame{ID: 0x123, Len: 1, Data: [64]byte{7}}
	b.in <- fakeRead{r: Record{Frame: f}}
	got, err := e.Receive(t.Context())
	if err != nil || got.Frame != f || !got.Time.Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("Receive = %+v, %v", got, err)
	}
	if s := e.Stats(); s.RxFrames != 1 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestEndpointDropsMalformed(t *testing.T) {
	e, b := fakeEndpoint(t, false)
	b.in <- fakeRead{err: &RecordError{Len: 3, Reason: "test"}}
	b.in <- fakeRead{r: Record{Frame: bus.Frame{ID: 1}}}
	if got, err := e.Receive(t.Context()); err != nil || got.Frame.ID != 1 {
		t.Fatalf("Receive = %+v, %v", got, err)
	}
	if s := e.Stats(); s.RxDropped != 1 {
		t.Errorf("Stats.RxDropped = %d, want 1", s.RxDropped)
	}
}

func TestEndpointBusOff(t *testing.T) {
	e, b := fakeEndpoint(t, false)
	b.in <- fakeRead{r: Record{IsError: true, Error: ErrorFrame{Class: ErrClassBusOff}}}
	if _, err := e.Receive(t.Context()); !errors.Is(err, bus.ErrBusOff) {
		t.Fatalf("Receive = %v, want ErrBusOff", err)
	}
	if err := e.Send(t.Context(), bus.Frame{ID: 1}); !errors.Is(err, bus.ErrBusOff) {
		t.Errorf("Send while bus-off = %v", err)
	}
	b.in <- fakeRead{r: Record{IsError: true, Error: ErrorFrame{Class: ErrClassRestarted}}}
	b.in <- fakeRead{r: Record{Frame: bus.Frame{ID: 2}}}
	if got, err := e.Receive(t.Context()); err != nil || got.Frame.ID != 2 {
		t.Fatalf("Receive = %+v, %v", got, err)
	}
	if err := e.Send(t.Context(), bus.Frame{ID: 1}); err != nil {
		t.Errorf("Send after restart = %v", err)
	}
	if s := e.Stats(); s.BusOff != 1 || s.TxErrors != 1 || s.TxFrames != 1 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestEndpointSendChecks(t *testing.T) {
	e, b := fakeEndpoint(t, false)
	ctx := t.Context()
	if err := e.Send(ctx, bus.Frame{ID: 1, FD: true, Len: 12}); !errors.Is(err, bus.ErrNoFD) {
		t.Errorf("FD on classic = %v", err)
	}
	var fe *bus.FrameError
	if err := e.Send(ctx, bus.Frame{ID: 0x800}); !errors.As(err, &fe) {
		t.Errorf("bad ID = %v", err)
	}
	b.wErr = mapWriteError(errNoBufs)
	if err := e.Send(ctx, bus.Frame{ID: 1}); !errors.Is(err, bus.ErrTxFull) {
		t.Errorf("full queue = %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := e.Send(cctx, bus.Frame{ID: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled = %v", err)
	}
}

func TestEndpointReceiveContextAndClose(t *testing.T) {
	e, _ := fakeEndpoint(t, true)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := e.Receive(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Receive = %v, want deadline", err)
	}
	done := make(chan error)
	go func() {
		_, err := e.Receive(t.Context())
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, bus.ErrClosed) {
		t.Errorf("blocked Receive after Close = %v", err)
	}
	if err := e.Send(t.Context(), bus.Frame{ID: 1}); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Send after Close = %v", err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestEndpointFatalReadError(t *testing.T) {
	e, b := fakeEndpoint(t, false)
	b.in <- fakeRead{r: Record{Frame: bus.Frame{ID: 5}}}
	b.in <- fakeRead{err: errors.New("device gone")}
	if got, err := e.Receive(t.Context()); err != nil || got.Frame.ID != 5 {
		t.Fatalf("first Receive = %+v, %v", got, err)
	}
	for range 2 {
		if _, err := e.Receive(t.Context()); err == nil || errors.Is(err, bus.ErrClosed) {
			t.Fatalf("Receive after read failure = %v", err)
		}
	}
}

var errNoBufs error = unix.ENOBUFS

func TestEndpointCountsKernelDrops(t *testing.T) {
	e, b := fakeEndpoint(t, true)
	b.in <- fakeRead{r: Record{Frame: bus.Frame{ID: 1}, Lost: 3}}
	if _, err := e.Receive(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); s.RxDropped != 3 || s.RxFrames != 1 {
		t.Errorf("Stats = %+v, want 3 dropped, 1 received", s)
	}
}
