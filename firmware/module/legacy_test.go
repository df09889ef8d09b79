package module

import (
	"bytes"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/legacy"
)

func TestBootAnnouncement(t *testing.T) {
	r := newRig(t, nil)
	got, d := r.expect(legacy.IDAnnouncement, legacy.ModuleUnregistered)
	// 0x500 << 18 | seq 0 << 8 | 0xFF; fw build 0x0107, manufacturer 0x4D, part 0x01, unique ID 0x12345678.
	want := bus.Frame{ID: 0x140000FF, Extended: true, Len: 8, Data: [64]byte{0x07, 0x01, 0x4D, 0x01, 0x78, 0x56, 0x34, 0x12}}
	if got.Frame != want {
		t.Fatalf("announcement %s, want %s", got.Frame.String(), want.String())
	}
	if d.Seq != 0 {
		t.Fatalf("first frame seq %d", d.Seq)
	}
	if !got.Time.Equal(t0) && got.Time.Sub(t0) > time.Millisecond {
		t.Fatalf("announcement at %v, want at boot", got.Time.Sub(t0))
	}
}

func TestRegistrationRule(t *testing.T) {
	r := newRig(t, nil)
	r.expect(legacy.IDAnnouncement, legacy.ModuleUnregistered)
	good := legacy.Registration{ModuleID: 3, ControllerID: 1, Manufacturer: DefaultManufacturer, Part: DefaultPart, UniqueID: testUID}
	bad := []func(m *legacy.Registration){
		func(m *legacy.Registration) { m.UniqueID++ },
		func(m *legacy.Registration) { m.Manufacturer++ },
		func(m *legacy.Registration) { m.Part++ },
	}
	for i, mut := range bad {
		m := good
		mut(&m)
		r.send(&m, legacy.ModuleUnregistered)
		if s := r.dev.Stats(); s.ModuleID != legacy.ModuleUnregistered || s.Registrations.Refused != uint64(i+1) {
			t.Fatalf("mismatch %d: module ID %#02x, refused %d", i, s.ModuleID, s.Registrations.Refused)
		}
	}
	// Unregistered, it does not answer module 3's requests.
	r.send(&legacy.HardwareRequest{ModuleID: 3}, 3)
	r.quiet()
	r.send(&good, legacy.ModuleUnregistered)
	r.expect(legacy.IDTimeRequest, 3)
	r.send(&legacy.HardwareRequest{ModuleID: 3}, 3)
	_, d := r.expect(legacy.IDHardware, 3)
	hw := d.Msg.(*legacy.Hardware)
	if hw.MaxChargeA != DefaultMaxChargeA || hw.MaxDischargeA != DefaultMaxDischargeA || hw.HWVersion != DefaultHWVersion || hw.MaxChargeEndV != 67.2 {
		t.Fatalf("hardware %+v", hw)
	}
	if s := r.dev.Stats(); s.Registrations.Accepted != 1 || s.Rejected[CauseRefused] != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestAnnounceRequest(t *testing.T) {
	r := newRig(t, nil)
	r.expect(legacy.IDAnnouncement, legacy.ModuleUnregistered)
	r.send(&legacy.AnnounceRequest{RequestType: 1}, legacy.ModuleUnregistered)
	_, d := r.expect(legacy.IDAnnouncement, legacy.ModuleUnregistered)
	if d.Seq != 1 {
		t.Fatalf("second frame seq %d", d.Seq)
	}
	r.send(&legacy.Registration{ModuleID: 2, ControllerID: 1, Manufacturer: DefaultManufacturer, Part: DefaultPart, UniqueID: testUID}, legacy.ModuleUnregistered)
	r.expect(legacy.IDTimeRequest, 2)
	r.send(&legacy.AnnounceRequest{RequestType: 1}, legacy.ModuleUnregistered)
	r.quiet()
}

func TestStatusOrderAndDelay(t *testing.T) {
	r := newRig(t, nil)
	r.register(1)
	at := r.clk.Now()
	r.send(&legacy.StatusRequest{ModuleID: 1}, 1)
	r.send(&legacy.StatusRequest{ModuleID: 1}, 1) // a second request before the answer: one answer
	r.advance(9 * time.Millisecond)
	r.quiet()
	r.advance(time.Millisecond)
	var seq uint16
	for i, id := range []legacy.MsgID{legacy.IDStatus1, legacy.IDStatus2, legacy.IDStatus3, legacy.IDCellComm1} {
		got, d := r.expect(id, 1)
		if dt := got.Time.Sub(at); dt < DefaultStatusDelay || dt > DefaultStatusDelay+2*time.Millisecond {
			t.Fatalf("%s %v after the request, want ≈10 ms", id, dt)
		}
		if i > 0 && d.Seq != (seq+1)&legacy.MaxSeq {
			t.Fatalf("%s seq %d after %d", id, d.Seq, seq)
		}
		seq = d.Seq
	}
	r.quiet()
	_, d := r.recvStatus(1)
	s1 := d[0].Msg.(*legacy.Status1)
	if s1.CellCount != DefaultCells || s1.State != legacy.StateOff || s1.SOC < 55 || s1.SOC > 65 || s1.SOH != DefaultSOH {
		t.Fatalf("status1 %+v", s1)
	}
	s2 := d[1].Msg.(*legacy.Status2)
	if s2.MinCellV < 3.7 || s2.MaxCellV > 3.9 || s2.MinCellV > s2.AvgCellV || s2.AvgCellV > s2.MaxCellV {
		t.Fatalf("status2 %+v", s2)
	}
	s3 := d[2].Msg.(*legacy.Status3)
	if s3.MinTemp < 23 || s3.MaxTemp > 27 {
		t.Fatalf("status3 %+v", s3)
	}
}

// recvStatus requests and collects one status answer.
func (r *rig) recvStatus(id uint8) ([]bus.Received, []legacy.Decoded) {
	r.t.Helper()
	r.send(&legacy.StatusRequest{ModuleID: id}, id)
	r.advance(DefaultStatusDelay)
	var rs []bus.Received
	var ds []legacy.Decoded
	for _, m := range []legacy.MsgID{legacy.IDStatus1, legacy.IDStatus2, legacy.IDStatus3, legacy.IDCellComm1} {
		g, d := r.expect(m, id)
		rs, ds = append(rs, g), append(ds, d)
	}
	return rs, ds
}

func (r *rig) state(id uint8) legacy.State {
	r.t.Helper()
	_, d := r.recvStatus(id)
	return d[0].Msg.(*legacy.Status1).State
}

func TestStateChangeUnderMaxState(t *testing.T) {
	r := newRig(t, nil)
	r.register(1)
	steps := []struct {
		max, req *legacy.State
		want     legacy.State
	}{
		{nil, ptr(legacy.StateOn), legacy.StateOff},              // no heartbeat yet: Off is the ceiling
		{ptr(legacy.StatePrecharge), nil, legacy.StatePrecharge}, // the kept request, capped
		{nil, ptr(legacy.StateOn), legacy.StatePrecharge},
		{ptr(legacy.StateOn), ptr(legacy.StateOn), legacy.StateOn},
		{ptr(legacy.StateStandby), nil, legacy.StateStandby}, // a lower ceiling pulls the state down
		{ptr(legacy.StateOn), nil, legacy.StateOn},           // and a higher one lets the request through
		{nil, ptr(legacy.StateOff), legacy.StateOff},
	}
	for i, s := range steps {
		if s.max != nil {
			r.send(&legacy.MaxState{State: *s.max}, legacy.ModuleBroadcast)
		}
		if s.req != nil {
			r.send(&legacy.StateChange{ModuleID: 1, State: *s.req, HVBusV: 48}, 1)
		}
		if got := r.state(1); got != s.want {
			t.Fatalf("step %d: state %s, want %s", i, got, s.want)
		}
	}
	r.send(&legacy.MaxState{State: legacy.StateOn}, legacy.ModuleBroadcast)
	r.send(&legacy.StateChange{ModuleID: 1, State: legacy.StateOn}, 1)
	r.send(&legacy.AllIsolate{Reason: 1}, legacy.ModuleBroadcast)
	if got := r.state(1); got != legacy.StateOff {
		t.Fatalf("after 0x51F: %s", got)
	}
	if s := r.dev.Stats(); s.ModuleID != 1 || s.Isolations != 1 {
		t.Fatalf("0x51F keeps the ID: %+v", s)
	}
}

func ptr[T any](v T) *T { return &v }

func TestSilenceFallback(t *testing.T) {
	r := newRig(t, nil)
	r.register(4)
	// The pack's heartbeats keep the module registered.
	for range 3 {
		r.advance(5 * time.Second)
		r.send(&legacy.MaxState{State: legacy.StateOn}, legacy.ModuleBroadcast)
	}
	r.send(&legacy.StateChange{ModuleID: 4, State: legacy.StateOn}, 4)
	heard := r.clk.Now()
	r.advance(11*time.Second + 99*time.Millisecond)
	r.quiet()
	if s := r.dev.Stats(); s.ModuleID != 4 || s.State != legacy.StateOn {
		t.Fatalf("before 11.1 s: %+v", s)
	}
	r.advance(time.Millisecond)
	got, _ := r.expect(legacy.IDAnnouncement, legacy.ModuleUnregistered)
	if dt := got.Time.Sub(heard); dt < DefaultSilenceTimeout || dt > DefaultSilenceTimeout+time.Millisecond {
		t.Fatalf("fresh announcement %v after the last pack frame", dt)
	}
	s := r.dev.Stats()
	if s.ModuleID != legacy.ModuleUnregistered || s.State != legacy.StateOff || s.SilenceFallbacks != 1 {
		t.Fatalf("after the fallback: %+v", s)
	}
	// It listens as 0xFF again.
	r.send(&legacy.StatusRequest{ModuleID: 4}, 4)
	r.advance(time.Second)
	r.quiet()
	r.send(&legacy.Registration{ModuleID: 5, ControllerID: 1, Manufacturer: DefaultManufacturer, Part: DefaultPart, UniqueID: testUID}, legacy.ModuleUnregistered)
	r.send(&legacy.HardwareRequest{ModuleID: 5}, 5)
	r.expect(legacy.IDHardware, 5) // the time survived: no 0x506 this time
}

func TestTimeRequestRepeats(t *testing.T) {
	r := newRig(t, nil)
	r.expect(legacy.IDAnnouncement, legacy.ModuleUnregistered)
	r.send(&legacy.Registration{ModuleID: 1, ControllerID: 1, Manufacturer: DefaultManufacturer, Part: DefaultPart, UniqueID: testUID}, legacy.ModuleUnregistered)
	r.expect(legacy.IDTimeRequest, 1)
	r.advance(DefaultTimeRequestPeriod)
	r.expect(legacy.IDTimeRequest, 1)
	r.send(&legacy.SetTime{Marker: 1, Epoch: 1}, 1)
	r.advance(2 * DefaultTimeRequestPeriod)
	r.send(&legacy.MaxState{}, legacy.ModuleBroadcast)
	r.quiet()
}

func TestDeregister(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  legacy.Message
		to   uint8
	}{
		{"0x518", &legacy.Deregister{ModuleID: 2, Reason: 1}, 2},
		{"0x51E", &legacy.AllDeregister{Reason: 1}, legacy.ModuleBroadcast},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.register(2)
			r.send(tc.msg, tc.to)
			if s := r.dev.Stats(); s.ModuleID != legacy.ModuleUnregistered || s.Deregistrations != 1 {
				t.Fatalf("%+v", s)
			}
			r.quiet()
			r.send(&legacy.AnnounceRequest{}, legacy.ModuleUnregistered)
			r.expect(legacy.IDAnnouncement, legacy.ModuleUnregistered)
		})
	}
}

func TestSequenceWraps(t *testing.T) {
	r := newRig(t, nil)
	r.register(1) // frames 0 (0x500) and 1 (0x506)
	var last uint16
	for i := 2; i <= int(legacy.MaxSeq)+3; i++ {
		r.send(&legacy.HardwareRequest{ModuleID: 1}, 1)
		_, d := r.expect(legacy.IDHardware, 1)
		if want := uint16(i) & legacy.MaxSeq; d.Seq != want {
			t.Fatalf("frame %d has seq %d, want %d", i, d.Seq, want)
		}
		last = d.Seq
	}
	if last != 2 {
		t.Fatalf("last seq %d", last)
	}
}

func TestCellDetail(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Cells = 94 })
	r.register(1)
	for _, k := range []uint8{0, 47, 93} {
		r.send(&legacy.CellDetailRequest{ModuleID: 1, CellID: k}, 1)
		_, d := r.expect(legacy.IDCellDetail, 1)
		cd := d.Msg.(*legacy.CellDetail)
		if cd.CellID != k || cd.CellCount != 94 || cd.Voltage < 3.6 || cd.Voltage > 3.9 || cd.Temp < 23 || cd.Temp > 27 {
			t.Fatalf("cell %d: %+v", k, cd)
		}
	}
	r.send(&legacy.CellDetailRequest{ModuleID: 1, CellID: 94}, 1)
	r.quiet()
	if s := r.dev.Stats(); s.Rejected[CauseBadRequest] != 1 {
		t.Fatalf("%+v", s.Rejected)
	}
}

func TestBadInputKeepsServing(t *testing.T) {
	r := newRig(t, nil)
	r.register(1)
	mk := func(base uint32, module uint8, data ...byte) bus.Frame {
		f := bus.Frame{ID: base<<18 | uint32(module), Extended: true, Len: uint8(len(data))}
		copy(f.Data[:], data)
		return f
	}
	bad := []struct {
		f    bus.Frame
		want Cause
	}{
		{mk(0x512, 1), CauseMalformed},                              // status request with no payload
		{mk(0x514, 1, 1), CauseMalformed},                           // truncated state change
		{mk(0x514, 1, 1, 0x07, 0, 0), CauseMalformed},               // undefined state
		{mk(0x510, 0xFF, 1, 2, 3), CauseMalformed},                  // truncated registration
		{mk(0x519, 1, 1), CauseUnknownID},                           // no message at this base
		{mk(0x512, 0x40, 1), CauseUnknownID},                        // module field outside the legacy set
		{bus.Frame{ID: 0x1FFFFFFF, Extended: true}, CauseUnknownID}, // neither legacy nor Web4
		{mk(0x512, 1, 2), CauseBadRequest},                          // names another module
	}
	for i, b := range bad {
		before := r.dev.Stats().Rejected[b.want]
		r.sendFrame(b.f)
		if got := r.dev.Stats().Rejected[b.want]; got != before+1 {
			t.Fatalf("case %d (%s): %s count %d → %d", i, b.f.String(), b.want, before, got)
		}
	}
	r.quiet()
	_, ds := r.recvStatus(1)
	if len(ds) != 4 {
		t.Fatal("module stopped serving")
	}
}

func TestCurrentFollowsStateAndLimits(t *testing.T) {
	r := newRig(t, func(c *Config) { c.DemandA = -40 })
	r.register(1)
	r.send(&legacy.MaxState{State: legacy.StateOn}, legacy.ModuleBroadcast)
	r.advance(time.Second)
	_, d := r.recvStatus(1)
	if c := d[0].Msg.(*legacy.Status1).Current; c != 0 {
		t.Fatalf("current %g A while Off", c)
	}
	r.send(&legacy.StateChange{ModuleID: 1, State: legacy.StateOn}, 1)
	r.advance(200 * time.Millisecond)
	_, d = r.recvStatus(1)
	t1 := d[2].Msg.(*legacy.Status3).AvgTemp
	if c := d[0].Msg.(*legacy.Status1).Current; c > -39 || c < -41 {
		t.Fatalf("current %g A in On, want ≈ −40", c)
	}
	for range 6 {
		r.advance(10 * time.Second)
		r.send(&legacy.MaxState{State: legacy.StateOn}, legacy.ModuleBroadcast)
	}
	_, d = r.recvStatus(1)
	if t2 := d[2].Msg.(*legacy.Status3).AvgTemp; t2 <= t1+0.5 {
		t.Fatalf("temperature %g → %g °C after a minute at 40 A", t1, t2)
	}
	if soc := d[0].Msg.(*legacy.Status1).SOC; soc >= 60 {
		t.Fatalf("SOC %g after discharging", soc)
	}
}

func TestDeadCell(t *testing.T) {
	r := newRig(t, nil)
	r.register(1)
	if err := r.dev.KillCell(t.Context(), 5); err != nil {
		t.Fatal(err)
	}
	r.advance(DefaultStepPeriod)
	_, d := r.recvStatus(1)
	if st := d[0].Msg.(*legacy.Status1).Status; st&FlagFault == 0 {
		t.Fatalf("status nibble %#x without fault", st)
	}
	if v := d[1].Msg.(*legacy.Status2).MinCellV; v != 0 {
		t.Fatalf("min cell %g V with a dead cell", v)
	}
	cc := d[3].Msg.(*legacy.CellComm1)
	if cc.FirstI2CFault != 5 || cc.FewestCellMsgs != 0 || cc.I2CErrors != 1 {
		t.Fatalf("cell comm %+v", cc)
	}
	if s := r.dev.Stats(); s.StepTriggers == 0 {
		t.Fatal("a dead cell's voltage step raised no trigger")
	}
}

// script runs the same pack script on a fresh module and returns every frame it sent.
func script(t *testing.T, seed uint64) [][]byte {
	r := newRig(t, func(c *Config) { c.Seed = seed; c.Cells = 24 })
	r.register(1)
	r.send(&legacy.MaxState{State: legacy.StateOn}, legacy.ModuleBroadcast)
	r.send(&legacy.StateChange{ModuleID: 1, State: legacy.StateOn}, 1)
	var out [][]byte
	add := func(g bus.Received) { out = append(out, append([]byte(g.Frame.String()), g.Frame.Data[:8]...)) }
	for range 5 {
		r.advance(time.Second)
		r.send(&legacy.MaxState{State: legacy.StateOn}, legacy.ModuleBroadcast)
		gs, _ := r.recvStatus(1)
		for _, g := range gs {
			add(g)
		}
	}
	for k := range uint8(24) {
		r.send(&legacy.CellDetailRequest{ModuleID: 1, CellID: k}, 1)
		g, _ := r.recv()
		add(g)
	}
	return out
}

func TestDeterminism(t *testing.T) {
	a, b, c := script(t, 7), script(t, 7), script(t, 8)
	if len(a) != len(b) {
		t.Fatalf("%d frames vs %d", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("frame %d differs with the same seed: %q vs %q", i, a[i], b[i])
		}
	}
	same := 0
	for i := range a {
		if bytes.Equal(a[i], c[i]) {
			same++
		}
	}
	if same == len(a) {
		t.Fatal("another seed gave the same frames")
	}
}
