package isotp

import (
	"errors"
	"fmt"

	"github.com/modbatt/hilrun/protocol/canid"
)

// Sentinel errors. Errors from a Node wrap one of them (often inside an *Error that names the
// session's identifier), so callers test with errors.Is.
var (
	ErrNotAddressed      = errors.New("isotp: frame is not an ISO-TP frame for this node")
	ErrInvalidFrame      = errors.New("isotp: malformed frame ignored")
	ErrUnexpectedCF      = errors.New("isotp: consecutive frame with no reception in progress")
	ErrUnexpectedFC      = errors.New("isotp: flow control with no transmission waiting for it")
	ErrWrongSequence     = errors.New("isotp: wrong sequence number")
	ErrTooLarge          = errors.New("isotp: message larger than the limit")
	ErrTooManySessions   = errors.New("isotp: too many concurrent sessions")
	ErrReplaced          = errors.New("isotp: reception replaced by a new message from the same sender")
	ErrTimeoutAs         = errors.New("isotp: N_As timeout (frame not sent in time)")
	ErrTimeoutAr         = errors.New("isotp: N_Ar timeout (flow control not sent in time)")
	ErrTimeoutBs         = errors.New("isotp: N_Bs timeout (no flow control)")
	ErrTimeoutCr         = errors.New("isotp: N_Cr timeout (no consecutive frame)")
	ErrWaitLimit         = errors.New("isotp: more WAIT flow controls than N_WFTmax")
	ErrOverflow          = errors.New("isotp: receiver refused the message (flow status OVFLW)")
	ErrInvalidFlowStatus = errors.New("isotp: reserved flow status")
	ErrBusy              = errors.New("isotp: a transmission to this destination and type is in progress")
	ErrFunctional        = errors.New("isotp: broadcast messages must fit a single frame")
	ErrEmpty             = errors.New("isotp: empty message")
	ErrAddress           = errors.New("isotp: message source is not this node")
)

// Error is a failure tied to one session, named by the identifier of its data frames.
type Error struct {
	ID     canid.ID
	Err    error // a sentinel above
	Detail string
	Cause  error // the transport's error behind an N_As or N_Ar failure, if any
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%v (%v)", e.Err, e.ID)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap exposes both the sentinel and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// SequenceError is a consecutive frame whose sequence number is not the expected one; it ends
// the reception (ISO 15765-2 N_WRONG_SN).
type SequenceError struct {
	ID        canid.ID
	Want, Got uint8
}

func (e *SequenceError) Error() string {
	kind := "out of order or lost frames"
	if e.Duplicate() {
		kind = "duplicate frame"
	}
	return fmt.Sprintf("%v (%v): want SN %X, got %X: %s", ErrWrongSequence, e.ID, e.Want, e.Got, kind)
}

func (e *SequenceError) Unwrap() error { return ErrWrongSequence }

// Duplicate reports whether the frame repeats the previous sequence number.
func (e *SequenceError) Duplicate() bool { return e.Got == (e.Want-1)&0x0F }

// Skipped returns how many sequence numbers were jumped over (mod 16), 0 for a duplicate.
func (e *SequenceError) Skipped() int {
	if e.Duplicate() {
		return 0
	}
	return int((e.Got - e.Want) & 0x0F)
}
