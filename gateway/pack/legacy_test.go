package pack

import (
	"math"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/legacy"
)

const ms = time.Millisecond

func TestRegistrationOfFourModules(t *testing.T) {
	h := newHarness(t, nil)
	uids := []uint32{0x1111, 0x2222, 0x3333, 0x4444}
	for i, u := range uids {
		h.addModule(h.at(time.Duration(30+i*7)*ms), u)
	}
	h.run(h.at(90 * ms))
	regs := h.frames(legacy.IDRegistration)
	if len(regs) != 4 {
		t.Fatalf("%d registrations, want 4", len(regs))
	}
	for i, r := range regs {
		m := r.d.Msg.(*legacy.Registration)
		want := legacy.Registration{ModuleID: uint8(i + 1), ControllerID: 1, Manufacturer: 2, Part: 3, UniqueID: uids[i]}
		if *m != want || r.d.ModuleID != legacy.ModuleUnregistered {
			t.Errorf("registration %d = %+v to EID %#02x, want %+v to 0xFF", i, *m, r.d.ModuleID, want)
		}
	}
	if hw := h.frames(legacy.IDHardwareRequest); len(hw) != 4 {
		t.Errorf("%d hardware requests, want 4", len(hw))
	}
	// A module that restarts and announces again keeps its ID.
	h.module(h.at(95*ms), &legacy.Announcement{Manufacturer: 2, Part: 3, UniqueID: 0x3333}, legacy.ModuleUnregistered)
	h.run(h.at(99 * ms))
	regs = h.frames(legacy.IDRegistration)
	if got := regs[len(regs)-1].d.Msg.(*legacy.Registration).ModuleID; len(regs) != 5 || got != 3 {
		t.Errorf("re-announce got ID %d (%d registrations), want 3", got, len(regs))
	}
	if h.c.stats.Modules != 4 {
		t.Errorf("%d modules registered, want 4", h.c.stats.Modules)
	}
}

func TestRegistrationFull(t *testing.T) {
	h := newHarness(t, nil)
	for i := 0; i < 32; i++ {
		h.addModule(h.at(time.Duration(10+i)*ms), uint32(0x100+i))
	}
	h.run(h.at(60 * ms))
	if n := len(h.frames(legacy.IDRegistration)); n != 31 {
		t.Errorf("%d registrations, want 31", n)
	}
	if h.c.stats.Rejected[CauseFull] != 1 {
		t.Errorf("rejected %v, want one full", h.c.stats.Rejected)
	}
}

func TestPollOrderAndPeriod(t *testing.T) {
	h := newHarness(t, nil)
	for i := 0; i < 4; i++ {
		h.addModule(h.at(time.Duration(10+i)*ms), uint32(0xA0+i))
	}
	h.run(h.at(3 * time.Second))
	polls := h.frames(legacy.IDStatusRequest)
	if len(polls) != 30 { // slots at 100 ms … 3000 ms
		t.Fatalf("%d polls in 3 s, want 30", len(polls))
	}
	for i, p := range polls {
		wantAt := h.at(time.Duration(i+1) * 100 * ms)
		wantID := uint8(i%4 + 1)
		if !p.at.Equal(wantAt) || p.d.ModuleID != wantID || p.d.Msg.(*legacy.StatusRequest).ModuleID != wantID {
			t.Errorf("poll %d: module %d at %v, want module %d at %v", i, p.d.ModuleID, p.at.Sub(t0), wantID, wantAt.Sub(t0))
		}
	}
	if h.c.stats.Repolls != 0 || h.c.stats.Timeouts != 0 {
		t.Errorf("repolls %d timeouts %d with every module answering", h.c.stats.Repolls, h.c.stats.Timeouts)
	}
}

func TestRepollTimeoutDeregistration(t *testing.T) {
	h := newHarness(t, nil)
	h.addModule(h.at(10*ms), 0xA1)
	silent := h.addModule(h.at(11*ms), 0xA2)
	h.run(h.at(250 * ms)) // module 2 polled at 200 ms, answered at 210 ms
	silent.alive = false
	lastAnswer := h.at(210 * ms)
	h.run(h.at(20 * time.Second))

	var toSilent []time.Duration
	for _, p := range h.frames(legacy.IDStatusRequest) {
		if p.d.ModuleID == 2 && p.at.After(lastAnswer) {
			toSilent = append(toSilent, p.at.Sub(t0))
		}
	}
	// 400 ms: its next turn; 2300 ms: silent > 2 s (re-poll); 4300 ms: timeout 1, polled at
	// once; 6400 ms re-poll; 8300 ms timeout 2; …; 12300 ms timeout 3: deregistered.
	want := []time.Duration{400 * ms, 2300 * ms, 4300 * ms, 6400 * ms, 8300 * ms, 10400 * ms}
	if len(toSilent) != len(want) {
		t.Fatalf("polls of the silent module at %v, want %v", toSilent, want)
	}
	for i := range want {
		if toSilent[i] != want[i] {
			t.Errorf("polls of the silent module at %v, want %v", toSilent, want)
			break
		}
	}
	var timeouts []time.Duration
	var dereg []time.Duration
	for _, e := range h.events {
		switch ev := e.ev.(type) {
		case EventTimeout:
			if ev.ModuleID == 2 {
				timeouts = append(timeouts, e.at.Sub(t0))
			}
		case EventDeregistered:
			if ev.ModuleID == 2 && ev.Reason == ReasonTimeout {
				dereg = append(dereg, e.at.Sub(t0))
			}
		}
	}
	wantT := []time.Duration{4300 * ms, 8300 * ms, 12300 * ms}
	if len(timeouts) != 3 || timeouts[0] != wantT[0] || timeouts[1] != wantT[1] || timeouts[2] != wantT[2] {
		t.Errorf("timeouts at %v, want %v", timeouts, wantT)
	}
	if len(dereg) != 1 || dereg[0] != 12300*ms {
		t.Errorf("deregistered at %v, want [12.3s]", dereg)
	}
	d := h.frames(legacy.IDDeregister)
	if len(d) != 1 || *d[0].d.Msg.(*legacy.Deregister) != (legacy.Deregister{ModuleID: 2, Reason: ReasonTimeout}) || d[0].d.ModuleID != 2 {
		t.Errorf("deregistration frames %+v", d)
	}
	if h.c.stats.Modules != 1 || h.c.stats.Repolls != 3 {
		t.Errorf("modules %d repolls %d, want 1 and 3", h.c.stats.Modules, h.c.stats.Repolls)
	}
	// The answering module was polled in every slot the silent one did not take.
	if n := len(h.frames(legacy.IDStatusRequest)); n != 200 {
		t.Errorf("%d polls in 20 s, want one per slot (200)", n)
	}
}

func TestAnnounceRequestAndHeartbeat(t *testing.T) {
	h := newHarness(t, nil)
	h.run(h.at(25 * time.Second))
	ann := h.frames(legacy.IDAnnounceRequest)
	if len(ann) != 3 {
		t.Fatalf("%d announce requests in 25 s, want 3", len(ann))
	}
	for i, a := range ann {
		if !a.at.Equal(h.at(time.Duration(i)*10*time.Second)) || a.d.ModuleID != legacy.ModuleUnregistered {
			t.Errorf("announce request %d at %v to %#02x", i, a.at.Sub(t0), a.d.ModuleID)
		}
	}
	beats := h.frames(legacy.IDMaxState)
	if len(beats) != 126 { // 0, 200 ms … 25 s
		t.Fatalf("%d heartbeats in 25 s, want 126", len(beats))
	}
	for i, b := range beats {
		if !b.at.Equal(h.at(time.Duration(i)*200*ms)) || b.d.ModuleID != legacy.ModuleBroadcast {
			t.Fatalf("heartbeat %d at %v to %#02x", i, b.at.Sub(t0), b.d.ModuleID)
		}
		if s := b.d.Msg.(*legacy.MaxState).State; s != legacy.StateOff {
			t.Fatalf("heartbeat %d allows %v without an app", i, s)
		}
	}
}

// keepApp sends 0x400 with state s every 250 ms in [from, to).
func (h *harness) keepApp(from, to time.Duration, s legacy.State) {
	for d := from; d < to; d += 250 * ms {
		h.app(h.at(d), &legacy.AppCommand{Controls: legacy.Controls{Contactor: s, HVBusV: 48}})
	}
}

func TestAppLinkLoss(t *testing.T) {
	h := newHarness(t, nil)
	h.addModule(h.at(10*ms), 0xB1)
	h.addModule(h.at(11*ms), 0xB2)
	h.keepApp(50*ms, 2050*ms, legacy.StateOn) // last 0x400 at 1800 ms
	h.run(h.at(5 * time.Second))

	var states []string
	for _, e := range h.events {
		if ev, ok := e.ev.(EventPackState); ok {
			states = append(states, e.at.Sub(t0).String()+" "+ev.To.String()+" "+ev.Cause)
		}
	}
	want := []string{"50ms On app", "2.4s Standby link-loss", "3s Off link-loss"}
	if len(states) != len(want) {
		t.Fatalf("pack states %v, want %v", states, want)
	}
	for i := range want {
		if states[i] != want[i] {
			t.Fatalf("pack states %v, want %v", states, want)
		}
	}
	var changes []string
	for _, s := range h.frames(legacy.IDStateChange) {
		m := s.d.Msg.(*legacy.StateChange)
		changes = append(changes, s.at.Sub(t0).String()+" "+m.State.String())
		if m.ModuleID != s.d.ModuleID || math.Abs(m.HVBusV-48) > 0.05 {
			t.Errorf("state change %+v to EID %d", m, s.d.ModuleID)
		}
	}
	wantC := []string{"50ms On", "50ms On", "2.4s Standby", "2.4s Standby", "3s Off", "3s Off"}
	if len(changes) != len(wantC) {
		t.Fatalf("0x514 frames %v, want %v", changes, wantC)
	}
	for i := range wantC {
		if changes[i] != wantC[i] {
			t.Fatalf("0x514 frames %v, want %v", changes, wantC)
		}
	}
	for _, b := range h.frames(legacy.IDMaxState) {
		want := legacy.StateOff
		switch at := b.at.Sub(t0); {
		case at > 50*ms && at < 2400*ms:
			want = legacy.StateOn
		case at >= 2400*ms && at < 3000*ms:
			want = legacy.StateStandby
		}
		if got := b.d.Msg.(*legacy.MaxState).State; got != want {
			t.Errorf("heartbeat at %v allows %v, want %v", b.at.Sub(t0), got, want)
		}
	}
	if h.c.stats.LinkLosses != 2 {
		t.Errorf("link losses %d, want 2", h.c.stats.LinkLosses)
	}
	// Keep-alives alone do not raise the pack again after Off.
	h.app(h.at(5100*ms), &legacy.KeepAlive{})
	h.run(h.at(5200 * ms))
	if h.c.target != legacy.StateOff {
		t.Errorf("state %v after a keep-alive, want Off", h.c.target)
	}
	h.app(h.at(5300*ms), &legacy.AppCommand{Controls: legacy.Controls{Contactor: legacy.StatePrecharge}})
	h.run(h.at(5400 * ms))
	if h.c.target != legacy.StatePrecharge {
		t.Errorf("state %v after 0x400 Precharge", h.c.target)
	}
}

func TestAppBlockValues(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ModuleFramesPerBlock = -1 })
	a := h.addModule(h.at(10*ms), 0xC1)
	b := h.addModule(h.at(11*ms), 0xC2)
	a.st1 = legacy.Status1{State: legacy.StateOn, Status: flagBalancing, SOC: 60, SOH: 96, CellCount: 10, Current: 10, Voltage: 36}
	a.st2 = legacy.Status2{MinCellV: 3.5, MaxCellV: 3.7, AvgCellV: 3.6, TotalV: 36}
	a.st3 = legacy.Status3{MinTemp: 20, MaxTemp: 30, AvgTemp: 25}
	b.st1 = legacy.Status1{State: legacy.StateOn, SOC: 40, SOH: 90, CellCount: 30, Current: 12, Voltage: 108}
	b.st2 = legacy.Status2{MinCellV: 3.4, MaxCellV: 3.65, AvgCellV: 3.6, TotalV: 108}
	b.st3 = legacy.Status3{MinTemp: 15, MaxTemp: 35, AvgTemp: 27}
	b.hw = legacy.Hardware{MaxChargeA: 10, MaxDischargeA: 50, MaxChargeEndV: 126}
	h.keepApp(20*ms, 1500*ms, legacy.StateOn)
	h.run(h.at(1400 * ms))

	blocks := h.frames(legacy.IDPackState)
	if len(blocks) != 2 || !blocks[0].at.Equal(h.at(500*ms)) || !blocks[1].at.Equal(h.at(1000*ms)) {
		t.Fatalf("0x410 at %v", blocks)
	}
	last := func(id legacy.MsgID) legacy.Message {
		f := h.frames(id)
		if len(f) == 0 {
			t.Fatalf("no %s", id)
		}
		return f[len(f)-1].d.Msg
	}
	near := func(name string, got, want, tol float64) {
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	ps := last(legacy.IDPackState).(*legacy.PackState)
	if ps.State != legacy.StateOn || ps.TotalModules != 2 || ps.ActiveModules != 2 || !ps.Balancing || ps.Balanced || ps.Status != legacy.StatusNormal {
		t.Errorf("0x410 %+v", ps)
	}
	near("soh", ps.SOH, 90, 0.2)
	pp := last(legacy.IDPackPower).(*legacy.PackPower)
	near("pack voltage", pp.Voltage, 144, 0.05)
	near("pack current", pp.Current, 11, 0.05)
	pc := last(legacy.IDPackCells).(*legacy.PackCells)
	near("soc", pc.SOC, 50, 0.002)
	near("high cell", pc.High, 3.7, 0.0005)
	near("low cell", pc.Low, 3.4, 0.0005)
	near("avg cell", pc.Avg, 3.6, 0.0005)
	pt := last(legacy.IDPackTemps).(*legacy.PackTemps)
	near("high temp", pt.High, 35, 0.04)
	near("low temp", pt.Low, 15, 0.04)
	near("avg temp", pt.Avg, 26, 0.04)
	pl := last(legacy.IDPackLimits).(*legacy.PackLimits)
	near("discharge limit", pl.DischargeLimit, 40, 0.05)
	near("charge limit", pl.ChargeLimit, 10, 0.05)
	near("charge end", pl.ChargeEndV, 168, 0.05)
	for _, id := range []legacy.MsgID{legacy.IDModuleState, legacy.IDModulePower, legacy.IDModuleCellVoltages,
		legacy.IDModuleCellTemps, legacy.IDModuleCellIDs, legacy.IDModuleLimits} {
		if n := len(h.frames(id)); n != 4 {
			t.Errorf("%d × %s in two blocks of two modules, want 4", n, id)
		}
	}
	mp := last(legacy.IDModulePower).(*legacy.ModulePower)
	if mp.ModuleID != 2 {
		t.Errorf("last 0x412 for module %d", mp.ModuleID)
	}
	near("module voltage", mp.Voltage, 108, 0.01)
	// The other pack's frames are not ours; pack 1's frames use shifted identifiers.
	h1 := newHarness(t, func(c *Config) { c.PackID = 1 })
	h1.run(h1.at(600 * ms))
	if f := h1.frames(legacy.IDPackState); len(f) != 1 || f[0].d.Pack != 1 {
		t.Errorf("pack 1 block %+v", f)
	}
}

func TestAppRequests(t *testing.T) {
	h := newHarness(t, nil)
	h.addModule(h.at(10*ms), 0xD1)
	h.addModule(h.at(11*ms), 0xD2)
	h.keepApp(20*ms, 1000*ms, legacy.StateOn)
	h.app(h.at(30*ms), &legacy.ModuleListRequest{})
	h.app(h.at(40*ms), &legacy.AppTime{Epoch: 1_800_000_000})
	h.app(h.at(60*ms), &legacy.ModuleCommand{ModuleID: 2, Controls: legacy.Controls{Contactor: legacy.StateStandby}})
	h.app(h.at(61*ms), &legacy.ModuleCommand{ModuleID: 9, Controls: legacy.Controls{Contactor: legacy.StateStandby}})
	h.module(h.at(70*ms), &legacy.TimeRequest{}, 1)
	h.run(h.at(100 * ms))
	l := h.frames(legacy.IDModuleList)
	if len(l) != 1 || l[0].d.Msg.(*legacy.ModuleList).Modules != 0b110 {
		t.Errorf("module list %+v", l)
	}
	st := h.frames(legacy.IDSetTime)
	if len(st) != 2 || st[0].d.ModuleID != legacy.ModuleBroadcast || st[0].d.Msg.(*legacy.SetTime).Epoch != 1_800_000_000 ||
		st[1].d.ModuleID != 1 || st[1].d.Msg.(*legacy.SetTime).Epoch != 1_800_000_000 {
		t.Errorf("set time frames %+v", st)
	}
	var mod2 []legacy.State
	for _, s := range h.frames(legacy.IDStateChange) {
		if s.d.ModuleID == 2 {
			mod2 = append(mod2, s.d.Msg.(*legacy.StateChange).State)
		}
	}
	if len(mod2) != 2 || mod2[1] != legacy.StateStandby {
		t.Errorf("module 2 state changes %v", mod2)
	}
	if h.c.stats.Rejected[CauseBadModule] != 1 {
		t.Errorf("rejected %v", h.c.stats.Rejected)
	}
}

func TestBadInputCounted(t *testing.T) {
	h := newHarness(t, nil)
	h.addModule(h.at(10*ms), 0xE1)
	short := bus.Frame{ID: 0x502<<18 | 1, Extended: true, Len: 3}
	cases := []struct {
		name  string
		can1  bool
		f     bus.Frame
		cause Cause
	}{
		{"short status", false, short, CauseMalformed},
		{"unassigned module", false, mustModule(t, &legacy.Status3{}, 7), CauseUnregister},
		{"pack message on CAN2", false, mustModule(t, &legacy.MaxState{}, 0), CauseWrongDir},
		{"module bus on CAN1", true, mustModule(t, &legacy.Status3{}, 1), CauseWrongBus},
		{"undefined base", false, bus.Frame{ID: 0x509<<18 | 1, Extended: true, Len: 8}, CauseUnknownID},
		{"pack frame on CAN1", true, mustApp(t, &legacy.PackTemps{}), CauseWrongDir},
		{"app bus on CAN2", false, mustApp(t, &legacy.KeepAlive{}), CauseWrongBus},
		{"bad contactor", true, bus.Frame{ID: 0x404, Len: 8, Data: [64]byte{0x20}}, CauseMalformed},
		{"remote frame", true, bus.Frame{ID: 0x400, Remote: true}, CauseMalformed},
	}
	for i, c := range cases {
		h.inject(h.at(time.Duration(20+i)*ms), c.can1, c.f)
	}
	h.run(h.at(2 * time.Second))
	want := map[Cause]uint64{}
	for _, c := range cases {
		want[c.cause]++
	}
	for k, v := range want {
		if h.c.stats.Rejected[k] != v {
			t.Errorf("rejected[%s] = %d, want %d (all: %v)", k, h.c.stats.Rejected[k], v, h.c.stats.Rejected)
		}
	}
	// And it kept serving: module 1 polled and answering.
	if h.c.stats.Polls < 15 || h.c.stats.Timeouts != 0 {
		t.Errorf("polls %d timeouts %d after bad input", h.c.stats.Polls, h.c.stats.Timeouts)
	}
}

func mustModule(t testing.TB, m legacy.Message, id uint8) bus.Frame {
	t.Helper()
	f, err := legacy.EncodeModule(m, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustApp(t *testing.T, m legacy.Message) bus.Frame {
	t.Helper()
	f, err := legacy.EncodeApp(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
