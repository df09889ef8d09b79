package mcu

import (
	"time"

	"github.com/modbatt/hilrun/protocol/suite"
)

// STM32WB55 models the pack controller: STM32WB55RG, Cortex-M4 at 64 MHz, with the PKA
// public-key accelerator, the AES engine (with GCM) and SHA-256 in software.
//
// Sources and reasoning:
//   - P-256 on the PKA: 45 ms per scalar multiplication (key generation, ECDSA signature,
//     ECDH), range 43–48 ms: the project's reference figure for this part (design brief
//     4.6, docs/protocol.md 1.2). The PKA's per-operation timings are tabulated in ST's reference
//     manual RM0434 (STM32WB55xx/35xx, "PKA" chapter, operation computation times); a hardware
//     rig's measurement replaces the value through Profile.With.
//   - ECDSA verification is counted as two scalar multiplications (u1·G + u2·Q): 90 ms
//     (86–96), as docs/protocol.md 1.2 counts it; if the PKA's combined verification measures near
//     one operation, a rig overrides it.
//   - AES-256-GCM in the AES engine: ≈ 2 µs per 16-byte block including register transfers
//     (the engine's 14-round AES-256 takes tens of cycles; data movement at 64 MHz dominates),
//     range 1–4 µs.
//   - SHA-256 in software on the M4: ≈ 30 µs per 64-byte compression (≈ 2000 cycles at
//     64 MHz for a compact C implementation), range 20–40 µs; HKDF ≈ 10 compressions, 0.3 ms.
func STM32WB55() Profile {
	ops := map[suite.Op]Figure{
		suite.OpKeyGen:    {45 * time.Millisecond, 43 * time.Millisecond, 48 * time.Millisecond},
		suite.OpSign:      {45 * time.Millisecond, 43 * time.Millisecond, 48 * time.Millisecond},
		suite.OpVerify:    {90 * time.Millisecond, 86 * time.Millisecond, 96 * time.Millisecond},
		suite.OpECDH:      {45 * time.Millisecond, 43 * time.Millisecond, 48 * time.Millisecond},
		suite.OpHKDF:      {300 * time.Microsecond, 200 * time.Microsecond, 400 * time.Microsecond},
		suite.OpAEADBlock: {2 * time.Microsecond, 1 * time.Microsecond, 4 * time.Microsecond},
		suite.OpHashBlock: {30 * time.Microsecond, 20 * time.Microsecond, 40 * time.Microsecond},
	}
	composite(ops)
	return Profile{Name: "stm32wb55", Part: "STM32WB55RG (Cortex-M4 64 MHz, PKA, AES engine)", Ops: ops}
}

// ATmega64M1 models a battery module: 8-bit AVR at 8 MHz with no crypto hardware, everything
// in software.
//
// Sources and reasoning:
//   - P-256 in software: 3.5 s per scalar multiplication (key generation, signature, ECDH),
//     range 2–5 s: the project's reference figure (design brief 4.6, docs/protocol.md 1.2). Published
//     measurements put it at the upper end: micro-ecc (kmackay/micro-ecc, AVR inline assembly)
//     takes 2.57 s for one secp256r1 uECC_make_key or uECC_shared_secret at its fastest
//     setting (uECC_OPTIMIZATION_LEVEL 3, ≈ 17 KB of code) and 4.3–4.6 s at the smaller
//     settings, on an ATmega328P at 16 MHz, i.e. ≈ 5.1–9.3 s at this part's 8 MHz. A rig that
//     wants the pessimistic bound uses With(op, Figure{Nominal: 5*time.Second, …}).
//   - Verification as two scalar multiplications: 7 s (4–10).
//   - AES-256 in software: 0.2–0.4 ms per block (brief 4.6); an assembly implementation
//     with precomputed round keys (AVR-AES-faster) encrypts an AES-256 block in ≈ 2750–2975
//     cycles, 0.34–0.37 ms at 8 MHz. GHASH with 4-bit tables adds ≈ 0.2 ms per block, so an
//     AES-256-GCM block is charged 0.5 ms (0.4–0.6).
//   - SHA-256 in software: ≈ 4 ms per 64-byte compression (3–5 ms; ≈ 25–40 k cycles at 8 MHz
//     for AVR implementations), HKDF ≈ 9 compressions: 35 ms (25–50).
func ATmega64M1() Profile {
	ops := map[suite.Op]Figure{
		suite.OpKeyGen:    {3500 * time.Millisecond, 2 * time.Second, 5 * time.Second},
		suite.OpSign:      {3500 * time.Millisecond, 2 * time.Second, 5 * time.Second},
		suite.OpVerify:    {7 * time.Second, 4 * time.Second, 10 * time.Second},
		suite.OpECDH:      {3500 * time.Millisecond, 2 * time.Second, 5 * time.Second},
		suite.OpHKDF:      {35 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond},
		suite.OpAEADBlock: {500 * time.Microsecond, 400 * time.Microsecond, 600 * time.Microsecond},
		suite.OpHashBlock: {4 * time.Millisecond, 3 * time.Millisecond, 5 * time.Millisecond},
	}
	composite(ops)
	return Profile{Name: "atmega64m1", Part: "ATmega64M1 (AVR 8 MHz, software crypto)", Ops: ops}
}
