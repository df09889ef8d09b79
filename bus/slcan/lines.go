package slcan

import "bytes"

// Token is one unit of an slcan byte stream: a line that ended in CR, or a BEL.
type Token struct {
	Line []byte // without its terminator; valid until the next Feed
	Bell bool   // the token is a BEL (Line holds any bytes that preceded it)
}

// Splitter reassembles tokens from a byte stream read in arbitrary pieces. Line feeds at the
// start of a line are skipped, so adapters that end lines with CR LF work too. A line longer
// than MaxLine is discarded up to its terminator and reported once.
type Splitter struct {
	buf     []byte
	off     int  // start of the unconsumed bytes
	discard bool // inside an overlong line
	bell    bool // a BEL ended the overlong line just reported
}

// Feed appends bytes read from the stream.
func (s *Splitter) Feed(p []byte) {
	if s.off > 0 && s.off == len(s.buf) {
		s.buf, s.off = s.buf[:0], 0
	} else if s.off > 4096 {
		s.buf = append(s.buf[:0], s.buf[s.off:]...)
		s.off = 0
	}
	s.buf = append(s.buf, p...)
}

// Reset drops everything buffered.
func (s *Splitter) Reset() { s.buf, s.off, s.discard, s.bell = s.buf[:0], 0, false, false }

// Next returns the next token. ok is false when more input is needed. When err is not nil (a
// *LineError for an overlong line) ok is true and there is no token; a BEL that ended the
// overlong line comes as the next token.
func (s *Splitter) Next() (tok Token, ok bool, err error) {
	if s.bell {
		s.bell = false
		return Token{Bell: true}, true, nil
	}
	rest := s.buf[s.off:]
	for !s.discard && len(rest) > 0 && rest[0] == '\n' {
		rest = rest[1:]
		s.off++
	}
	i := bytes.IndexAny(rest, "\r\a")
	if i < 0 {
		if len(rest) > MaxLine {
			// Keep nothing of an overlong line; report it when its end arrives.
			s.discard = true
			s.off += len(rest)
		}
		return Token{}, false, nil
	}
	line := rest[:i]
	bell := rest[i] == BEL
	s.off += i + 1
	if s.discard || len(line) > MaxLine {
		s.discard = false
		s.bell = bell
		return Token{}, true, lineErr(line, "line longer than %d bytes", MaxLine)
	}
	return Token{Line: line, Bell: bell}, true, nil
}
