package isotp

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/protocol/canid"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	modAddr  = 0x01
	packAddr = canid.AddrPack
)

type sent struct {
	at   time.Time
	from uint8
	f    bus.Frame
}

// wire connects nodes as a bus would, with time standing still until every node is idle and
// then jumping to the next deadline.
type wire struct {
	t     *testing.T
	now   time.Time
	nodes map[uint8]*Node
	queue []sent
	log   []sent
	msgs  map[uint8][]Message
	done  map[uint8][]Done
	errs  map[uint8][]error
	drop  func(s sent, n int) bool // fault injection on the n-th frame put on the wire
}

func newWire(t *testing.T, nodes ...*Node) *wire {
	w := &wire{t: t, now: t0, nodes: map[uint8]*Node{}, msgs: map[uint8][]Message{},
		done: map[uint8][]Done{}, errs: map[uint8][]error{}}
	for _, n := range nodes {
		w.nodes[n.Addr()] = n
	}
	return w
}

func (w *wire) out(from uint8, o Output) {
	for _, f := range o.Frames {
		s := sent{w.now, from, f}
		if w.drop != nil && w.drop(s, len(w.log)) {
			w.log = append(w.log, s)
			continue
		}
		w.log = append(w.log, s)
		w.queue = append(w.queue, s)
	}
	w.msgs[from] = append(w.msgs[from], o.Messages...)
	w.done[from] = append(w.done[from], o.Done...)
	w.errs[from] = append(w.errs[from], o.Errors...)
}

func (w *wire) send(from uint8, m Message) {
	o, err := w.nodes[from].Send(m, w.now)
	if err != nil {
		w.t.Fatalf("send: %v", err)
	}
	w.out(from, o)
}

// run delivers frames and runs timers until nothing is left to do.
func (w *wire) run() {
	for steps := 0; steps < 100000; steps++ {
		if len(w.queue) > 0 {
			s := w.queue[0]
			w.queue = w.queue[1:]
			for addr, n := range w.nodes {
				if addr == s.from {
					continue
				}
				o, err := n.HandleFrame(s.f, w.now)
				if err != nil && !errors.Is(err, ErrNotAddressed) {
					w.errs[addr] = append(w.errs[addr], err)
				}
				w.out(addr, o)
			}
			continue
		}
		var next time.Time
		any := false
		for _, n := range w.nodes {
			if d, ok := n.NextDeadline(); ok && (!any || d.Before(next)) {
				next, any = d, true
			}
		}
		if !any {
			return
		}
		if next.After(w.now) {
			w.now = next
		}
		for addr, n := range w.nodes {
			w.out(addr, n.Tick(w.now))
		}
	}
	w.t.Fatal("wire did not settle")
}

func mustNode(t testing.TB, addr uint8, c Config) *Node {
	n, err := NewNode(addr, c)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRoundTrip(t *testing.T) {
	formats := map[string]Config{
		"classic":         ProfileV1(),
		"classic-nopad":   func() Config { c := ProfileV1(); c.Pad = false; return c }(),
		"fd64":            ProfileV1FD(),
		"fd16-nopad":      func() Config { c := ProfileV1FD(); c.TxDL, c.Pad = 16, false; return c }(),
		"classic-bs3-1ms": func() Config { c := ProfileV1(); c.BlockSize, c.STmin = 3, time.Millisecond; return c }(),
		"fd-bs2-500us":    func() Config { c := ProfileV1FD(); c.BlockSize, c.STmin = 2, 500*time.Microsecond; return c }(),
		"big-escape":      func() Config { c := ProfileV1FD(); c.MaxMessage = 70000; return c }(),
	}
	sizes := []int{1, 7, 8, 16, 62, 63, 64, 210, 512, 1024, 4095}
	for name, cfg := range formats {
		ss := sizes
		if name == "big-escape" {
			ss = []int{4096, 5000, 65536}
		}
		for _, size := range ss {
			t.Run(fmt.Sprintf("%s/%d", name, size), func(t *testing.T) {
				mod, pack := mustNode(t, modAddr, cfg), mustNode(t, packAddr, cfg)
				w := newWire(t, mod, pack)
				data := seq(size)
				w.send(modAddr, Message{ID: cmdID, Data: data})
				w.run()
				if len(w.msgs[packAddr]) != 1 || !bytes.Equal(w.msgs[packAddr][0].Data, data) {
					t.Fatalf("received %d messages", len(w.msgs[packAddr]))
				}
				if got := w.msgs[packAddr][0]; got.ID != cmdID || got.FD != cfg.FD {
					t.Errorf("message header %v fd=%v", got.ID, got.FD)
				}
				if d := w.done[modAddr]; len(d) != 1 || d[0].Err != nil || d[0].ID != cmdID {
					t.Fatalf("done %+v", d)
				}
				if e := append(w.errs[modAddr], w.errs[packAddr]...); len(e) != 0 {
					t.Fatalf("errors %v", e)
				}
				var data_, fcs int
				sn := uint8(1)
				var lastCF time.Time
				for _, s := range w.log {
					if err := s.f.Validate(); err != nil {
						t.Fatal(err)
					}
					if cfg.Pad && s.f.Len < 8 {
						t.Errorf("unpadded frame %v", s.f)
					}
					switch PCIType(s.f.Data[0] >> 4) {
					case FlowControl:
						fcs++
						if s.f.ID != cmdID.Reply().Encode() || s.from != packAddr {
							t.Errorf("FC on %08X from %02X", s.f.ID, s.from)
						}
						lastCF = time.Time{}
					case Consecutive:
						if got := s.f.Data[0] & 0x0F; got != sn {
							t.Fatalf("CF SN %X, want %X", got, sn)
						}
						sn = (sn + 1) & 0x0F
						if !lastCF.IsZero() && s.at.Sub(lastCF) < cfg.STmin {
							t.Errorf("CFs %v apart, STmin %v", s.at.Sub(lastCF), cfg.STmin)
						}
						lastCF = s.at
						data_++
					default:
						data_++
					}
				}
				dl := 8
				if cfg.FD {
					dl = cfg.txDL()
				}
				if want := FramesDL(size, dl); data_ != want {
					t.Errorf("%d data frames, want %d", data_, want)
				}
				wantFC := 0
				if cfs := FramesDL(size, dl) - 1; cfs > 0 {
					wantFC = 1
					if cfg.BlockSize > 0 {
						wantFC = 1 + (cfs-1)/int(cfg.BlockSize)
					}
				}
				if fcs != wantFC {
					t.Errorf("%d flow controls, want %d", fcs, wantFC)
				}
				if rx, tx := pack.Sessions(); rx+tx != 0 {
					t.Errorf("sessions left: %d %d", rx, tx)
				}
				if st := pack.Stats(); st.RxMessages != 1 {
					t.Errorf("stats %+v", st)
				}
			})
		}
	}
}

func TestSequenceWrapAndTiming(t *testing.T) {
	// 210 bytes classic: FF + 30 CFs, SN runs 1..F, 0..F, 0..E. STmin 3 ms paces them.
	snd := ProfileV1()
	rcv := ProfileV1()
	rcv.STmin = 3 * time.Millisecond
	w := newWire(t, mustNode(t, modAddr, snd), mustNode(t, packAddr, rcv))
	w.send(modAddr, Message{ID: cmdID, Data: seq(210)})
	w.run()
	var sns []byte
	var times []time.Time
	for _, s := range w.log {
		if s.f.Data[0]>>4 == 2 {
			sns = append(sns, s.f.Data[0]&0xF)
			times = append(times, s.at)
		}
	}
	want := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	if !bytes.Equal(sns, want) {
		t.Fatalf("SNs %X", sns)
	}
	if got := times[len(times)-1].Sub(times[0]); got != 29*3*time.Millisecond {
		t.Errorf("30 CFs over %v, want 87ms", got)
	}
	if len(w.msgs[packAddr]) != 1 {
		t.Fatal("no message")
	}
}

// feed hands frames to a node one by one and collects everything.
type feed struct {
	t   *testing.T
	n   *Node
	now time.Time
	out Output
}

func (f *feed) frame(fd bool, id uint32, hexBytes string) error {
	fr := bus.Frame{ID: id, Extended: true, FD: fd}
	b := hx(hexBytes)
	fr.Len = uint8(len(b))
	copy(fr.Data[:], b)
	o, err := f.n.HandleFrame(fr, f.now)
	f.out.add(o)
	return err
}

func (f *feed) tick(d time.Duration) {
	f.now = f.now.Add(d)
	f.out.add(f.n.Tick(f.now))
}

func TestReceiverErrors(t *testing.T) {
	newFeed := func(c Config) *feed { return &feed{t: t, n: mustNode(t, packAddr, c), now: t0} }
	ff := "1014010203040506" // 20 bytes: FF 6 + CF 7 + CF 7
	t.Run("lost CF", func(t *testing.T) {
		f := newFeed(ProfileV1())
		f.frame(false, cmdRaw, ff)
		err := f.frame(false, cmdRaw, "2207080910111213")
		var se *SequenceError
		if !errors.As(err, &se) || se.Want != 1 || se.Got != 2 || se.Duplicate() || se.Skipped() != 1 {
			t.Fatalf("err %v", err)
		}
		if err := f.frame(false, cmdRaw, "2107080910111213"); !errors.Is(err, ErrUnexpectedCF) {
			t.Fatalf("after abort: %v", err)
		}
		if st := f.n.Stats(); st.SequenceErrors != 1 || st.Unexpected != 1 || st.RxAborted != 1 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("duplicate CF", func(t *testing.T) {
		f := newFeed(ProfileV1())
		f.frame(false, cmdRaw, ff)
		f.frame(false, cmdRaw, "2107080910111213")
		err := f.frame(false, cmdRaw, "2107080910111213")
		var se *SequenceError
		if !errors.As(err, &se) || !se.Duplicate() || !errors.Is(err, ErrWrongSequence) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("out of order", func(t *testing.T) {
		f := newFeed(ProfileV1())
		f.frame(false, cmdRaw, "1020010203040506")
		f.frame(false, cmdRaw, "2107080910111213")
		err := f.frame(false, cmdRaw, "2307080910111213")
		if !errors.Is(err, ErrWrongSequence) {
			t.Fatal(err)
		}
	})
	t.Run("unexpected CF", func(t *testing.T) {
		f := newFeed(ProfileV1())
		if err := f.frame(false, cmdRaw, "2107080910111213"); !errors.Is(err, ErrUnexpectedCF) {
			t.Fatal(err)
		}
	})
	t.Run("unexpected FC", func(t *testing.T) {
		f := newFeed(ProfileV1())
		if err := f.frame(false, cmdRaw, "300000"); !errors.Is(err, ErrUnexpectedFC) {
			t.Fatal(err)
		}
	})
	t.Run("SF replaces reception", func(t *testing.T) {
		f := newFeed(ProfileV1())
		f.frame(false, cmdRaw, ff)
		if err := f.frame(false, cmdRaw, "02AABB"); err != nil {
			t.Fatal(err)
		}
		if len(f.out.Messages) != 1 || !bytes.Equal(f.out.Messages[0].Data, hx("AABB")) {
			t.Fatalf("messages %+v", f.out.Messages)
		}
		if len(f.out.Errors) != 1 || !errors.Is(f.out.Errors[0], ErrReplaced) {
			t.Fatalf("errors %v", f.out.Errors)
		}
		if err := f.frame(false, cmdRaw, "2107080910111213"); !errors.Is(err, ErrUnexpectedCF) {
			t.Fatal(err)
		}
	})
	t.Run("FF replaces reception", func(t *testing.T) {
		f := newFeed(ProfileV1())
		f.frame(false, cmdRaw, ff)
		f.frame(false, cmdRaw, "2107080910111213")
		if err := f.frame(false, cmdRaw, "100A313233343536"); err != nil {
			t.Fatal(err)
		}
		if err := f.frame(false, cmdRaw, "2137383940"); err != nil {
			t.Fatal(err)
		}
		if len(f.out.Messages) != 1 || !bytes.Equal(f.out.Messages[0].Data, hx("31323334353637383940")) {
			t.Fatalf("messages %+v", f.out.Messages)
		}
		if len(f.out.Errors) != 1 || !errors.Is(f.out.Errors[0], ErrReplaced) || f.n.Stats().Replaced != 1 {
			t.Fatalf("errors %v", f.out.Errors)
		}
		if fcs := len(f.out.Frames); fcs != 2 {
			t.Fatalf("%d flow controls", fcs)
		}
	})
	t.Run("oversize FF answers OVFLW", func(t *testing.T) {
		c := ProfileV1()
		c.MaxMessage = 100
		f := newFeed(c)
		err := f.frame(false, cmdRaw, "1065010203040506")
		if !errors.Is(err, ErrTooLarge) {
			t.Fatal(err)
		}
		if len(f.out.Frames) != 1 || !bytes.Equal(f.out.Frames[0].Payload(), hx("320000CCCCCCCCCC")) ||
			f.out.Frames[0].ID != cmdID.Reply().Encode() {
			t.Fatalf("frames %v", f.out.Frames)
		}
		if rx, _ := f.n.Sessions(); rx != 0 || f.n.Stats().TooLarge != 1 {
			t.Fatal("session kept")
		}
		if err := f.frame(false, cmdRaw, "1064010203040506"); err != nil {
			t.Fatalf("100 bytes: %v", err)
		}
	})
	t.Run("escaped FF beyond 32-bit limit of config", func(t *testing.T) {
		f := newFeed(ProfileV1FD())
		if err := f.frame(true, cmdRaw, "10000000FFFF0102"); !errors.Is(err, ErrTooLarge) {
			t.Fatal(err)
		}
	})
	t.Run("FF that fits an SF", func(t *testing.T) {
		f := newFeed(ProfileV1())
		if err := f.frame(false, cmdRaw, "1005010203040506"); !errors.Is(err, ErrInvalidFrame) {
			t.Fatal(err)
		}
		if len(f.out.Frames) != 0 {
			t.Fatal("answered an invalid FF")
		}
	})
	t.Run("session cap", func(t *testing.T) {
		c := ProfileV1()
		c.MaxSessions = 2
		f := newFeed(c)
		for src := uint8(1); src <= 3; src++ {
			id := canid.New(canid.TypeCommand, false, 0, packAddr, src).Encode()
			err := f.frame(false, id, ff)
			if src <= 2 && err != nil {
				t.Fatal(err)
			}
			if src == 3 && !errors.Is(err, ErrTooManySessions) {
				t.Fatalf("third: %v", err)
			}
		}
		if last := f.out.Frames[2]; last.Data[0] != 0x32 {
			t.Fatalf("third answered %v", last)
		}
		if f.n.Stats().SessionLimit != 1 {
			t.Fatal("not counted")
		}
		// Another type from the same source is its own session, also over the cap.
		other := canid.New(canid.TypeTelemetry, false, 0, packAddr, 1).Encode()
		if err := f.frame(false, other, ff); !errors.Is(err, ErrTooManySessions) {
			t.Fatal(err)
		}
	})
	t.Run("N_Cr timeout", func(t *testing.T) {
		f := newFeed(ProfileV1())
		f.frame(false, cmdRaw, ff)
		f.tick(999 * time.Millisecond)
		f.frame(false, cmdRaw, "2107080910111213") // restarts N_Cr
		f.tick(999 * time.Millisecond)
		if len(f.out.Errors) != 0 {
			t.Fatal("early timeout")
		}
		f.tick(time.Millisecond)
		if len(f.out.Errors) != 1 || !errors.Is(f.out.Errors[0], ErrTimeoutCr) || f.n.Stats().Timeouts != 1 {
			t.Fatalf("errors %v", f.out.Errors)
		}
		if _, ok := f.n.NextDeadline(); ok {
			t.Fatal("deadline after abort")
		}
	})
	t.Run("short CF before the last is ignored", func(t *testing.T) {
		c := ProfileV1()
		c.Pad = false
		f := newFeed(c)
		f.frame(false, cmdRaw, ff)
		if err := f.frame(false, cmdRaw, "21070809"); !errors.Is(err, ErrInvalidFrame) {
			t.Fatal(err)
		}
		f.frame(false, cmdRaw, "2107080910111213")
		if err := f.frame(false, cmdRaw, "22141516171819"); !errors.Is(err, ErrInvalidFrame) {
			t.Fatalf("last CF one byte short: %v", err)
		}
		if err := f.frame(false, cmdRaw, "2214151617181920"); err != nil {
			t.Fatal(err)
		}
		if len(f.out.Messages) != 1 || len(f.out.Messages[0].Data) != 20 {
			t.Fatalf("messages %+v", f.out.Messages)
		}
	})
	t.Run("FD CF longer than the FF", func(t *testing.T) {
		f := newFeed(ProfileV1FD())
		f.frame(true, cmdRaw, "1014010203040506") // FD FF of 8 bytes: RX_DL 8
		if err := f.frame(true, cmdRaw, "2107080910111213141516171819"[:24]); !errors.Is(err, ErrInvalidFrame) {
			t.Fatal(err)
		}
	})
	t.Run("CF from another format", func(t *testing.T) {
		f := newFeed(ProfileV1FD())
		f.frame(false, cmdRaw, ff)
		if err := f.frame(true, cmdRaw, "2107080910111213"); !errors.Is(err, ErrUnexpectedCF) {
			t.Fatal(err)
		}
	})
	t.Run("not addressed", func(t *testing.T) {
		f := newFeed(ProfileV1())
		other := canid.New(canid.TypeCommand, false, 0, 0x02, 0x01).Encode()
		short := canid.New(canid.TypeTelemetryShort, false, 0, packAddr, 0x01).Encode()
		for _, id := range []uint32{other, short, 0x500<<18 | 1} {
			if err := f.frame(false, id, "0101"); !errors.Is(err, ErrNotAddressed) {
				t.Errorf("%08X: %v", id, err)
			}
		}
		std := bus.Frame{ID: 0x400, Len: 2}
		if _, err := f.n.HandleFrame(std, t0); !errors.Is(err, ErrNotAddressed) || f.n.Accepts(&std) {
			t.Errorf("standard frame: %v", err)
		}
	})
	t.Run("broadcast", func(t *testing.T) {
		f := newFeed(ProfileV1())
		bc := canid.New(canid.TypeAnnounce, false, 0, canid.AddrBroadcast, 0x01).Encode()
		if err := f.frame(false, bc, "03AABBCC"); err != nil || len(f.out.Messages) != 1 {
			t.Fatal(err)
		}
		if err := f.frame(false, bc, ff); !errors.Is(err, ErrFunctional) || len(f.out.Frames) != 0 {
			t.Fatal(err)
		}
	})
}

func TestSender(t *testing.T) {
	newSender := func(c Config) (*feed, Output) {
		f := &feed{t: t, n: mustNode(t, modAddr, c), now: t0}
		o, err := f.n.Send(Message{ID: cmdID, Data: seq(40)}, t0) // FF + 5 CFs
		if err != nil {
			t.Fatal(err)
		}
		f.out.add(o)
		return f, o
	}
	fc := cmdID.Reply().Encode()
	t.Run("N_Bs timeout", func(t *testing.T) {
		f, _ := newSender(ProfileV1())
		f.tick(999 * time.Millisecond)
		if len(f.out.Done) != 0 {
			t.Fatal("early")
		}
		f.tick(time.Millisecond)
		if len(f.out.Done) != 1 || !errors.Is(f.out.Done[0].Err, ErrTimeoutBs) {
			t.Fatalf("done %+v", f.out.Done)
		}
	})
	t.Run("N_Bs configurable", func(t *testing.T) {
		c := ProfileV1()
		c.NBs = 50 * time.Millisecond
		f, _ := newSender(c)
		f.tick(50 * time.Millisecond)
		if len(f.out.Done) != 1 || !errors.Is(f.out.Done[0].Err, ErrTimeoutBs) {
			t.Fatalf("done %+v", f.out.Done)
		}
	})
	t.Run("WAIT then CTS", func(t *testing.T) {
		f, _ := newSender(ProfileV1())
		for i := 0; i < DefaultWFTmax; i++ {
			f.tick(900 * time.Millisecond) // each WAIT restarts N_Bs
			if err := f.frame(false, fc, "310000"); err != nil {
				t.Fatal(err)
			}
		}
		f.tick(900 * time.Millisecond)
		f.frame(false, fc, "300000")
		if len(f.out.Done) != 1 || f.out.Done[0].Err != nil || len(f.out.Frames) != 6 {
			t.Fatalf("done %+v, %d frames", f.out.Done, len(f.out.Frames))
		}
		if f.n.Stats().WaitsReceived != DefaultWFTmax {
			t.Fatal("waits not counted")
		}
	})
	t.Run("too many WAITs", func(t *testing.T) {
		c := ProfileV1()
		c.WFTmax = 2
		f, _ := newSender(c)
		for i := 0; i < 3; i++ {
			f.frame(false, fc, "310000")
		}
		if len(f.out.Done) != 1 || !errors.Is(f.out.Done[0].Err, ErrWaitLimit) {
			t.Fatalf("done %+v", f.out.Done)
		}
	})
	t.Run("WFTmax 0 allows no WAIT", func(t *testing.T) {
		c := ProfileV1()
		c.WFTmax = 0
		f, _ := newSender(c)
		f.frame(false, fc, "310000")
		if len(f.out.Done) != 1 || !errors.Is(f.out.Done[0].Err, ErrWaitLimit) {
			t.Fatalf("done %+v", f.out.Done)
		}
	})
	t.Run("OVFLW", func(t *testing.T) {
		f, _ := newSender(ProfileV1())
		f.frame(false, fc, "320000")
		if len(f.out.Done) != 1 || !errors.Is(f.out.Done[0].Err, ErrOverflow) || f.n.Stats().TxAborted != 1 {
			t.Fatalf("done %+v", f.out.Done)
		}
	})
	t.Run("reserved flow status", func(t *testing.T) {
		f, _ := newSender(ProfileV1())
		f.frame(false, fc, "330000")
		if len(f.out.Done) != 1 || !errors.Is(f.out.Done[0].Err, ErrInvalidFlowStatus) {
			t.Fatalf("done %+v", f.out.Done)
		}
	})
	t.Run("BS 2 waits for the next FC", func(t *testing.T) {
		f, _ := newSender(ProfileV1())
		f.frame(false, fc, "300200")
		if len(f.out.Frames) != 3 {
			t.Fatalf("%d frames after first FC", len(f.out.Frames))
		}
		if err := f.frame(false, fc, "300200"); err != nil {
			t.Fatal(err)
		}
		f.tick(time.Second) // no FC for the third block
		if len(f.out.Done) != 1 || !errors.Is(f.out.Done[0].Err, ErrTimeoutBs) {
			t.Fatalf("done %+v", f.out.Done)
		}
	})
	t.Run("STmin paces CFs and FC while sending is unexpected", func(t *testing.T) {
		f, _ := newSender(ProfileV1())
		f.frame(false, fc, "300005") // 5 ms
		if len(f.out.Frames) != 2 {
			t.Fatalf("%d frames", len(f.out.Frames))
		}
		if err := f.frame(false, fc, "300000"); !errors.Is(err, ErrUnexpectedFC) {
			t.Fatal(err)
		}
		f.tick(4 * time.Millisecond)
		if len(f.out.Frames) != 2 {
			t.Fatal("CF before STmin")
		}
		d, _ := f.n.NextDeadline()
		if d.Sub(t0) != 5*time.Millisecond {
			t.Fatalf("deadline %v", d.Sub(t0))
		}
		for i := 0; i < 4; i++ {
			f.tick(time.Millisecond)
			f.tick(4 * time.Millisecond)
		}
		if len(f.out.Frames) != 6 || len(f.out.Done) != 1 || f.out.Done[0].Err != nil {
			t.Fatalf("%d frames, done %+v", len(f.out.Frames), f.out.Done)
		}
	})
	t.Run("send errors", func(t *testing.T) {
		f, _ := newSender(ProfileV1())
		if _, err := f.n.Send(Message{ID: cmdID, Data: seq(3)}, t0); !errors.Is(err, ErrBusy) {
			t.Errorf("busy: %v", err)
		}
		other := canid.New(canid.TypeCommand, false, 0, 0x02, modAddr)
		if _, err := f.n.Send(Message{ID: other}, t0); !errors.Is(err, ErrEmpty) {
			t.Errorf("empty: %v", err)
		}
		if _, err := f.n.Send(Message{ID: other, Data: seq(4096)}, t0); !errors.Is(err, ErrTooLarge) {
			t.Errorf("large: %v", err)
		}
		if _, err := f.n.Send(Message{ID: cmdID.Reply(), Data: seq(3)}, t0); !errors.Is(err, ErrAddress) {
			t.Errorf("address: %v", err)
		}
		bc := canid.New(canid.TypeAnnounce, false, 0, canid.AddrBroadcast, modAddr)
		if _, err := f.n.Send(Message{ID: bc, Data: seq(8)}, t0); !errors.Is(err, ErrFunctional) {
			t.Errorf("functional: %v", err)
		}
		short := canid.New(canid.TypeTelemetryShort, false, 0, packAddr, modAddr)
		if _, err := f.n.Send(Message{ID: short, Data: seq(3)}, t0); err == nil {
			t.Error("raw type sent as ISO-TP")
		}
	})
	t.Run("transmission session cap", func(t *testing.T) {
		c := ProfileV1()
		c.MaxSessions = 1
		f, _ := newSender(c)
		other := canid.New(canid.TypeCommand, false, 0, 0x02, modAddr)
		if _, err := f.n.Send(Message{ID: other, Data: seq(40)}, t0); !errors.Is(err, ErrTooManySessions) {
			t.Fatal(err)
		}
		if _, err := f.n.Send(Message{ID: other, Data: seq(4)}, t0); err != nil {
			t.Fatalf("single frame needs no session: %v", err)
		}
	})
	t.Run("abort on a failed send", func(t *testing.T) {
		f, o := newSender(ProfileV1())
		a := f.n.Abort(o.Frames[0], errors.New("bus-off"))
		if len(a.Done) != 1 || !errors.Is(a.Done[0].Err, ErrTimeoutAs) {
			t.Fatalf("abort %+v", a)
		}
		r := &feed{t: t, n: mustNode(t, packAddr, ProfileV1()), now: t0}
		r.frame(false, cmdRaw, "1014010203040506")
		a = r.n.Abort(r.out.Frames[0], errors.New("tx full"))
		if len(a.Errors) != 1 || !errors.Is(a.Errors[0], ErrTimeoutAr) {
			t.Fatalf("abort %+v", a)
		}
	})
}

func TestLossOnTheWire(t *testing.T) {
	// Drop the 3rd CF: the receiver sees a wrong SN and the sender still finishes (it cannot know).
	w := newWire(t, mustNode(t, modAddr, ProfileV1()), mustNode(t, packAddr, ProfileV1()))
	cf := 0
	w.drop = func(s sent, _ int) bool {
		if s.f.Data[0]>>4 == 2 {
			cf++
			return cf == 3
		}
		return false
	}
	w.send(modAddr, Message{ID: cmdID, Data: seq(100)})
	w.run()
	if len(w.msgs[packAddr]) != 0 {
		t.Fatal("message delivered despite a lost frame")
	}
	var se *SequenceError
	found := false
	for _, e := range w.errs[packAddr] {
		if errors.As(e, &se) {
			found = true
		}
	}
	if !found || se.Skipped() != 1 {
		t.Fatalf("errors %v", w.errs[packAddr])
	}
	// Drop the FC: the sender times out with N_Bs, the receiver with N_Cr.
	w = newWire(t, mustNode(t, modAddr, ProfileV1()), mustNode(t, packAddr, ProfileV1()))
	w.drop = func(s sent, _ int) bool { return s.f.Data[0]>>4 == 3 }
	w.send(modAddr, Message{ID: cmdID, Data: seq(100)})
	w.run()
	if d := w.done[modAddr]; len(d) != 1 || !errors.Is(d[0].Err, ErrTimeoutBs) {
		t.Fatalf("sender %+v", d)
	}
	if e := w.errs[packAddr]; len(e) != 1 || !errors.Is(e[0], ErrTimeoutCr) {
		t.Fatalf("receiver %v", e)
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []Config{
		{Format: Format{FD: true, TxDL: 10}},
		{Format: Format{FD: true, TxDL: 5}},
		{Format: Format{BRS: true}},
		{WFTmax: -1},
		{STmin: 200 * time.Millisecond},
	}
	for _, c := range bad {
		if _, err := NewNode(1, c); err == nil {
			t.Errorf("accepted %+v", c)
		}
	}
	n := mustNode(t, 1, Config{})
	if c := n.Config(); c.NBs != time.Second || c.NCr != time.Second || c.MaxMessage != 4095 || c.MaxSessions != 8 {
		t.Errorf("defaults %+v", c)
	}
}

func TestReceiverWaits(t *testing.T) {
	tests := []struct {
		name     string
		waits    int
		gap      time.Duration
		bs       uint8
		wftmax   int
		sendErr  error
		recvErr  error
		fcFrames int
	}{
		{name: "three WAITs then CTS", waits: 3, wftmax: 8, fcFrames: 4},
		{name: "WAITs before every block", waits: 2, bs: 4, wftmax: 8, fcFrames: 3 * 4},                                            // 14 CFs: 4 FCs
		{name: "more WAITs than the sender takes", waits: 3, wftmax: 2, sendErr: ErrWaitLimit, recvErr: ErrTimeoutCr, fcFrames: 4}, // the CTS still goes out
		{name: "WAITs slower than N_Bs", waits: 1, gap: 1500 * time.Millisecond, wftmax: 8, sendErr: ErrTimeoutBs, recvErr: ErrTimeoutCr, fcFrames: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc, rc := ProfileV1(), ProfileV1()
			sc.WFTmax = tc.wftmax
			rc.RxWaits, rc.RxWaitGap, rc.BlockSize = tc.waits, tc.gap, tc.bs
			w := newWire(t, mustNode(t, modAddr, sc), mustNode(t, packAddr, rc))
			w.send(modAddr, Message{ID: cmdID, Data: seq(100)}) // FF + 14 CFs
			w.run()
			d := w.done[modAddr]
			if len(d) != 1 || !errors.Is(d[0].Err, tc.sendErr) || (tc.sendErr == nil) != (d[0].Err == nil) {
				t.Fatalf("sender: %+v", d)
			}
			if tc.recvErr == nil {
				if len(w.msgs[packAddr]) != 1 || len(w.errs[packAddr]) != 0 {
					t.Fatalf("receiver: %v", w.errs[packAddr])
				}
			} else if e := w.errs[packAddr]; len(e) != 1 || !errors.Is(e[0], tc.recvErr) {
				t.Fatalf("receiver: %v", e)
			}
			fcs := 0
			for i, s := range w.log {
				if s.from != packAddr {
					continue
				}
				fcs++
				if i > 0 && s.f.Data[0] == 0x31 && tc.gap == 0 {
					if prev := w.log[i-1]; prev.from == packAddr && s.at.Sub(prev.at) != 500*time.Millisecond {
						t.Errorf("WAITs %v apart", s.at.Sub(prev.at))
					}
				}
			}
			if fcs != tc.fcFrames {
				t.Errorf("%d flow controls, want %d", fcs, tc.fcFrames)
			}
		})
	}
}
