package an3155

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/modbatt/hilrun/bus/pty"
)

// onPTY serves tg on a fresh pty and opens its slave with go-serial at 8E1, as the bench opens
// a USB-UART cable. The pty accepts the parity setting and does not enforce it.
func onPTY(t *testing.T, tg *Target) serial.Port {
	t.Helper()
	pair, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = tg.ServePTY(ctx, pair) }()
	p, err := serial.Open(pair.Path(), &serial.Mode{BaudRate: 115200, DataBits: 8, Parity: serial.EvenParity, StopBits: serial.OneStopBit})
	if err != nil {
		cancel()
		pair.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		cancel()
		wg.Wait()
		pair.Close()
	})
	return p
}

func testClient(p Port) *Client {
	c := NewClient(p, nil)
	c.Timeout = 200 * time.Millisecond
	c.EraseTimeout = time.Second
	return c
}

func TestClientOverPTY(t *testing.T) {
	tg := NewTarget(TargetConfig{})
	c := testClient(onPTY(t, tg))
	ctx := context.Background()
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := c.Get(ctx)
	if err != nil || info.Version != 0x31 || !info.Supports(CmdExtendedErase) || info.Supports(CmdErase) {
		t.Fatalf("get %+v %v", info, err)
	}
	pid, err := c.GetID(ctx)
	if err != nil || pid != PIDSTM32WB55 {
		t.Fatalf("pid %#x %v", pid, err)
	}
	if err := c.ExtendedErase(ctx, []uint16{0, 1}); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 300)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	if err := c.WriteMemory(ctx, FlashBase, data[:256]); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMemory(ctx, FlashBase+256, data[256:]); err != nil {
		t.Fatal(err)
	}
	got, err := c.ReadMemory(ctx, FlashBase, 256)
	if err != nil || !bytes.Equal(got, data[:256]) {
		t.Fatalf("read back: %v", err)
	}
	if err := c.Go(ctx, FlashBase); err != nil {
		t.Fatal(err)
	}
	if s := tg.Stats(); !s.Jumped || s.JumpAddr != FlashBase || s.Writes != 2 || s.WrittenBytes != 300 {
		t.Fatalf("stats %+v", s)
	}
}

func TestClientNACKPaths(t *testing.T) {
	ctx := context.Background()
	tg := NewTarget(TargetConfig{})
	c := testClient(onPTY(t, tg))
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// A transient NACK is retried.
	tg.SetFaults(Faults{NACKWrites: 2})
	if err := c.WriteMemory(ctx, FlashBase, []byte{1, 2, 3, 4}); err != nil {
		t.Fatalf("transient NACK: %v", err)
	}
	// A persistent one is reported, typed, with the phase.
	tg.SetFaults(Faults{NACKWrites: 100})
	err := c.WriteMemory(ctx, FlashBase+4, []byte{1, 2, 3, 4})
	var ce *CommandError
	if !errors.Is(err, ErrNACK) || !errors.As(err, &ce) || ce.Cmd != CmdWriteMemory || ce.Phase != "data" {
		t.Fatalf("persistent NACK: %v", err)
	}
	tg.SetFaults(Faults{})
	// Reading outside flash is NACKed at the address.
	if _, err := c.ReadMemory(ctx, 0x20000000, 4); !errors.As(err, &ce) || ce.Phase != "address" || !errors.Is(err, ErrNACK) {
		t.Fatalf("read outside flash: %v", err)
	}
	// An erase the part does not offer is NACKed at the command.
	if err := c.Erase(ctx, []uint16{1}); !errors.As(err, &ce) || ce.Phase != "command" {
		t.Fatalf("erase on an extended-erase part: %v", err)
	}
}

// corruptingPort flips the checksum of the first Write Memory data block it sees.
type corruptingPort struct {
	serial.Port
	mu   sync.Mutex
	done bool
}

func (p *corruptingPort) Write(b []byte) (int, error) {
	p.mu.Lock()
	if !p.done && len(b) > 5 { // a data block: count, data, checksum
		p.done = true
		c := append([]byte(nil), b...)
		c[len(c)-1] ^= 0x5A
		p.mu.Unlock()
		return p.Port.Write(c)
	}
	p.mu.Unlock()
	return p.Port.Write(b)
}

func TestClientCorruptedChecksumIsRetried(t *testing.T) {
	tg := NewTarget(TargetConfig{})
	c := testClient(&corruptingPort{Port: onPTY(t, tg)})
	ctx := context.Background()
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte{0xA5}, 64)
	if err := c.WriteMemory(ctx, FlashBase, data); err != nil {
		t.Fatal(err)
	}
	if s := tg.Stats(); s.NACKs != 1 || s.Writes != 1 {
		t.Fatalf("want one NACK then one write, stats %+v", s)
	}
	if !bytes.Equal(tg.Memory(FlashBase, 64), data) {
		t.Fatal("memory")
	}
}

func TestClientTimeout(t *testing.T) {
	tg := NewTarget(TargetConfig{})
	tg.SetFaults(Faults{Mute: true})
	c := testClient(onPTY(t, tg))
	c.Timeout, c.Retries = 100*time.Millisecond, 1
	err := c.Sync(context.Background())
	var ce *CommandError
	if !errors.Is(err, ErrTimeout) || !errors.As(err, &ce) || ce.Phase != "sync" {
		t.Fatalf("mute target: %v", err)
	}
	// A context that ends cuts the wait short.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	c.Timeout = time.Hour
	if err := c.Sync(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled sync: %v", err)
	}
}

func TestClientResyncOnSyncedTarget(t *testing.T) {
	tg := NewTarget(TargetConfig{})
	c := testClient(onPTY(t, tg))
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := c.Sync(ctx); err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
	}
	if _, err := c.GetID(ctx); err != nil {
		t.Fatal(err)
	}
}
