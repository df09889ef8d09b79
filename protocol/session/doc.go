// Package session is the Web4 link engine of one node on one bus: it keeps a link per peer
// (the pack has one to the app on CAN1 and one per module on CAN2; a module and the app each
// have one to the pack) and runs, over the ISO-TP engine of protocol/isotp, everything
// docs/protocol.md asks of a link: the binding (own key pair, the partner's semi-public key from the
// authority's binding record, the binding secret computed once and stored, the binding-level
// channel), the pairing handshake (certificate, key-half exchange, pairing keys, completion,
// the 30 s partial-pairing timeout; a certificate delivered again makes the node send again
// the handshake messages it sent, for whoever drives the pairing and lost one), L5 commands
// with their ACKs, telemetry protected as the pairing's policy says (AEAD envelopes or single
// frames with a truncated MAC), L1 announces
// including key loss, escalation requests with their triggers and rate limits, and the
// rejection of malformed, replayed, wrongly levelled or tampered input with per-cause counters.
//
// The engine reads no clock and no randomness of its own: both come from its Config, as do
// its storage (named records; counters reserved in blocks so no nonce repeats after a reset)
// and a hook that charges the modelled cost of each cryptographic operation. One goroutine
// (Run) owns all state; the other methods are safe for concurrent use and talk to it. The
// device or app layer learns what happened from typed events (Events).
package session
