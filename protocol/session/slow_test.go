package session

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/suite"
)

// avrCost charges a module's modelled costs (docs/protocol.md 1.2) on a simulated clock.
func avrCost(clk clock.Clock, busy *atomic.Int64) CostFunc {
	per := map[suite.Op]time.Duration{suite.OpKeyGen: 3500 * time.Millisecond, suite.OpSign: 3500 * time.Millisecond,
		suite.OpVerify: 7 * time.Second, suite.OpECDH: 3500 * time.Millisecond, suite.OpSealCOSE: 7 * time.Second,
		suite.OpOpenCOSE: 3600 * time.Millisecond, suite.OpHKDF: 35 * time.Millisecond,
		suite.OpAEADBlock: 500 * time.Microsecond, suite.OpHashBlock: 4 * time.Millisecond}
	return func(op suite.Op, n int) {
		d := per[op] * time.Duration(n)
		busy.Add(int64(d))
		_ = clock.Sleep(context.Background(), clk, d)
	}
}

// TestSlowModuleServedDuringCrypto: a module that spends seconds of (simulated) time in each
// P-256 operation still answers the pack's ISO-TP transfers meanwhile, so binding, pairing and
// an L5 command complete without a single transport timeout.
func TestSlowModuleServedDuringCrypto(t *testing.T) {
	sim := clock.NewSim(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	w := newWorld(t, sim)
	stop := make(chan struct{})
	defer close(stop)
	go func() { // simulated time runs 10 times faster than the wall clock
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				sim.Advance(10 * time.Millisecond)
			}
		}
	}()
	var busy atomic.Int64
	pack := w.start(w.identity("PC-0001", message.RolePack, canid.AddrPack), nil, nil)
	module := w.start(w.identity("BM-0001", message.RoleModule, 0x01), nil, func(c *Config) {
		c.Upstream = canid.AddrPack
		c.Cost = avrCost(sim, &busy)
	})
	t0 := sim.Now()
	w.bind(pack, module)
	t1 := sim.Now()
	w.pair(pack, module, nil)
	t2 := sim.Now()
	ack, err := pack.eng.Command(w.ctx, 0x01, chargeCmd())
	if err != nil || ack.Status != message.StatusOK {
		t.Fatalf("command: %v %+v", err, ack)
	}
	t.Logf("simulated: binding %v, pairing %v, command+ACK %v; module busy in crypto %v",
		t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond), sim.Now().Sub(t2).Round(time.Millisecond), time.Duration(busy.Load()))
	for _, n := range []*node{pack, module} {
		if r := nonZero(n.eng.Stats().Rejected); len(r) != 0 {
			t.Fatalf("%s rejected %v", n.cfg.Identity.EntityID, r)
		}
	}
}
