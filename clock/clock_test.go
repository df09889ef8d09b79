package clock

import (
	"context"
	"testing"
	"time"
)

func TestSimFiresInOrder(t *testing.T) {
	s := NewSim(time.Unix(1700000000, 0))
	a := s.NewTimer(30 * time.Millisecond)
	b := s.NewTimer(10 * time.Millisecond)
	s.Advance(20 * time.Millisecond)
	select {
	case got := <-b.C():
		if want := time.Unix(1700000000, 0).Add(10 * time.Millisecond); !got.Equal(want) {
			t.Fatalf("b fired at %v, want %v", got, want)
		}
	default:
		t.Fatal("b did not fire")
	}
	select {
	case <-a.C():
		t.Fatal("a fired early")
	default:
	}
	if d, ok := s.AdvanceToNext(); !ok || d != 10*time.Millisecond {
		t.Fatalf("AdvanceToNext = %v, %v", d, ok)
	}
	<-a.C()
	if s.Pending() != 0 {
		t.Fatalf("pending %d", s.Pending())
	}
}

func TestSimStopAndReset(t *testing.T) {
	s := NewSim(time.Time{})
	tm := s.NewTimer(time.Second)
	if !tm.Stop() {
		t.Fatal("Stop on armed timer returned false")
	}
	s.Advance(2 * time.Second)
	select {
	case <-tm.C():
		t.Fatal("stopped timer fired")
	default:
	}
	tm.Reset(time.Second)
	s.Advance(time.Second)
	<-tm.C()
}

func TestSleepHonoursContext(t *testing.T) {
	s := NewSim(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, s, time.Hour); err == nil {
		t.Fatal("want context error")
	}
}
