package pack

import (
	"errors"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/legacy"
)

// output is what one step of the legacy logic sends and reports.
type output struct {
	can1, can2 []bus.Frame
	events     []Event
}

// module is the pack's record of one registered module.
type module struct {
	id        uint8
	uid       uint32
	mfg, part uint8
	heard     time.Time // last frame from the module (or its registration)
	polled    bool      // a status request waits for its answer
	repolled  bool      // the 2 s re-poll of this silence went out
	timeouts  int       // in a row
	active    bool      // answered since registration or the last timeout
	st1       *legacy.Status1
	st2       *legacy.Status2
	st3       *legacy.Status3
	hw        *legacy.Hardware
}

// core is the legacy pack firmware as a state machine: frames and time in, frames and events
// out. It does no I/O, so its timing is tested exactly; Device drives it.
type core struct {
	cfg   *Config
	stats Stats
	mods  [legacy.ModuleLast + 1]*module
	rr    uint8 // module polled in the last round-robin slot
	brr   uint8 // module whose 0x411–0x416 went out last
	seq   uint16

	nextPoll, nextBeat, nextBlock, nextAnnounce time.Time

	appEver  bool
	appHeard time.Time
	appState legacy.State // contactor request of the last 0x400
	hvBus    float64      // HV bus voltage of the last 0x400
	limit    legacy.State // link-loss limit
	target   legacy.State // state requested of the modules
	timeOff  time.Duration
	timeSet  bool
	dirty    bool // the registry changed since it was last stored
}

func newCore(cfg *Config, now time.Time) *core {
	c := &core{cfg: cfg, stats: Stats{Rejected: map[Cause]uint64{}}}
	c.nextBeat, c.nextAnnounce = now, now
	c.nextPoll = now.Add(cfg.PollPeriod)
	c.nextBlock = now.Add(cfg.BlockPeriod)
	c.limit, c.target = legacy.StateOff, legacy.StateOff
	c.publish()
	return c
}

func (c *core) reject(cause Cause) { c.stats.Rejected[cause]++ }

// publish refreshes the state part of the stats.
func (c *core) publish() {
	c.stats.State, c.stats.MaxState = c.target, c.maxState()
	n := 0
	for _, m := range c.mods {
		if m != nil {
			n++
		}
	}
	c.stats.Modules = n
}

// maxState is what the heartbeat allows: the configured cap under the link-loss limit.
func (c *core) maxState() legacy.State { return min(c.cfg.MaxState, c.limit) }

// next is when tick must run again.
func (c *core) next() time.Time {
	t := c.nextPoll
	for _, u := range []time.Time{c.nextBeat, c.nextBlock, c.nextAnnounce} {
		if u.Before(t) {
			t = u
		}
	}
	if c.appEver {
		var u time.Time
		switch c.limit {
		case legacy.StateOn:
			u = c.appHeard.Add(c.cfg.AppStandbyAfter)
		case legacy.StateStandby:
			u = c.appHeard.Add(c.cfg.AppOffAfter)
		}
		if !u.IsZero() && u.Before(t) {
			t = u
		}
	}
	return t
}

// due reports whether a periodic action is due and moves its deadline on by one period
// (skipping periods the pack slept through, as a firmware timer does).
func due(next *time.Time, period time.Duration, now time.Time) bool {
	if now.Before(*next) {
		return false
	}
	*next = next.Add(period)
	if !next.After(now) {
		*next = now.Add(period)
	}
	return true
}

// tick runs what is due at now.
func (c *core) tick(now time.Time, out *output) {
	c.checkLink(now, out)
	if due(&c.nextAnnounce, c.cfg.AnnouncePeriod, now) {
		c.stats.AnnounceReqs++
		c.sendModule(out, &legacy.AnnounceRequest{RequestType: AnnounceRequestAll}, legacy.ModuleUnregistered)
	}
	if due(&c.nextBeat, c.cfg.HeartbeatPeriod, now) {
		c.stats.Heartbeats++
		c.sendModule(out, &legacy.MaxState{State: c.maxState()}, legacy.ModuleBroadcast)
	}
	if due(&c.nextPoll, c.cfg.PollPeriod, now) {
		c.pollSlot(now, out)
	}
	if due(&c.nextBlock, c.cfg.BlockPeriod, now) {
		c.stats.Blocks++
		c.block(out)
	}
	c.publish()
}

// pollSlot is one 100 ms slot: silence bookkeeping, then one status request: a module silent
// for more than 2 s first, otherwise the next module in round-robin order that is not still
// waiting to answer.
func (c *core) pollSlot(now time.Time, out *output) {
	for _, m := range c.mods {
		if m == nil || now.Sub(m.heard) < c.cfg.ModuleTimeout {
			continue
		}
		m.timeouts++
		m.active = false
		c.stats.Timeouts++
		out.events = append(out.events, EventTimeout{ModuleID: m.id, Count: m.timeouts})
		c.cfg.Logger.Info("pack: module timed out", "module", m.id, "count", m.timeouts)
		if m.timeouts >= c.cfg.MaxTimeouts {
			c.deregister(m, ReasonTimeout, out)
			continue
		}
		m.heard, m.polled, m.repolled = now, false, false
	}
	for _, m := range c.mods {
		if m != nil && m.polled && !m.repolled && now.Sub(m.heard) > c.cfg.RepollAfter {
			m.repolled = true
			c.stats.Repolls++
			c.sendModule(out, &legacy.StatusRequest{ModuleID: m.id}, m.id)
			return
		}
	}
	for i := 1; i <= int(legacy.ModuleLast); i++ {
		id := uint8((int(c.rr)+i-1)%int(legacy.ModuleLast) + 1)
		m := c.mods[id]
		if m == nil || m.polled {
			continue
		}
		c.rr, m.polled = id, true
		c.stats.Polls++
		c.sendModule(out, &legacy.StatusRequest{ModuleID: id}, id)
		return
	}
}

func (c *core) deregister(m *module, reason uint8, out *output) {
	c.mods[m.id] = nil
	c.dirty = true
	c.stats.Deregistrations++
	c.sendModule(out, &legacy.Deregister{ModuleID: m.id, Reason: reason}, m.id)
	out.events = append(out.events, EventDeregistered{ModuleID: m.id, Reason: reason})
	c.cfg.Logger.Info("pack: module deregistered", "module", m.id, "reason", reason)
}

// limitAt is the link-loss limit at t.
func (c *core) limitAt(t time.Time) legacy.State {
	if !c.appEver {
		return legacy.StateOff
	}
	switch d := t.Sub(c.appHeard); {
	case d >= c.cfg.AppOffAfter:
		return legacy.StateOff
	case d >= c.cfg.AppStandbyAfter:
		return legacy.StateStandby
	}
	return legacy.StateOn
}

// checkLink applies the app link-loss rule.
func (c *core) checkLink(now time.Time, out *output) {
	l := c.limitAt(now)
	if l == c.limit {
		return
	}
	lost := l < c.limit && c.appEver
	c.limit = l
	if lost {
		c.stats.LinkLosses++
		out.events = append(out.events, EventLinkLoss{Limit: l})
		c.cfg.Logger.Warn("pack: app link lost", "limit", l)
		if l == legacy.StateOff {
			c.appState = legacy.StateOff // the app must ask again once it is back
		}
		c.apply("link-loss", out)
	}
}

// apply moves the pack to the app's request under the max state, telling every module.
func (c *core) apply(cause string, out *output) {
	t := min(c.appState, c.maxState())
	if t == c.target {
		return
	}
	out.events = append(out.events, EventPackState{From: c.target, To: t, Cause: cause})
	c.target = t
	for _, m := range c.mods {
		if m != nil {
			c.stateChange(m.id, t, out)
		}
	}
}

func (c *core) stateChange(id uint8, s legacy.State, out *output) {
	c.stats.StateChanges++
	c.sendModule(out, &legacy.StateChange{ModuleID: id, State: s, HVBusV: clamp(c.hvBus, 0, 6553.5)}, id)
}

// handleModule takes one legacy frame from CAN2.
func (c *core) handleModule(f bus.Frame, now time.Time, out *output) {
	defer c.publish()
	d, err := legacy.Decode(f)
	if err != nil {
		c.rejectDecode(err)
		return
	}
	if d.Bus != legacy.BusModule {
		c.reject(CauseWrongBus)
		return
	}
	if d.Msg.MsgID().Direction() != legacy.ModuleToPack {
		c.reject(CauseWrongDir)
		return
	}
	if a, ok := d.Msg.(*legacy.Announcement); ok {
		c.announce(a, now, out)
		return
	}
	if d.ModuleID < legacy.ModuleFirst || d.ModuleID > legacy.ModuleLast || c.mods[d.ModuleID] == nil {
		c.reject(CauseUnregister)
		return
	}
	m := c.mods[d.ModuleID]
	m.heard, m.polled, m.repolled, m.timeouts, m.active = now, false, false, 0, true
	switch msg := d.Msg.(type) {
	case *legacy.Hardware:
		m.hw = msg
	case *legacy.Status1:
		if m.st1 != nil && m.st1.State != msg.State {
			out.events = append(out.events, EventModuleState{ModuleID: m.id, From: m.st1.State, To: msg.State})
		}
		m.st1 = msg
	case *legacy.Status2:
		m.st2 = msg
	case *legacy.Status3:
		m.st3 = msg
	case *legacy.TimeRequest:
		c.sendTime(now, m.id, out)
	}
}

func (c *core) rejectDecode(err error) {
	switch {
	case errors.Is(err, legacy.ErrNotLegacy), errors.Is(err, legacy.ErrUnknownMessage):
		c.reject(CauseUnknownID)
	default:
		c.reject(CauseMalformed)
	}
}

// announce registers an announcing module, or registers it again under its old ID.
func (c *core) announce(a *legacy.Announcement, now time.Time, out *output) {
	var m *module
	again := false
	for _, x := range c.mods {
		if x != nil && x.uid == a.UniqueID && x.mfg == a.Manufacturer && x.part == a.Part {
			m, again = x, true
			break
		}
	}
	if m == nil {
		for id := legacy.ModuleFirst; id <= legacy.ModuleLast; id++ {
			if c.mods[id] == nil {
				m = &module{id: id, uid: a.UniqueID, mfg: a.Manufacturer, part: a.Part}
				c.mods[id] = m
				break
			}
		}
	}
	if m == nil {
		c.reject(CauseFull)
		c.cfg.Logger.Warn("pack: announcement with every module ID taken", "unique_id", a.UniqueID)
		return
	}
	m.heard, m.polled, m.repolled = now, false, false
	c.dirty = c.dirty || !again
	c.stats.Registrations++
	c.sendModule(out, &legacy.Registration{ModuleID: m.id, ControllerID: c.cfg.ControllerID,
		Manufacturer: a.Manufacturer, Part: a.Part, UniqueID: a.UniqueID}, legacy.ModuleUnregistered)
	c.sendModule(out, &legacy.HardwareRequest{ModuleID: m.id}, m.id)
	if c.target != legacy.StateOff {
		c.stateChange(m.id, c.target, out)
	}
	out.events = append(out.events, EventRegistered{ModuleID: m.id, UniqueID: a.UniqueID,
		Manufacturer: a.Manufacturer, Part: a.Part, Again: again})
	c.cfg.Logger.Info("pack: module registered", "module", m.id, "unique_id", a.UniqueID, "again", again)
}

func (c *core) epoch(now time.Time) uint32 {
	s := now.Add(c.timeOff).Unix()
	return uint32(max(0, min(s, 1<<32-1)))
}

func (c *core) sendTime(now time.Time, id uint8, out *output) {
	c.stats.TimeSets++
	c.sendModule(out, &legacy.SetTime{Marker: SetTimeMarker, Epoch: c.epoch(now)}, id)
}

// handleApp takes one legacy frame from CAN1.
func (c *core) handleApp(f bus.Frame, now time.Time, out *output) {
	defer c.publish()
	d, err := legacy.Decode(f)
	if err != nil {
		c.rejectDecode(err)
		return
	}
	if d.Bus != legacy.BusApp {
		c.reject(CauseWrongBus)
		return
	}
	if d.Pack != c.cfg.PackID {
		return // the other pack's traffic on a shared app bus
	}
	if d.Msg.MsgID().Direction() != legacy.AppToPack {
		c.reject(CauseWrongDir)
		return
	}
	c.appEver, c.appHeard = true, now
	switch m := d.Msg.(type) {
	case *legacy.AppCommand:
		c.appState, c.hvBus = m.Contactor, m.HVBusV
	case *legacy.AppTime:
		c.timeOff = time.Unix(int64(min(m.Epoch, 1<<62)), 0).Sub(now)
		c.timeSet = true
		c.sendTime(now, legacy.ModuleBroadcast, out)
	case *legacy.ModuleCommand:
		c.moduleCommand(m, out)
	case *legacy.ModuleListRequest:
		var l legacy.ModuleList
		for _, x := range c.mods {
			if x != nil {
				l.Set(x.id)
			}
		}
		c.stats.ModuleLists++
		c.sendApp(out, &l)
	}
	c.checkLink(now, out)
	c.apply("app", out)
}

func (c *core) moduleCommand(m *legacy.ModuleCommand, out *output) {
	s := min(m.Contactor, c.maxState())
	if m.ModuleID == legacy.ModuleBroadcast {
		for _, x := range c.mods {
			if x != nil {
				c.stateChange(x.id, s, out)
			}
		}
		return
	}
	if int(m.ModuleID) >= len(c.mods) || c.mods[m.ModuleID] == nil {
		c.reject(CauseBadModule)
		return
	}
	c.stateChange(m.ModuleID, s, out)
}

func (c *core) sendModule(out *output, m legacy.Message, id uint8) {
	f, err := legacy.EncodeModule(m, id, c.seq)
	if err != nil {
		c.reject(CauseEncode)
		c.cfg.Logger.Error("pack: encoding", "msg", m.MsgID(), "err", err)
		return
	}
	c.seq = (c.seq + 1) & legacy.MaxSeq
	out.can2 = append(out.can2, f)
}

func (c *core) sendApp(out *output, m legacy.Message) {
	f, err := legacy.EncodeApp(m, c.cfg.PackID)
	if err != nil {
		c.reject(CauseEncode)
		c.cfg.Logger.Error("pack: encoding", "msg", m.MsgID(), "err", err)
		return
	}
	out.can1 = append(out.can1, f)
}

// modules returns the registered modules in ID order.
func (c *core) modules() []ModuleInfo {
	var out []ModuleInfo
	for _, m := range c.mods {
		if m == nil {
			continue
		}
		i := ModuleInfo{ID: m.id, UniqueID: m.uid, Manufacturer: m.mfg, Part: m.part, Active: m.active, Timeouts: m.timeouts}
		if m.st1 != nil {
			i.State, i.Voltage, i.Current, i.SOC = m.st1.State, m.st1.Voltage, m.st1.Current, m.st1.SOC
		}
		out = append(out, i)
	}
	return out
}

// isolate opens every module's relays now (0x51F) and drops the app's request to Off: the
// pack's part of an emergency isolate.
func (c *core) isolate(reason uint8, out *output) {
	c.appState = legacy.StateOff
	c.sendModule(out, &legacy.AllIsolate{Reason: reason}, legacy.ModuleBroadcast)
	c.apply("isolate", out)
	c.publish()
}
