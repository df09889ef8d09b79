// Package mcu models what a cryptographic operation costs on the microcontroller of each
// Modbatt device, so emulated devices can spend that time on their own clock and emulated
// latency predicts hardware latency (docs/protocol.md 1.2).
//
// A Profile maps each suite.Op to a modelled duration (a nominal value and the published
// range it was taken from). Charge waits the modelled time on a device's clock.Clock: under
// clock.Real it sleeps, under clock.Sim it waits for the simulation to advance and costs no
// real time. A Meter adds up the modelled compute per operation for the performance report.
// Zero charges nothing, so a run with it measures the software alone.
package mcu

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/modbatt/hilrun/protocol/suite"
)

// ErrUnknownProfile is returned by ByName for a name it does not know.
var ErrUnknownProfile = errors.New("mcu: unknown profile")

// ErrUnknownOp is returned when a profile has no figure for an operation.
var ErrUnknownOp = errors.New("mcu: operation not in profile")

// Figure is the modelled duration of one operation: the value charged (Nominal) and the range
// the sources give (Low–High), kept so reports can show how far the model may be off.
type Figure struct {
	Nominal   time.Duration
	Low, High time.Duration
}

// Profile is a device's cost model. Its Ops map is not shared between profiles returned by
// this package, so a caller may adjust a copy (With) without touching anyone else's.
type Profile struct {
	Name string
	Part string // the part it models, for reports
	Ops  map[suite.Op]Figure
}

// Ops lists every operation a profile prices, in enum order.
func Ops() []suite.Op {
	return []suite.Op{suite.OpKeyGen, suite.OpSign, suite.OpVerify, suite.OpECDH, suite.OpSealCOSE,
		suite.OpOpenCOSE, suite.OpHKDF, suite.OpAEADBlock, suite.OpHashBlock}
}

// Cost is the modelled duration of n operations op; 0 for n ≤ 0 or an operation the profile
// does not price. It saturates instead of overflowing.
func (p Profile) Cost(op suite.Op, n int) time.Duration {
	f, ok := p.Ops[op]
	if !ok || n <= 0 || f.Nominal <= 0 {
		return 0
	}
	if int64(n) > math.MaxInt64/int64(f.Nominal) {
		return math.MaxInt64
	}
	return f.Nominal * time.Duration(n)
}

// AEAD is the cost of AES-256-GCM over a message of plaintextLen bytes with aadLen bytes of
// authenticated data (suite.AEADBlocks blocks).
func (p Profile) AEAD(plaintextLen, aadLen int) time.Duration {
	return p.Cost(suite.OpAEADBlock, suite.AEADBlocks(plaintextLen, aadLen))
}

// HMAC is the cost of HMAC-SHA256 over n bytes (suite.HashBlocks compressions).
func (p Profile) HMAC(n int) time.Duration {
	return p.Cost(suite.OpHashBlock, suite.HashBlocks(n))
}

// CMAC is the cost of AES-CMAC over n bytes: one block per 16 bytes, plus one for the subkey.
func (p Profile) CMAC(n int) time.Duration {
	if n < 0 {
		n = 0
	}
	return p.Cost(suite.OpAEADBlock, (n+15)/16+1)
}

// With returns a copy of p whose op costs f (a rig file's measured value).
func (p Profile) With(op suite.Op, f Figure) Profile {
	ops := make(map[suite.Op]Figure, len(p.Ops)+1)
	for k, v := range p.Ops {
		ops[k] = v
	}
	ops[op] = f
	p.Ops = ops
	return p
}

// IsZero reports whether the profile charges nothing at all.
func (p Profile) IsZero() bool {
	for _, f := range p.Ops {
		if f.Nominal > 0 {
			return false
		}
	}
	return true
}

// String names the profile.
func (p Profile) String() string { return p.Name }

// composite fills OpSealCOSE and OpOpenCOSE from their parts, as suite's Op doc defines them:
// the fixed part only; the AEAD blocks of the sealed content are charged separately.
func composite(ops map[suite.Op]Figure) {
	sum := func(parts ...suite.Op) Figure {
		var f Figure
		for _, o := range parts {
			f.Nominal += ops[o].Nominal
			f.Low += ops[o].Low
			f.High += ops[o].High
		}
		return f
	}
	ops[suite.OpSealCOSE] = sum(suite.OpKeyGen, suite.OpECDH, suite.OpHKDF)
	ops[suite.OpOpenCOSE] = sum(suite.OpECDH, suite.OpHKDF)
}

// ByName returns a profile by its name in a rig file: "stm32wb55", "atmega64m1" or "zero"
// (case-insensitive).
func ByName(name string) (Profile, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "stm32wb55":
		return STM32WB55(), nil
	case "atmega64m1":
		return ATmega64M1(), nil
	case "zero":
		return Zero(), nil
	}
	return Profile{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownProfile, name, strings.Join(Names(), ", "))
}

// Names lists the profiles ByName knows.
func Names() []string {
	n := []string{"stm32wb55", "atmega64m1", "zero"}
	sort.Strings(n)
	return n
}

// Zero charges nothing: a run with it measures the software alone.
func Zero() Profile {
	ops := make(map[suite.Op]Figure)
	for _, o := range Ops() {
		ops[o] = Figure{}
	}
	return Profile{Name: "zero", Part: "none (software only)", Ops: ops}
}

// ParseOp returns the operation named as suite.Op's String does ("sign", "aead-block" …), for
// rig files that override a profile's figures.
func ParseOp(name string) (suite.Op, error) {
	for _, o := range Ops() {
		if o.String() == strings.ToLower(strings.TrimSpace(name)) {
			return o, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownOp, name)
}

// Override returns a copy of p with the nominal costs given by operation name (a rig file's
// measured values; the range becomes the measured point). The composite COSE operations are
// recomputed from their parts unless they are overridden themselves.
func (p Profile) Override(costs map[string]time.Duration) (Profile, error) {
	ops := make(map[suite.Op]Figure, len(p.Ops))
	for k, v := range p.Ops {
		ops[k] = v
	}
	set := make(map[suite.Op]bool, len(costs))
	for name, d := range costs {
		op, err := ParseOp(name)
		if err != nil {
			return Profile{}, err
		}
		if d < 0 {
			return Profile{}, fmt.Errorf("mcu: negative cost %v for %s", d, name)
		}
		ops[op] = Figure{Nominal: d, Low: d, High: d}
		set[op] = true
	}
	seal, open := ops[suite.OpSealCOSE], ops[suite.OpOpenCOSE]
	composite(ops)
	if set[suite.OpSealCOSE] {
		ops[suite.OpSealCOSE] = seal
	}
	if set[suite.OpOpenCOSE] {
		ops[suite.OpOpenCOSE] = open
	}
	p.Ops = ops
	return p, nil
}
