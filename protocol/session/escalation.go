package session

import (
	"time"

	"github.com/modbatt/hilrun/protocol/message"
)

// EscalationPolicy holds the triggers and rate limits of docs/protocol.md 8.1 and R8.
type EscalationPolicy struct {
	AuthFailures  int           // MAC/AEAD failures from one source that trigger (3)
	ReplayCount   int           // replays or stale counters from one source that trigger (3)
	TriggerWindow time.Duration // window of both counts (10 s)
	PerReason     time.Duration // at most one request per reason per this interval (1 s)
	NodeBurst     int           // and at most this many per NodeWindow per peer (4)
	NodeWindow    time.Duration // (10 s)
}

// DefaultEscalationPolicy is profile v1's.
func DefaultEscalationPolicy() EscalationPolicy {
	return EscalationPolicy{AuthFailures: 3, ReplayCount: 3, TriggerWindow: 10 * time.Second,
		PerReason: time.Second, NodeBurst: 4, NodeWindow: 10 * time.Second}
}

func (p *EscalationPolicy) fill() {
	d := DefaultEscalationPolicy()
	if p.AuthFailures <= 0 {
		p.AuthFailures = d.AuthFailures
	}
	if p.ReplayCount <= 0 {
		p.ReplayCount = d.ReplayCount
	}
	if p.TriggerWindow <= 0 {
		p.TriggerWindow = d.TriggerWindow
	}
	if p.PerReason <= 0 {
		p.PerReason = d.PerReason
	}
	if p.NodeBurst <= 0 {
		p.NodeBurst = d.NodeBurst
	}
	if p.NodeWindow <= 0 {
		p.NodeWindow = d.NodeWindow
	}
}

// trigger counts events of one kind from one source within a sliding window.
type trigger struct{ times []time.Time }

// hit records an event at now and reports how many fall within w, forgetting older ones.
func (t *trigger) hit(now time.Time, w time.Duration) int {
	keep := t.times[:0]
	for _, x := range t.times {
		if now.Sub(x) < w {
			keep = append(keep, x)
		}
	}
	t.times = append(keep, now)
	return len(t.times)
}

// limiter applies R8 to the requests one node sends to one peer.
type limiter struct {
	last map[message.Reason]time.Time
	sent []time.Time
}

// allow reports whether a request for reason may go out at now, and records it if so.
func (l *limiter) allow(p *EscalationPolicy, r message.Reason, now time.Time) bool {
	if l.last == nil {
		l.last = map[message.Reason]time.Time{}
	}
	if t, ok := l.last[r]; ok && now.Sub(t) < p.PerReason {
		return false
	}
	keep := l.sent[:0]
	for _, x := range l.sent {
		if now.Sub(x) < p.NodeWindow {
			keep = append(keep, x)
		}
	}
	l.sent = keep
	if len(l.sent) >= p.NodeBurst {
		return false
	}
	l.last[r] = now
	l.sent = append(l.sent, now)
	return true
}
