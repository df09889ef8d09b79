package session

import (
	"errors"
	"fmt"
)

// Errors of the engine. Rejections of input wrap one of them and are counted per Cause.
var (
	ErrClosed        = errors.New("session: engine stopped")
	ErrUnknownPeer   = errors.New("session: no link to this peer")
	ErrNotBound      = errors.New("session: link is not bound")
	ErrNotPaired     = errors.New("session: link is not paired")
	ErrWrongLevel    = errors.New("session: key level does not match the message type")
	ErrBelowPolicy   = errors.New("session: message below the protection its policy requires")
	ErrNotAllowed    = errors.New("session: the pairing's policy does not allow this class")
	ErrUnsynced      = errors.New("session: replay window not synchronised (L4 handshake pending)")
	ErrAckTimeout    = errors.New("session: no ACK in time")
	ErrPairingState  = errors.New("session: pairing message out of order")
	ErrPairingRefuse = errors.New("session: pairing refused")
	ErrRevoked       = errors.New("session: pairing or binding revoked")
	ErrKeyLost       = errors.New("session: binding key lost")
	ErrRateLimited   = errors.New("session: escalation rate-limited")
	ErrQueueFull     = errors.New("session: input queue full")
)

// Cause names a kind of rejected input; Stats counts rejections by cause.
type Cause string

// Causes of rejection.
const (
	CauseNotWeb4     Cause = "not-web4"     // identifier failed canid.Decode
	CauseTransport   Cause = "transport"    // ISO-TP reception failure
	CauseWrongLevel  Cause = "wrong-level"  // encrypted bit or key level not the type's
	CauseUnknownPeer Cause = "unknown-peer" // no link to the source
	CauseNotBound    Cause = "not-bound"    // protected message on a link without binding
	CauseNotPaired   Cause = "not-paired"   // pairing-level message on a link without pairing
	CauseAuth        Cause = "auth"         // tag, MAC or KID did not verify
	CauseReplay      Cause = "replay"       // duplicate counter
	CauseStale       Cause = "stale"        // counter older than the window
	CauseUnsynced    Cause = "unsynced"     // window waits for an L4 handshake
	CauseMalformed   Cause = "malformed"    // structure did not decode or validate
	CauseClockSkew   Cause = "clock-skew"   // timestamp beyond ±5 min
	CauseBelowPolicy Cause = "below-policy" // weaker protection than the policy's
	CausePairing     Cause = "pairing"      // pairing material refused
	CauseBinding     Cause = "binding"      // binding record refused
	CauseLockedOut   Cause = "locked-out"   // single-frame telemetry source locked out
	CauseUnexpected  Cause = "unexpected"   // valid but unsolicited (an ACK nobody waits for)
	CauseOverload    Cause = "overload"     // input or event queue full
)

// RejectError is a rejection of one received message.
type RejectError struct {
	Cause Cause
	Peer  uint8
	Err   error
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("session: rejected from %#02x (%s): %v", e.Peer, e.Cause, e.Err)
}

func (e *RejectError) Unwrap() error { return e.Err }
