// Package freshness keeps Web4 messages fresh: per-direction 64-bit counters that are never
// reused across resets (Counter, persisted through a Store in reserved blocks), the receiver's
// sliding replay window (Window), and single-frame telemetry authenticated with a truncated
// AES-CMAC over the identifier, the full counter and the payload (Signer, Verifier), with a
// failure counter that locks out and asks for escalation (Guard).
package freshness
