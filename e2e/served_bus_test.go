package e2e

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/capture"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/protocol/canid"
)

// servedBus is an emulated bus served on a Unix socket for device programs, with a candump
// capture of everything it carries and a record of the legacy registrations and status
// answers on it.
type servedBus struct {
	*emu.Bus
	iface   string
	addr    string // unix:PATH for --bus, --can1, --can2 and emu.Dial
	capPath string

	mu       sync.Mutex
	w        capture.Writer
	recorded uint64
	regs     map[uint32][]uint8 // unique ID → module IDs assigned by 0x510, in order
	status   map[uint8]uint64   // module ID → 0x502 status answers
}

// serveBus starts the bus and its server; Cleanup stops the server, closes the bus and the
// capture (register it before the programs, so they stop first).
func serveBus(t *testing.T, ctx context.Context, dir, iface string, cfg emu.Config) *servedBus {
	t.Helper()
	b, err := emu.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &servedBus{Bus: b, iface: iface, addr: "unix:" + filepath.Join(dir, iface+".sock"),
		capPath: filepath.Join(dir, iface+".log"), regs: map[uint32][]uint8{}, status: map[uint8]uint64{}}
	if s.w, err = capture.Create(s.capPath); err != nil {
		b.Close()
		t.Fatal(err)
	}
	unrecord := b.AddRecorder(s)
	a, err := emu.ParseAddress(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := emu.Listen(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- emu.NewServer(b, slog.New(slog.DiscardHandler)).Serve(sctx, ln, emu.Framed) }()
	t.Cleanup(func() {
		stop()
		<-served
		b.Close()
		unrecord()
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.w.Close(); err != nil {
			t.Errorf("%s capture: %v", iface, err)
		}
	})
	return s
}

// Record implements emu.Recorder: the capture, and the legacy frames the flow waits for.
func (s *servedBus) Record(r bus.Received) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recorded++
	if canid.Classify(r.Frame.ID, r.Frame.Extended) == canid.Legacy {
		if d, err := legacy.Decode(r.Frame); err == nil {
			switch m := d.Msg.(type) {
			case *legacy.Registration:
				s.regs[m.UniqueID] = append(s.regs[m.UniqueID], m.ModuleID)
			case *legacy.Status1:
				s.status[d.ModuleID]++
			}
		}
	}
	return s.w.Write(s.iface, r)
}

// registrations returns the module IDs the pack assigned to a unique ID so far.
func (s *servedBus) registrations(uid uint32) []uint8 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint8(nil), s.regs[uid]...)
}

// statusAnswers returns the 0x502 answers a module ID gave so far.
func (s *servedBus) statusAnswers(id uint8) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status[id]
}

// captureCheck reads the closed capture back and returns its size and record count.
func captureCheck(t *testing.T, path string) (size int64, records int) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		_, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s record %d: %v", path, records+1, err)
		}
		records++
	}
	return st.Size(), records
}
