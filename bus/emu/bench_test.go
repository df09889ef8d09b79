package emu

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/internal/peers"
)

var benchFrame = ext(0x18FF0001, 0, 1, 2, 3, 4, 5, 6, 7)

// receiveAll takes n frames (or frames counted as dropped) from ep.
func receiveAll(b *testing.B, ep bus.Endpoint, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for got := 0; got+int(ep.Stats().RxDropped) < n; got++ {
		if _, err := ep.Receive(ctx); err != nil {
			b.Fatalf("after %d frames: %v", got, err)
		}
	}
}

func reportRate(b *testing.B, frames int, dropped uint64) {
	b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(float64(dropped), "dropped")
}

// BenchmarkInProcess is the emulated bus's throughput in as-fast-as-possible pacing: one
// sender, one receiver, in one process.
func BenchmarkInProcess(b *testing.B) {
	bb, err := New(Config{Pacing: AsFastAsPossible, RxQueue: 1 << 14})
	if err != nil {
		b.Fatal(err)
	}
	defer bb.Close()
	tx, rx := bb.Join("tx"), bb.Join("rx")
	b.ResetTimer()
	go func() {
		for range b.N {
			if tx.Send(context.Background(), benchFrame) != nil {
				return
			}
		}
	}()
	receiveAll(b, rx, b.N)
	reportRate(b, b.N, rx.Stats().RxDropped)
}

// BenchmarkSocket is the throughput over the framed socket protocol, with the client in the
// benchmark's process and in a child process.
func BenchmarkSocket(b *testing.B) {
	for _, dir := range []string{"to-client", "from-client"} {
		b.Run("same-process/"+dir, func(b *testing.B) { benchSocket(b, dir, false) })
		b.Run("cross-process/"+dir, func(b *testing.B) { benchSocket(b, dir, true) })
	}
}

func benchSocket(b *testing.B, dir string, child bool) {
	bb, err := New(Config{Pacing: AsFastAsPossible, RxQueue: 1 << 14})
	if err != nil {
		b.Fatal(err)
	}
	defer bb.Close()
	_, addr := serve(b, bb, Framed)
	local := bb.Join("local")
	var wait func() error
	var childOut strings.Builder
	var remote bus.Endpoint
	if child {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBenchChild$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("EMU_BENCH_CHILD=%s,%s,%d", addr, dir, b.N))
		cmd.Stderr = os.Stderr
		cmd.Stdout = &childOut
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		wait = cmd.Wait
	} else {
		c := dial(b, addr, "client")
		remote = c
	}
	deadline := time.Now().Add(10 * time.Second)
	for bb.Endpoints() < 2 {
		if time.Now().After(deadline) {
			b.Fatal("client did not join")
		}
		time.Sleep(time.Millisecond)
	}
	b.ResetTimer()
	var dropped uint64
	switch dir {
	case "to-client":
		// Frames the client's server-side queue could not hold are dropped (and counted) by
		// the server, so the receiving side reports what it got over its own span.
		var got int
		var span time.Duration
		if !child {
			go func() {
				for range b.N {
					local.Send(context.Background(), benchFrame)
				}
			}()
			got, span = drain(remote, b.N)
		} else {
			for range b.N {
				local.Send(context.Background(), benchFrame)
			}
			if err := wait(); err != nil {
				b.Fatal(err)
			}
			fmt.Sscan(childOut.String(), &got, &span)
		}
		b.ReportMetric(float64(got)/span.Seconds(), "frames/s")
		b.ReportMetric(float64(b.N-got), "dropped")
		return
	case "from-client":
		if !child {
			go func() {
				for range b.N {
					remote.Send(context.Background(), benchFrame)
				}
			}()
		} else {
			local.Send(context.Background(), std(0x1)) // go
		}
		receiveAll(b, local, b.N)
		dropped = local.Stats().RxDropped
		if child {
			if err := wait(); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportRate(b, b.N, dropped)
}

// drain receives up to n frames, stopping after 300 ms without one; it returns how many came
// and the time from the first to the last.
func drain(ep bus.Endpoint, n int) (int, time.Duration) {
	var first, last time.Time
	got := 0
	for got < n {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := ep.Receive(ctx)
		cancel()
		if err != nil {
			break
		}
		last = time.Now()
		if got == 0 {
			first = last
		}
		got++
	}
	return got, max(last.Sub(first), time.Nanosecond)
}

// TestBenchChild is the child process of BenchmarkSocket/cross-process; it does nothing
// unless EMU_BENCH_CHILD is set.
func TestBenchChild(t *testing.T) {
	spec := os.Getenv("EMU_BENCH_CHILD")
	if spec == "" {
		t.Skip("only run by BenchmarkSocket")
	}
	parts := strings.Split(spec, ",")
	n, _ := strconv.Atoi(parts[2])
	c := dial(t, parts[0], "child")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	switch parts[1] {
	case "to-client":
		got, span := drain(c, n)
		fmt.Println(got, int64(span))
	case "from-client":
		if _, err := c.Receive(ctx); err != nil {
			t.Fatal(err)
		}
		for range n {
			if err := c.Send(ctx, benchFrame); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// BenchmarkPythonCanVirtual measures python-can's virtual bus as a reference beside the
// emulated bus (frames/s; one fixed run of 20000 frames whatever b.N is).
func BenchmarkPythonCanVirtual(b *testing.B) {
	py := peers.PythonCan(b)
	const n = 20000
	b.ResetTimer()
	var fps float64
	for range b.N {
		out, err := exec.Command(py, "testdata/pycan_virtual.py", strconv.Itoa(n)).CombinedOutput()
		if err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		f := strings.Fields(string(out))
		if len(f) != 2 || f[0] != "frames_per_second" {
			b.Fatalf("unexpected output %q", out)
		}
		fps, _ = strconv.ParseFloat(f[1], 64)
	}
	b.ReportMetric(fps, "frames/s")
}

// BenchmarkRealtimeFidelity measures how closely real-time pacing spaces back-to-back extended
// 8-byte frames at 500 kbit/s (320 µs each, worst-case stuffing) as a receiver sees them on the
// wall clock: median and 99th percentile of |spacing − wire time|, and the mean drift. b.N is
// the number of frames (use -benchtime 3000x).
func BenchmarkRealtimeFidelity(b *testing.B) {
	for _, spin := range []time.Duration{0, 2 * time.Millisecond} {
		b.Run("spin="+spin.String(), func(b *testing.B) {
			bb, err := New(Config{Spin: spin, TxQueue: 256})
			if err != nil {
				b.Fatal(err)
			}
			defer bb.Close()
			tx, rx := bb.Join("tx"), bb.Join("rx")
			f := benchFrame
			want := bus.Timing{Nominal: 500_000}.Duration(&f, bus.WorstCase)
			n := max(b.N, 50)
			go func() {
				for range n {
					if tx.Send(context.Background(), f) != nil {
						return
					}
				}
			}()
			ctx := context.Background()
			arrivals := make([]time.Time, 0, n)
			for range n {
				if _, err := rx.Receive(ctx); err != nil {
					b.Fatal(err)
				}
				arrivals = append(arrivals, time.Now())
			}
			// The first frames wait for the sender goroutine to fill the queue; skip them.
			arrivals = arrivals[10:]
			errs := make([]float64, 0, len(arrivals)-1)
			for i := 1; i < len(arrivals); i++ {
				errs = append(errs, math.Abs(float64(arrivals[i].Sub(arrivals[i-1])-want)))
			}
			slices.Sort(errs)
			q := func(p float64) float64 { return errs[int(p*float64(len(errs)-1))] / 1e3 }
			drift := float64(arrivals[len(arrivals)-1].Sub(arrivals[0]))/float64(len(arrivals)-1) - float64(want)
			b.ReportMetric(q(0.5), "median-err-µs")
			b.ReportMetric(q(0.99), "p99-err-µs")
			b.ReportMetric(drift, "drift-ns/frame")
			b.Logf("%d frames of %v: |spacing error| median %.1f µs, p99 %.1f µs, max %.1f µs; mean drift %.1f ns/frame",
				len(errs), want, q(0.5), q(0.99), errs[len(errs)-1]/1e3, drift)
		})
	}
}
