package clock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/modbatt/hilrun/clock"
)

func TestRetry(t *testing.T) {
	sim := clock.NewSim(time.Unix(1700000000, 0))
	start := sim.Now()
	var at []time.Duration
	fail := errors.New("lost")
	done := make(chan error, 1)
	go func() {
		done <- clock.Retry(context.Background(), sim, 4, time.Second, func(context.Context) error {
			at = append(at, sim.Now().Sub(start))
			if len(at) < 3 {
				return fail
			}
			return nil
		})
	}()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			want := []time.Duration{0, time.Second, 3 * time.Second}
			if len(at) != len(want) {
				t.Fatalf("calls at %v, want %v", at, want)
			}
			for i := range want {
				if at[i] != want[i] {
					t.Fatalf("calls at %v, want %v", at, want)
				}
			}
			return
		default:
			sim.AdvanceToNext()
			time.Sleep(time.Millisecond)
		}
	}
}

func TestRetryGivesUp(t *testing.T) {
	n := 0
	fail := errors.New("lost")
	err := clock.Retry(context.Background(), clock.Real{}, 3, time.Microsecond, func(context.Context) error { n++; return fail })
	if !errors.Is(err, fail) || n != 3 {
		t.Errorf("err %v after %d calls, want the last error after 3", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := clock.Retry(ctx, clock.Real{}, 3, time.Hour, func(context.Context) error { return fail }); !errors.Is(err, fail) && !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
