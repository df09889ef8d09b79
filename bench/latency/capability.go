package latency

import (
	"time"

	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/protocol/suite"
)

// Step is one kind of crypto operation an operation performs on its critical path.
type Step struct {
	Role  string   // app, pack or module
	Op    suite.Op //
	Units int      // how many
}

// Model is what the capability map says an operation needs at least, for an operation whose
// samples carry no operation counts (a hardware rig, or a suite that does not meter compute).
type Model struct {
	Steps  []Step
	Floor  time.Duration // wire floor at 500 kbit/s classic, worst-case stuffing (docs/protocol.md 7.1)
	Frames int           // frames behind Floor
	Basis  string        // where the list comes from
}

// CapabilityMap returns the critical-path operations of each budgeted operation (or
// operation/variant where a variant differs from its operation), from
// docs/protocol.md 1.3 and 8.2. Compute on different devices is counted one after the other: in these
// flows each side waits for the other's message before it computes. The app and the authority
// run on a host CPU whose compute is measured, not modelled, so they carry no steps.
func CapabilityMap() map[string]Model {
	ms := time.Millisecond
	s := func(role string, op suite.Op, n int) Step { return Step{role, op, n} }
	return map[string]Model{
		"l3-handshake": {
			Steps: []Step{s(RolePack, suite.OpVerify, 1), s(RolePack, suite.OpSign, 1)},
			Floor: 15680 * time.Microsecond, Frames: 49,
			Basis: "spec 8.2: the pack verifies the app's hello and signs its reply",
		},
		"l4-handshake": {
			Steps: []Step{s(RolePack, suite.OpAEADBlock, 12), s(RoleModule, suite.OpAEADBlock, 12)},
			Floor: 8 * ms, Frames: 25,
			Basis: "spec 1.3: paired handshake under the pairing key, AEAD blocks only",
		},
		"l5-command-ack": {
			Steps: []Step{s(RolePack, suite.OpAEADBlock, 12), s(RoleModule, suite.OpAEADBlock, 12)},
			Floor: 6400 * time.Microsecond, Frames: 20,
			Basis: "spec 8.2: the module opens the command (≈ 5 blocks) and seals the ACK (≈ 7 blocks); the pack likewise",
		},
		"l5-telemetry": {
			Steps: []Step{s(RoleModule, suite.OpAEADBlock, 6), s(RolePack, suite.OpAEADBlock, 6)},
			Floor: 3520 * time.Microsecond, Frames: 11,
			Basis: "spec 8.2: the module seals a 64-byte telemetry envelope (≈ 6 blocks), the pack opens it",
		},
		"l5-telemetry/short": {
			Steps: []Step{s(RoleModule, suite.OpAEADBlock, 2), s(RolePack, suite.OpAEADBlock, 4)},
			Floor: 640 * time.Microsecond, Frames: 2,
			Basis: "spec 1.3, 6.5: the module's truncated CMAC over one frame (2 blocks), the pack checks it and MACs the relay (2 + 2 blocks); one frame on each bus",
		},
		"l6-validation": {
			Steps: []Step{
				s(RoleModule, suite.OpHKDF, 1), s(RoleModule, suite.OpHashBlock, 4),
				s(RolePack, suite.OpSign, 1), s(RolePack, suite.OpVerify, 1),
			},
			Floor: 25600 * time.Microsecond, Frames: 80,
			Basis: "spec 8.2: module completion MAC, pack signature, pack verifies the authority's result",
		},
		"l7-validation": {
			Steps: []Step{s(RolePack, suite.OpSign, 1), s(RolePack, suite.OpVerify, 1)},
			Floor: 9280 * time.Microsecond, Frames: 29,
			Basis: "spec 1.3: the pack signs the binding validation and verifies the authority's record",
		},
		"binding-pack": {
			Steps: []Step{
				s(RolePack, suite.OpKeyGen, 1), s(RolePack, suite.OpVerify, 1),
				s(RolePack, suite.OpECDH, 1), s(RolePack, suite.OpHKDF, 2),
			},
			Basis: "spec 1.3: key pair, verification of the binding record, binding secret and keys",
		},
		"binding-module": {
			Steps: []Step{
				s(RoleModule, suite.OpKeyGen, 1), s(RoleModule, suite.OpVerify, 1),
				s(RoleModule, suite.OpECDH, 1), s(RoleModule, suite.OpHKDF, 2),
			},
			Basis: "spec 1.3: key pair, verification of the binding record, binding secret and keys",
		},
		"pairing-module": {
			Steps: []Step{
				s(RoleModule, suite.OpVerify, 1), s(RoleModule, suite.OpOpenCOSE, 1), s(RoleModule, suite.OpHKDF, 5),
				s(RoleModule, suite.OpHashBlock, 4),
				s(RolePack, suite.OpVerify, 1), s(RolePack, suite.OpOpenCOSE, 1), s(RolePack, suite.OpHKDF, 5),
				s(RolePack, suite.OpSign, 1),
			},
			Basis: "spec 1.3: certificate verification, own sealed section, handshake and pairing keys, completion proofs",
		},
		"key-loss-recovery": {
			Steps: []Step{
				s(RoleModule, suite.OpKeyGen, 1), s(RoleModule, suite.OpVerify, 2), s(RoleModule, suite.OpECDH, 1),
				s(RoleModule, suite.OpSign, 1), s(RoleModule, suite.OpOpenCOSE, 1), s(RoleModule, suite.OpHKDF, 7),
			},
			Basis: "spec 1.3: a module re-binds (key pair, verification, ECDH, L7 signature) and re-pairs once",
		},
		"poll-cycle": {
			Steps: []Step{s(RoleModule, suite.OpAEADBlock, 6), s(RolePack, suite.OpAEADBlock, 6)},
			Floor: 3520 * time.Microsecond, Frames: 11,
			Basis: "one module's telemetry record; modules answer one after another, so a cycle is at least one",
		},
		"poll-slot": {
			Floor: 1600 * time.Microsecond, Frames: 5,
			Basis: "legacy poll, no crypto: a status request and the four answers (0x502, 0x503, 0x504, 0x507), extended frames of at most 8 bytes",
		},
	}
}

// DefaultSilicon is the real part behind each role (docs/protocol.md 1.1).
func DefaultSilicon() map[string]mcu.Profile {
	return map[string]mcu.Profile{RolePack: mcu.STM32WB55(), RoleModule: mcu.ATmega64M1()}
}
