package module

import (
	"math"
	"math/rand/v2"
	"time"
)

// ocvCurve is a generic Li-ion open-circuit voltage over state of charge.
var ocvCurve = [...]struct{ soc, v float64 }{
	{0, 3.00}, {0.05, 3.30}, {0.1, 3.45}, {0.2, 3.55}, {0.5, 3.70}, {0.8, 3.95}, {0.9, 4.05}, {1, 4.20},
}

func ocv(soc float64) float64 {
	soc = math.Max(0, math.Min(1, soc))
	for i := 1; i < len(ocvCurve); i++ {
		a, b := ocvCurve[i-1], ocvCurve[i]
		if soc <= b.soc {
			return a.v + (b.v-a.v)*(soc-a.soc)/(b.soc-a.soc)
		}
	}
	return ocvCurve[len(ocvCurve)-1].v
}

const (
	thermalMassJK = 50    // J/K per cell (an 18650-class cell)
	coolingTau    = 600.0 // s, cell to ambient
	bleedA        = 0.1   // balancing resistor current
	senseNoiseV   = 0.0005
	senseNoiseC   = 0.05
	demandNoiseA  = 0.05
)

// limits is what the pack and the Web4 commands allow the cells.
type limits struct {
	chargeEnable, dischargeEnable bool
	chargeA, dischargeA           float64 // magnitudes
	cellMaxV, cellMinV            float64
	tempMaxC, tempMinC            float64
	currentMaxA                   float64
}

// cells is the seeded model of a module's cell chain. It is owned by the device loop.
type cells struct {
	rng       *rand.Rand
	capAh     float64
	ambient   float64
	soh       float64 // %
	soc       []float64
	r         []float64 // internal resistance, Ω
	temp      []float64 // true temperature, °C
	vRead     []float64 // last readings
	tRead     []float64
	vOffset   []float64 // fault steps
	tOffset   []float64
	dead      []bool
	current   float64 // A, positive charges
	balance   []bool  // cells the balancing may bleed
	balOn     bool
	balTarget float64
	reads     uint64 // chain reads done
	limited   bool   // the last step cut current for a safety limit
}

func newCells(n int, seed uint64, capAh, ambient, soc0, soh float64) *cells {
	c := &cells{rng: rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15)), capAh: capAh, ambient: ambient, soh: soh,
		soc: make([]float64, n), r: make([]float64, n), temp: make([]float64, n), vRead: make([]float64, n),
		tRead: make([]float64, n), vOffset: make([]float64, n), tOffset: make([]float64, n), dead: make([]bool, n),
		balance: make([]bool, n)}
	for i := range n {
		c.soc[i] = math.Max(0, math.Min(1, soc0+(c.rng.Float64()-0.5)*0.02))
		c.r[i] = 0.002 + c.rng.Float64()*0.002
		c.temp[i] = ambient + (c.rng.Float64()-0.5)*1.0
		c.balance[i] = true
	}
	c.read()
	return c
}

// step advances the model by dt with the load's demand, the contactors closed or not, under lim.
func (c *cells) step(dt time.Duration, demandA float64, closed bool, lim limits) {
	s := dt.Seconds()
	i := 0.0
	c.limited = false
	if closed {
		i = demandA + c.rng.NormFloat64()*demandNoiseA
		if demandA == 0 {
			i = 0
		}
		switch {
		case i > 0 && !lim.chargeEnable, i < 0 && !lim.dischargeEnable:
			i = 0
		case i > lim.chargeA:
			i = lim.chargeA
		case i < -lim.dischargeA:
			i = -lim.dischargeA
		}
		if lim.currentMaxA > 0 && math.Abs(i) > lim.currentMaxA {
			i = math.Copysign(lim.currentMaxA, i)
		}
		lo, hi, _ := c.voltStats()
		tlo, thi, _ := c.tempStats()
		if (i > 0 && lim.cellMaxV > 0 && hi >= lim.cellMaxV) || (i < 0 && lim.cellMinV > 0 && lo <= lim.cellMinV) ||
			(lim.tempMaxC != 0 && thi >= lim.tempMaxC) || (lim.tempMinC != 0 && tlo <= lim.tempMinC) {
			i, c.limited = 0, true
		}
	}
	c.current = i
	capAs := c.capAh * 3600 * c.soh / 100
	for k := range c.soc {
		ik := i
		if c.balOn && c.balance[k] && c.vRead[k] > c.balTarget {
			ik -= bleedA
		}
		c.soc[k] = math.Max(0, math.Min(1, c.soc[k]+ik*s/capAs))
		heat := ik * ik * c.r[k]
		c.temp[k] += s * (heat/thermalMassJK - (c.temp[k]-c.ambient)/coolingTau)
	}
	c.read()
}

// read takes one reading of the chain: what the cell boards report.
func (c *cells) read() {
	c.reads++
	for k := range c.soc {
		v := ocv(c.soc[k]) + c.current*c.r[k] + c.rng.NormFloat64()*senseNoiseV + c.vOffset[k]
		t := c.temp[k] + c.rng.NormFloat64()*senseNoiseC + c.tOffset[k]
		if c.dead[k] {
			v = 0
			t = c.tRead[k]
		}
		c.vRead[k] = math.Max(0, math.Min(60, v))
		c.tRead[k] = math.Max(-55, math.Min(500, t))
	}
}

func (c *cells) voltStats() (lo, hi, avg float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range c.vRead {
		lo, hi, avg = math.Min(lo, v), math.Max(hi, v), avg+v
	}
	return lo, hi, avg / float64(len(c.vRead))
}

func (c *cells) tempStats() (lo, hi, avg float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, t := range c.tRead {
		lo, hi, avg = math.Min(lo, t), math.Max(hi, t), avg+t
	}
	return lo, hi, avg / float64(len(c.tRead))
}

func (c *cells) total() float64 {
	s := 0.0
	for _, v := range c.vRead {
		s += v
	}
	return s
}

// socAvg is the module's state of charge in percent.
func (c *cells) socAvg() float64 {
	s := 0.0
	for _, x := range c.soc {
		s += x
	}
	return 100 * s / float64(len(c.soc))
}

func (c *cells) anyDead() bool {
	for _, d := range c.dead {
		if d {
			return true
		}
	}
	return false
}

func (c *cells) firstDead() (int, bool) {
	for k, d := range c.dead {
		if d {
			return k, true
		}
	}
	return 0, false
}
