package slcan

import (
	"errors"
	"fmt"
)

// Errors callers tell apart with errors.Is.
var (
	// ErrMalformed is wrapped by every *LineError.
	ErrMalformed = errors.New("slcan: malformed line")
	// ErrDevice means the adapter answered a command with BEL.
	ErrDevice = errors.New("slcan: adapter refused the command")
	// ErrNoReply means the adapter did not answer a command in time.
	ErrNoReply = errors.New("slcan: no reply from the adapter")
)

// LineError reports a line that does not follow the protocol.
type LineError struct {
	Line   string // the offending line, cut to 64 bytes
	Reason string
}

func (e *LineError) Error() string {
	return fmt.Sprintf("slcan: malformed line %q: %s", e.Line, e.Reason)
}

func (e *LineError) Unwrap() error { return ErrMalformed }

func lineErr(line []byte, format string, args ...any) *LineError {
	if len(line) > 64 {
		line = line[:64]
	}
	return &LineError{Line: string(line), Reason: fmt.Sprintf(format, args...)}
}
