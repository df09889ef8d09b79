package fwxfer_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bench/flash"
	"github.com/modbatt/hilrun/bench/flash/fwxfer"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/isotp"
	"github.com/modbatt/hilrun/protocol/suite"
)

const module = 0x05

// pair puts a sender at the pack's address and a receiver at a module's on one emulated bus.
func pair(t *testing.T) (pack, mod *isotp.Conn) {
	t.Helper()
	b, err := emu.New(emu.Config{Pacing: emu.AsFastAsPossible})
	if err != nil {
		t.Fatal(err)
	}
	node := func(addr uint8) *isotp.Node {
		n, err := isotp.NewNode(addr, isotp.ProfileV1())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	pack = isotp.NewConn(b.Join("pack"), clock.Real{}, node(canid.AddrPack))
	mod = isotp.NewConn(b.Join("module"), clock.Real{}, node(module))
	t.Cleanup(func() { pack.Close(); mod.Close(); b.Close() })
	return pack, mod
}

func serve(t *testing.T, r *fwxfer.Receiver) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func signed(t *testing.T, key *suite.PrivateKey, n int) flash.Image {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	img, err := flash.SignImage(key, flash.Image{Bytes: b, ID: image.FromBytes("firmware", "2.0.0", "c0ffee0", b)})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func authority(t *testing.T) *suite.PrivateKey {
	k, err := suite.NewPrivateKey(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestTransferOverEmulatedBus(t *testing.T) {
	auth := authority(t)
	pc, mc := pair(t)
	loader := flash.NewLoader("firmware", auth.Public())
	booted := make(chan struct{}, 1)
	r := &fwxfer.Receiver{Conn: mc, Addr: module, Sink: loader, Committed: func(ctx context.Context) {
		if _, err := loader.Boot(ctx); err == nil {
			booted <- struct{}{}
		}
	}}
	serve(t, r)
	img := signed(t, auth, 10_000)
	s := &fwxfer.Sender{Conn: pc, Src: canid.AddrPack, Dst: module, Timeout: time.Second}
	var mu sync.Mutex
	var prog [][2]int
	err := (flash.CAN{Sender: s}).Flash(context.Background(), img, func(d, n int) { mu.Lock(); prog = append(prog, [2]int{d, n}); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(loader.Image(), img.Bytes) {
		t.Fatal("module holds other bytes")
	}
	<-booted
	if id, ok := loader.Running(); !ok || id.Hash != img.ID.Hash {
		t.Fatalf("not booted: %v", id)
	}
	if len(prog) != 11 || prog[0] != [2]int{0, 10_000} || prog[10] != [2]int{10_000, 10_000} {
		t.Fatalf("progress %v", prog)
	}
	if st := r.Stats(); st.Chunks != 10 || st.Commits != 1 || st.Duplicates != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// lossy drops the n-th, 2n-th … message it would send or receive.
type lossy struct {
	fwxfer.Conn
	mu          sync.Mutex
	every, sent int
	recv        int
	dropRx      bool
}

func (l *lossy) Send(ctx context.Context, m isotp.Message) error {
	l.mu.Lock()
	l.sent++
	drop := !l.dropRx && l.sent%l.every == 0
	l.mu.Unlock()
	if drop {
		return nil
	}
	return l.Conn.Send(ctx, m)
}

func (l *lossy) Receive(ctx context.Context) (isotp.Message, error) {
	for {
		m, err := l.Conn.Receive(ctx)
		if err != nil {
			return m, err
		}
		l.mu.Lock()
		l.recv++
		drop := l.dropRx && l.recv%l.every == 0
		l.mu.Unlock()
		if !drop {
			return m, nil
		}
	}
}

func TestTransferSurvivesLoss(t *testing.T) {
	auth := authority(t)
	for _, dropRx := range []bool{false, true} {
		pc, mc := pair(t)
		loader := flash.NewLoader("firmware", auth.Public())
		// dropRx: acknowledgements lost on their way back; else messages lost on their way out
		r := &fwxfer.Receiver{Conn: mc, Addr: module, Sink: loader}
		serve(t, r)
		img := signed(t, auth, 5000)
		s := &fwxfer.Sender{Conn: &lossy{Conn: pc, every: 3, dropRx: dropRx}, Src: canid.AddrPack, Dst: module,
			Chunk: 512, Timeout: 100 * time.Millisecond}
		if err := s.Send(context.Background(), img.Bytes, img.Sig, nil); err != nil {
			t.Fatalf("dropRx %v: %v", dropRx, err)
		}
		if !bytes.Equal(loader.Image(), img.Bytes) {
			t.Fatalf("dropRx %v: bytes differ", dropRx)
		}
		if st := r.Stats(); dropRx && st.Duplicates == 0 {
			t.Errorf("lost acks but no duplicate chunks: %+v", st)
		}
	}
}

func TestTransferRefusals(t *testing.T) {
	auth := authority(t)
	ctx := context.Background()
	pc, mc := pair(t)
	loader := flash.NewLoader("firmware", auth.Public())
	r := &fwxfer.Receiver{Conn: mc, Addr: module, Sink: loader, MaxSize: 8000}
	serve(t, r)
	s := &fwxfer.Sender{Conn: pc, Src: canid.AddrPack, Dst: module, Timeout: time.Second}
	var re *fwxfer.RefusedError

	img := signed(t, auth, 9000)
	if err := s.Send(ctx, img.Bytes, img.Sig, nil); !errors.As(err, &re) || re.Phase != "offer" || re.Status != fwxfer.StatusTooLarge {
		t.Fatalf("too large: %v", err)
	}
	img = signed(t, auth, 3000)
	// The loader checks offers: an unsigned image is refused before any chunk goes over.
	if err := s.Send(ctx, img.Bytes, nil, nil); !errors.As(err, &re) || re.Phase != "offer" || re.Status != fwxfer.StatusRejected || !errors.Is(err, fwxfer.ErrRefused) {
		t.Fatalf("unsigned: %v", err)
	}
	if st := r.Stats(); st.Chunks != 0 {
		t.Fatalf("%d chunks of a refused offer went over", st.Chunks)
	}
	other, _ := suite.NewPrivateKey(bytes.Repeat([]byte{3}, 32))
	bad := signed(t, other, 3000)
	if err := s.Send(ctx, bad.Bytes, bad.Sig, nil); !errors.As(err, &re) || re.Status != fwxfer.StatusRejected {
		t.Fatalf("foreign signature: %v", err)
	}
	if _, ok := loader.Running(); ok {
		t.Fatal("booted a refused image")
	}
	if st := r.Stats(); st.Rejected != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// A sink that cannot check offers refuses a bad image at commit, after the bytes arrived.
func TestTransferRefusedAtCommit(t *testing.T) {
	auth, _ := suite.NewPrivateKey(bytes.Repeat([]byte{2}, 32))
	ctx := context.Background()
	pc, mc := pair(t)
	loader := flash.NewLoader("firmware", auth.Public())
	r := &fwxfer.Receiver{Conn: mc, Addr: module, Sink: struct{ fwxfer.Sink }{loader}, MaxSize: 8000}
	serve(t, r)
	s := &fwxfer.Sender{Conn: pc, Src: canid.AddrPack, Dst: module, Timeout: time.Second}
	var re *fwxfer.RefusedError
	img := signed(t, auth, 3000)
	if err := s.Send(ctx, img.Bytes, nil, nil); !errors.As(err, &re) || re.Phase != "commit" || re.Status != fwxfer.StatusRejected {
		t.Fatalf("unsigned: %v", err)
	}
	if _, ok := loader.Running(); ok {
		t.Fatal("booted a refused image")
	}
}

func TestTransferTimeout(t *testing.T) {
	pc, _ := pair(t)
	s := &fwxfer.Sender{Conn: pc, Src: canid.AddrPack, Dst: module, Timeout: 30 * time.Millisecond, Retries: 2}
	if err := s.Send(context.Background(), []byte{1, 2, 3}, nil, nil); !errors.Is(err, fwxfer.ErrTimeout) {
		t.Fatalf("no receiver: %v", err)
	}
}

func TestTransferOnSimulatedClock(t *testing.T) {
	// The sender's timeouts run on its clock: with a clock.Sim and a silent receiver, nothing
	// happens until the test advances time.
	sim := clock.NewSim(time.Unix(0, 0))
	pc, _ := pair(t)
	s := &fwxfer.Sender{Conn: pc, Src: canid.AddrPack, Dst: module, Timeout: time.Second, Retries: 1, Clock: sim}
	errc := make(chan error, 1)
	go func() { errc <- s.Send(context.Background(), []byte{1}, nil, nil) }()
	for i := 0; i < 2; i++ {
		for sim.Pending() == 0 {
			time.Sleep(time.Millisecond)
		}
		select {
		case err := <-errc:
			t.Fatalf("ended before time passed: %v", err)
		default:
		}
		sim.Advance(time.Second)
	}
	if err := <-errc; !errors.Is(err, fwxfer.ErrTimeout) {
		t.Fatal(err)
	}
}
