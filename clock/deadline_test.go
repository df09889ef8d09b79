package clock

import (
	"testing"
	"time"
)

func TestDeadlineFollowsAMovingDeadline(t *testing.T) {
	s := NewSim(time.Unix(0, 0))
	d := NewDeadline(s)
	defer d.Stop()
	if c := d.C(time.Time{}, false); c != nil {
		t.Fatal("no deadline: want a nil channel")
	}
	at := s.Now().Add(10 * time.Millisecond)
	c := d.C(at, true)
	if d.C(at, true) != c || s.Pending() != 1 {
		t.Fatal("the same deadline re-armed the timer")
	}
	later := s.Now().Add(20 * time.Millisecond)
	c = d.C(later, true)
	s.Advance(15 * time.Millisecond)
	select {
	case <-c:
		t.Fatal("fired at the old deadline")
	default:
	}
	s.Advance(5 * time.Millisecond)
	<-c
	d.Fired()
	if d.C(time.Time{}, false) != nil || s.Pending() != 0 {
		t.Fatal("disarming left a timer pending")
	}
}
