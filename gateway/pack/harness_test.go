package pack

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/legacy"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// nopEndpoint satisfies Config for tests that drive the core directly.
type nopEndpoint struct{}

func (nopEndpoint) Send(context.Context, bus.Frame) error { return nil }
func (nopEndpoint) Receive(ctx context.Context) (bus.Received, error) {
	<-ctx.Done()
	return bus.Received{}, ctx.Err()
}
func (nopEndpoint) Stats() bus.Stats { return bus.Stats{} }
func (nopEndpoint) Close() error     { return nil }

// sent is one frame the core sent, when, and decoded.
type sent struct {
	at   time.Time
	can1 bool
	d    legacy.Decoded
}

type input struct {
	at   time.Time
	can1 bool
	f    bus.Frame
}

// scripted is a module the test plays: it answers status and hardware requests 10 ms later
// while alive.
type scripted struct {
	uid   uint32
	id    uint8
	alive bool
	st1   legacy.Status1
	st2   legacy.Status2
	st3   legacy.Status3
	hw    legacy.Hardware
}

// harness drives the core on exact simulated times.
type harness struct {
	t      testing.TB
	cfg    Config
	c      *core
	now    time.Time
	queue  []input
	sent   []sent
	events []struct {
		at time.Time
		ev Event
	}
	mods []*scripted
}

func newHarness(t testing.TB, mod func(*Config)) *harness {
	t.Helper()
	cfg := Config{CAN1: nopEndpoint{}, CAN2: nopEndpoint{}, Clock: nil}
	if mod != nil {
		mod(&cfg)
	}
	cfg.Clock = fakeClock{}
	if err := cfg.fill(); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cfg: cfg, now: t0}
	h.c = newCore(&h.cfg, t0)
	return h
}

// fakeClock is never read by the core; Config only requires one.
type fakeClock struct{ nopClock }

func (h *harness) at(d time.Duration) time.Time { return t0.Add(d) }

// inject queues a frame for the core at t.
func (h *harness) inject(at time.Time, can1 bool, f bus.Frame) {
	h.queue = append(h.queue, input{at, can1, f})
	sort.SliceStable(h.queue, func(i, j int) bool { return h.queue[i].at.Before(h.queue[j].at) })
}

func (h *harness) module(at time.Time, m legacy.Message, id uint8) {
	h.t.Helper()
	f, err := legacy.EncodeModule(m, id, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	h.inject(at, false, f)
}

func (h *harness) app(at time.Time, m legacy.Message) {
	h.t.Helper()
	f, err := legacy.EncodeApp(m, h.cfg.PackID)
	if err != nil {
		h.t.Fatal(err)
	}
	h.inject(at, true, f)
}

// addModule makes a scripted module that announces at t.
func (h *harness) addModule(at time.Time, uid uint32) *scripted {
	s := &scripted{uid: uid, alive: true, id: legacy.ModuleUnregistered,
		st1: legacy.Status1{State: legacy.StateOff, SOC: 50, SOH: 98, CellCount: 10, Current: 1.5, Voltage: 36},
		st2: legacy.Status2{MinCellV: 3.6, MaxCellV: 3.605, AvgCellV: 3.602, TotalV: 36},
		st3: legacy.Status3{MinTemp: 20, MaxTemp: 25, AvgTemp: 22},
		hw:  legacy.Hardware{MaxChargeA: 20, MaxDischargeA: 40, MaxChargeEndV: 42, HWVersion: 3}}
	h.mods = append(h.mods, s)
	h.module(at, &legacy.Announcement{FirmwareBuild: 7, Manufacturer: 0x02, Part: 0x03, UniqueID: uid}, legacy.ModuleUnregistered)
	return s
}

// run advances to until, ticking the core and feeding queued frames in time order.
func (h *harness) run(until time.Time) {
	h.t.Helper()
	spins := 0
	for {
		next := h.c.next()
		if !next.After(h.now) {
			if spins++; spins > 1000 {
				h.t.Fatalf("the core does not advance: next %v at %v (limit %v, app heard %v)", next.Sub(t0), h.now.Sub(t0), h.c.limit, h.c.appHeard.Sub(t0))
			}
		} else {
			spins = 0
		}
		fromQueue := len(h.queue) > 0 && !h.queue[0].at.After(next)
		if fromQueue {
			next = h.queue[0].at
		}
		if next.After(until) {
			break
		}
		h.now = next
		var out output
		if fromQueue {
			in := h.queue[0]
			h.queue = h.queue[1:]
			if in.can1 {
				h.c.handleApp(in.f, h.now, &out)
			} else {
				h.c.handleModule(in.f, h.now, &out)
			}
		} else {
			h.c.tick(h.now, &out)
		}
		h.record(&out)
	}
	h.now = until
}

func (h *harness) record(out *output) {
	h.t.Helper()
	for _, ev := range out.events {
		h.events = append(h.events, struct {
			at time.Time
			ev Event
		}{h.now, ev})
	}
	for i, fs := range [][]bus.Frame{out.can1, out.can2} {
		for _, f := range fs {
			d, err := legacy.Decode(f)
			if err != nil {
				h.t.Fatalf("the pack sent an undecodable frame %s: %v", f.String(), err)
			}
			h.sent = append(h.sent, sent{h.now, i == 0, d})
			if i == 1 {
				h.react(d)
			}
		}
	}
}

// react plays the scripted modules.
func (h *harness) react(d legacy.Decoded) {
	later := h.now.Add(10 * time.Millisecond)
	for _, s := range h.mods {
		switch m := d.Msg.(type) {
		case *legacy.Registration:
			if m.UniqueID == s.uid {
				s.id = m.ModuleID
			}
		case *legacy.StatusRequest:
			if d.ModuleID == s.id && s.alive {
				for _, x := range []legacy.Message{&s.st1, &s.st2, &s.st3, &legacy.CellComm1{FirstI2CFault: 0xFF}} {
					h.module(later, x, s.id)
				}
			}
		case *legacy.HardwareRequest:
			if d.ModuleID == s.id && s.alive {
				h.module(later, &s.hw, s.id)
			}
		}
	}
}

// frames returns what the pack sent of message id (on its bus) between from and to.
func (h *harness) frames(id legacy.MsgID) []sent {
	var out []sent
	for _, s := range h.sent {
		if s.d.Msg.MsgID() == id {
			out = append(out, s)
		}
	}
	return out
}
