package mcu

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/suite"
)

// The default profiles must agree with docs/protocol.md 1.2.
func TestProfileTable(t *testing.T) {
	ms := time.Millisecond
	us := time.Microsecond
	cases := []struct {
		profile string
		op      suite.Op
		n       int
		want    time.Duration
	}{
		{"stm32wb55", suite.OpKeyGen, 1, 45 * ms},
		{"stm32wb55", suite.OpSign, 1, 45 * ms},
		{"stm32wb55", suite.OpVerify, 1, 90 * ms},
		{"stm32wb55", suite.OpECDH, 1, 45 * ms},
		{"stm32wb55", suite.OpHKDF, 3, 900 * us},
		{"stm32wb55", suite.OpAEADBlock, 4, 8 * us},
		{"stm32wb55", suite.OpHashBlock, 1, 30 * us},
		{"stm32wb55", suite.OpSealCOSE, 1, 90*ms + 300*us},
		{"stm32wb55", suite.OpOpenCOSE, 1, 45*ms + 300*us},
		{"atmega64m1", suite.OpKeyGen, 1, 3500 * ms},
		{"atmega64m1", suite.OpSign, 1, 3500 * ms},
		{"atmega64m1", suite.OpVerify, 1, 7 * time.Second},
		{"atmega64m1", suite.OpECDH, 1, 3500 * ms},
		{"atmega64m1", suite.OpHKDF, 1, 35 * ms},
		{"atmega64m1", suite.OpAEADBlock, 4, 2 * ms},
		{"atmega64m1", suite.OpHashBlock, 4, 16 * ms},
		{"atmega64m1", suite.OpSealCOSE, 1, 7035 * ms},
		{"atmega64m1", suite.OpOpenCOSE, 1, 3535 * ms},
		{"atmega64m1", suite.OpVerify, 0, 0},
		{"atmega64m1", suite.OpVerify, -3, 0},
		{"zero", suite.OpVerify, 10, 0},
		{"ZERO", suite.OpAEADBlock, 1000, 0},
	}
	for _, c := range cases {
		p, err := ByName(c.profile)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Cost(c.op, c.n); got != c.want {
			t.Errorf("%s %v ×%d = %v, want %v", c.profile, c.op, c.n, got, c.want)
		}
	}
}

func TestEveryProfilePricesEveryOp(t *testing.T) {
	for _, name := range Names() {
		p, _ := ByName(name)
		for _, op := range Ops() {
			f, ok := p.Ops[op]
			if !ok {
				t.Errorf("%s lacks %v", name, op)
				continue
			}
			if f.Low > f.Nominal || f.Nominal > f.High {
				t.Errorf("%s %v: nominal %v outside %v–%v", name, op, f.Nominal, f.Low, f.High)
			}
		}
		if (name == "zero") != p.IsZero() {
			t.Errorf("%s: IsZero %v", name, p.IsZero())
		}
	}
	if _, err := ByName("pic16"); !errors.Is(err, ErrUnknownProfile) {
		t.Fatalf("unknown name: %v", err)
	}
}

func TestHelpers(t *testing.T) {
	p := ATmega64M1()
	// 16-byte command with 20 bytes of AAD: 1 + 2 + 2 blocks.
	if got := p.AEAD(16, 20); got != 5*500*time.Microsecond {
		t.Errorf("AEAD %v", got)
	}
	if got := p.HMAC(32); got != 4*4*time.Millisecond {
		t.Errorf("HMAC %v", got)
	}
	if got := p.CMAC(12); got != 2*500*time.Microsecond {
		t.Errorf("CMAC %v", got)
	}
	if got := p.Cost(suite.OpVerify, math.MaxInt); got != math.MaxInt64 {
		t.Errorf("no saturation: %v", got)
	}
	q := p.With(suite.OpSign, Figure{Nominal: 5 * time.Second, Low: 2 * time.Second, High: 5 * time.Second})
	if q.Cost(suite.OpSign, 1) != 5*time.Second || p.Cost(suite.OpSign, 1) != 3500*time.Millisecond {
		t.Errorf("With changed the original or not the copy")
	}
}

func TestChargeOnSimClock(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sim := clock.NewSim(start)
	var m Meter
	c := Charger{Clock: sim, Profile: STM32WB55(), Meter: &m}
	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		if err := c.Charge(ctx, suite.OpVerify, 1); err != nil {
			done <- err
			return
		}
		if err := c.AEAD(ctx, 16, 20); err != nil {
			done <- err
			return
		}
		done <- c.HMAC(ctx, 32)
	}()
	// Drive the simulation: each charge is one timer that the device waits on.
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if got, want := sim.Now().Sub(start), 90*time.Millisecond+5*2*time.Microsecond+4*30*time.Microsecond; got != want {
				t.Fatalf("simulated time %v, want %v", got, want)
			}
			tallies := m.Tallies()
			want := []Tally{
				{Op: suite.OpVerify, Calls: 1, Units: 1, Total: 90 * time.Millisecond},
				{Op: suite.OpAEADBlock, Calls: 1, Units: 5, Total: 10 * time.Microsecond},
				{Op: suite.OpHashBlock, Calls: 1, Units: 4, Total: 120 * time.Microsecond},
			}
			if len(tallies) != len(want) {
				t.Fatalf("tallies %+v", tallies)
			}
			for i := range want {
				if tallies[i] != want[i] {
					t.Errorf("tally %d: %+v, want %+v", i, tallies[i], want[i])
				}
			}
			if m.Total() != 90*time.Millisecond+130*time.Microsecond {
				t.Errorf("total %v", m.Total())
			}
			if got := m.Reset(); len(got) != 3 || m.Total() != 0 {
				t.Errorf("reset: %v, total after %v", got, m.Total())
			}
			return
		default:
		}
		if sim.Pending() > 0 {
			sim.AdvanceToNext()
		} else {
			time.Sleep(100 * time.Microsecond)
		}
	}
}

func TestChargeZeroAndErrors(t *testing.T) {
	sim := clock.NewSim(time.Unix(0, 0))
	ctx := context.Background()
	// The zero profile never creates a timer, so nothing waits on a simulation nobody drives.
	if err := Charge(ctx, sim, Zero(), suite.OpVerify, 100); err != nil {
		t.Fatal(err)
	}
	if sim.Pending() != 0 {
		t.Fatal("zero profile armed a timer")
	}
	if err := Charge(ctx, sim, Profile{Name: "empty"}, suite.OpSign, 1); !errors.Is(err, ErrUnknownOp) {
		t.Fatalf("unpriced op: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := Charge(cctx, sim, ATmega64M1(), suite.OpSign, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if err := Charge(ctx, clock.Real{}, STM32WB55(), suite.OpAEADBlock, 1); err != nil {
		t.Fatal(err)
	}
}

func TestOverride(t *testing.T) {
	p, err := STM32WB55().Override(map[string]time.Duration{"verify": 46 * time.Millisecond, "ECDH": 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		op   suite.Op
		want time.Duration
	}{
		{suite.OpVerify, 46 * time.Millisecond},
		{suite.OpECDH, 40 * time.Millisecond},
		{suite.OpSign, 45 * time.Millisecond},
		{suite.OpOpenCOSE, 40*time.Millisecond + 300*time.Microsecond},
		{suite.OpSealCOSE, 85*time.Millisecond + 300*time.Microsecond},
	}
	for _, c := range cases {
		if got := p.Cost(c.op, 1); got != c.want {
			t.Errorf("%v: %v, want %v", c.op, got, c.want)
		}
	}
	if STM32WB55().Cost(suite.OpVerify, 1) != 90*time.Millisecond {
		t.Error("override leaked into the default profile")
	}
	q, err := Zero().Override(map[string]time.Duration{"seal-cose": time.Second})
	if err != nil || q.Cost(suite.OpSealCOSE, 1) != time.Second {
		t.Errorf("explicit composite: %v %v", q.Cost(suite.OpSealCOSE, 1), err)
	}
	if _, err := Zero().Override(map[string]time.Duration{"rsa": 1}); !errors.Is(err, ErrUnknownOp) {
		t.Errorf("unknown op: %v", err)
	}
	if _, err := Zero().Override(map[string]time.Duration{"sign": -1}); err == nil {
		t.Error("negative cost accepted")
	}
	for _, op := range Ops() {
		if got, err := ParseOp(op.String()); err != nil || got != op {
			t.Errorf("ParseOp(%q) = %v, %v", op, got, err)
		}
	}
}
