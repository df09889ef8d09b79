package message

import (
	"crypto/subtle"
	"time"
	"unicode/utf8"
)

// checker collects the first semantic failure of one structure.
type checker struct {
	name string
	err  error
}

func (c *checker) fail(field string, key int64, err error, format string, args ...any) {
	if c.err == nil {
		c.err = fieldErr(c.name, field, key, err, format, args...)
	}
}

func (c *checker) version(v uint8) {
	if v != Version1 {
		c.fail("V", 0, ErrVersion, "version %d, want %d", v, Version1)
	}
}

func (c *checker) size(field string, key int64, b []byte, n int) {
	if len(b) != n {
		c.fail(field, key, ErrSize, "%d bytes, want %d", len(b), n)
	}
}

func (c *checker) text(field string, key int64, s string, required bool) {
	switch {
	case len(s) > maxText:
		c.fail(field, key, ErrSize, "%d bytes, limit %d", len(s), maxText)
	case required && s == "":
		c.fail(field, key, ErrMissingField, "empty")
	case !utf8.ValidString(s):
		c.fail(field, key, ErrInvalid, "not UTF-8")
	}
}

func (c *checker) check(ok bool, field string, key int64, format string, args ...any) {
	if !ok {
		c.fail(field, key, ErrInvalid, format, args...)
	}
}

func (c *checker) time(field string, key int64, t int64) {
	if t <= 0 {
		c.fail(field, key, ErrInvalid, "time %d not positive", t)
	}
}

// MaxSkew is the clock skew every time check tolerates.
const MaxSkew = 5 * time.Minute

// CheckValidity checks now against a validity window, tolerating MaxSkew on both ends.
func CheckValidity(now time.Time, validFrom, expiresAt int64) error {
	from, until := time.Unix(validFrom, 0), time.Unix(expiresAt, 0)
	if d := from.Sub(now) - MaxSkew; d > 0 {
		return &TimeError{Kind: ErrNotYetValid, By: d}
	}
	if d := now.Sub(until) - MaxSkew; d > 0 {
		return &TimeError{Kind: ErrExpired, By: d}
	}
	return nil
}

// CheckFreshness checks that a timestamp is within MaxSkew of now, either way.
func CheckFreshness(now time.Time, at int64) error {
	d := now.Sub(time.Unix(at, 0))
	if d < 0 {
		d = -d
	}
	if d > MaxSkew {
		return &TimeError{Kind: ErrClockSkew, By: d - MaxSkew}
	}
	return nil
}

// Unix converts a time to the catalogue's NumericDate (whole seconds since the epoch).
func Unix(t time.Time) int64 { return t.Unix() }

// equalBytes compares in constant time; used for every secret-derived comparison.
func equalBytes(a, b []byte) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare(a, b) == 1
}
