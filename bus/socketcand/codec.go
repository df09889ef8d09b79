package socketcand

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/modbatt/hilrun/bus"
)

// Errors callers tell apart with errors.Is.
var (
	// ErrMalformed is wrapped by every *ElementError.
	ErrMalformed = errors.New("socketcand: malformed element")
	// ErrGarbage means bytes outside any element, or an element too long to be one: the
	// stream cannot be trusted any more.
	ErrGarbage = errors.New("socketcand: garbage on the stream")
)

// ElementError reports an element that does not follow the protocol.
type ElementError struct {
	Element string // cut to 80 bytes
	Reason  string
}

func (e *ElementError) Error() string {
	return fmt.Sprintf("socketcand: malformed element %q: %s", e.Element, e.Reason)
}

func (e *ElementError) Unwrap() error { return ErrMalformed }

func elemErr(elem []byte, format string, args ...any) *ElementError {
	if len(elem) > 80 {
		elem = elem[:80]
	}
	return &ElementError{Element: string(elem), Reason: fmt.Sprintf(format, args...)}
}

// Kind is what an element says.
type Kind uint8

// Elements. The first group comes from the server, the second from the client.
const (
	KindHi      Kind = iota + 1 // < hi >
	KindOK                      // < ok >
	KindError                   // < error TEXT >
	KindEcho                    // < echo >, either way
	KindFrame                   // < frame … >, < rtr … >, < fdframe … >
	KindOpen                    // < open BUS >
	KindRawMode                 // < rawmode >
	KindBCMMode                 // < bcmmode >
	KindSend                    // < send … >, < sendrtr … >, < fdsend … >
	KindOther                   // any other well-formed element, Text holds its words
)

// Message is one parsed element.
type Message struct {
	Kind  Kind
	Frame bus.Frame // KindFrame, KindSend
	Time  time.Time // KindFrame
	Text  string    // KindOpen: the bus name; KindError: the text; KindOther: the words
}

// MaxElement is the longest element accepted: an fdsend of 64 bytes written with spaces.
const MaxElement = 512

// Parse parses one element, brackets included.
func Parse(elem []byte) (Message, error) {
	if len(elem) < 2 || elem[0] != '<' || elem[len(elem)-1] != '>' {
		return Message{}, elemErr(elem, "not enclosed in < >")
	}
	words := bytes.Fields(elem[1 : len(elem)-1])
	if len(words) == 0 {
		return Message{}, elemErr(elem, "empty")
	}
	for _, w := range words {
		for _, c := range w {
			if c < 0x21 || c > 0x7E || c == '<' || c == '>' {
				return Message{}, elemErr(elem, "non-printable or bracket character")
			}
		}
	}
	args := words[1:]
	noArgs := func(k Kind) (Message, error) {
		if len(args) != 0 {
			return Message{}, elemErr(elem, "%s takes no arguments", words[0])
		}
		return Message{Kind: k}, nil
	}
	switch string(words[0]) {
	case "hi":
		return noArgs(KindHi)
	case "ok":
		return noArgs(KindOK)
	case "echo":
		return noArgs(KindEcho)
	case "rawmode":
		return noArgs(KindRawMode)
	case "bcmmode":
		return noArgs(KindBCMMode)
	case "error":
		return Message{Kind: KindError, Text: string(bytes.Join(args, []byte(" ")))}, nil
	case "open":
		if len(args) != 1 || len(args[0]) > 16 {
			return Message{}, elemErr(elem, "open takes one bus name of at most 16 characters")
		}
		return Message{Kind: KindOpen, Text: string(args[0])}, nil
	case "send", "sendrtr", "fdsend":
		f, err := parseSend(string(words[0]), args)
		if err != "" {
			return Message{}, elemErr(elem, "%s", err)
		}
		return Message{Kind: KindSend, Frame: f}, nil
	case "frame", "rtr", "fdframe":
		f, t, err := parseFrame(string(words[0]), args)
		if err != "" {
			return Message{}, elemErr(elem, "%s", err)
		}
		return Message{Kind: KindFrame, Frame: f, Time: t}, nil
	}
	return Message{Kind: KindOther, Text: string(bytes.Join(words, []byte(" ")))}, nil
}

// parseID reads a hex identifier; see the package doc for how the format is decided.
func parseID(w []byte) (id uint32, ext bool, err string) {
	if len(w) == 0 || len(w) > 8 {
		return 0, false, "identifier must have 1 to 8 hex digits"
	}
	v, perr := strconv.ParseUint(string(w), 16, 32)
	if perr != nil {
		return 0, false, "identifier is not hex"
	}
	ext = len(w) == 8 || v > bus.MaxStandardID
	if ext && v > bus.MaxExtendedID {
		return 0, false, "identifier wider than 29 bits"
	}
	return uint32(v), ext, ""
}

func parseDec(w []byte, max int) (int, bool) {
	if len(w) == 0 || len(w) > 3 {
		return 0, false
	}
	n := 0
	for _, c := range w {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= max
}

func parseFlags(w []byte, f *bus.Frame) string {
	if len(w) == 0 || len(w) > 2 {
		return "flags must be 1 or 2 hex digits"
	}
	v, err := strconv.ParseUint(string(w), 16, 8)
	if err != nil || v&^0x07 != 0 {
		return "flags must be hex with only BRS (1), ESI (2) and FDF (4)"
	}
	f.FD, f.BRS, f.ESI = true, v&1 != 0, v&2 != 0
	return ""
}

func parseSend(word string, args [][]byte) (f bus.Frame, err string) {
	if len(args) < 2 {
		return f, word + " needs an identifier and a length"
	}
	f.ID, f.Extended, err = parseID(args[0])
	if err != "" {
		return f, err
	}
	args = args[1:]
	switch word {
	case "sendrtr":
		n, ok := parseDec(args[0], bus.MaxClassicLen)
		if !ok || len(args) != 1 {
			return f, "sendrtr takes a DLC of 0 to 8 and nothing after it"
		}
		f.Remote, f.Len = true, uint8(n)
		return f, ""
	case "fdsend":
		if err := parseFlags(args[0], &f); err != "" {
			return f, err
		}
		if args = args[1:]; len(args) == 0 {
			return f, "fdsend needs a length"
		}
	}
	max := bus.MaxClassicLen
	if f.FD {
		max = bus.MaxFDLen
	}
	n, ok := parseDec(args[0], max)
	if !ok {
		return f, fmt.Sprintf("length must be decimal 0 to %d", max)
	}
	if f.FD {
		if _, ok := bus.FDLenToDLC(n); !ok {
			return f, fmt.Sprintf("%d is not a CAN FD length", n)
		}
	}
	data := args[1:]
	if len(data) != n {
		return f, fmt.Sprintf("length %d but %d data bytes", n, len(data))
	}
	for i, w := range data {
		if len(w) > 2 {
			return f, "a data byte is 1 or 2 hex digits"
		}
		v, perr := strconv.ParseUint(string(w), 16, 8)
		if perr != nil {
			return f, "a data byte is 1 or 2 hex digits"
		}
		f.Data[i] = byte(v)
	}
	f.Len = uint8(n)
	return f, ""
}

func parseFrame(word string, args [][]byte) (f bus.Frame, t time.Time, err string) {
	if len(args) < 2 {
		return f, t, word + " needs an identifier and a time"
	}
	f.ID, f.Extended, err = parseID(args[0])
	if err != "" {
		return f, t, err
	}
	args = args[1:]
	if word == "fdframe" {
		if err := parseFlags(args[0], &f); err != "" {
			return f, t, err
		}
		if args = args[1:]; len(args) == 0 {
			return f, t, "fdframe needs a time"
		}
	}
	if t, err = parseTime(args[0]); err != "" {
		return f, t, err
	}
	args = args[1:]
	if word == "rtr" {
		n, ok := parseDec(bytes.Join(args, nil), bus.MaxClassicLen)
		if !ok || len(args) != 1 {
			return f, t, "rtr takes a DLC of 0 to 8"
		}
		f.Remote, f.Len = true, uint8(n)
		return f, t, ""
	}
	// Data is written as one run of hex digits; spaced bytes are read too.
	hex := bytes.Join(args, nil)
	max := bus.MaxClassicLen
	if f.FD {
		max = bus.MaxFDLen
	}
	if len(hex)%2 != 0 || len(hex)/2 > max {
		return f, t, fmt.Sprintf("data must be whole bytes, at most %d", max)
	}
	n := len(hex) / 2
	if f.FD {
		if _, ok := bus.FDLenToDLC(n); !ok {
			return f, t, fmt.Sprintf("%d is not a CAN FD length", n)
		}
	}
	for i := range n {
		v, perr := strconv.ParseUint(string(hex[2*i:2*i+2]), 16, 8)
		if perr != nil {
			return f, t, "data is not hex"
		}
		f.Data[i] = byte(v)
	}
	f.Len = uint8(n)
	return f, t, ""
}

func parseTime(w []byte) (time.Time, string) {
	sec, frac, ok := bytes.Cut(w, []byte("."))
	if !ok || len(sec) == 0 || len(sec) > 12 || len(frac) == 0 || len(frac) > 9 {
		return time.Time{}, "time must be SECONDS.FRACTION"
	}
	s, err1 := strconv.ParseUint(string(sec), 10, 64)
	ns, err2 := strconv.ParseUint(string(frac), 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, "time must be decimal"
	}
	for i := len(frac); i < 9; i++ {
		ns *= 10
	}
	return time.Unix(int64(s), int64(ns)), ""
}

const hexUpper = "0123456789ABCDEF"

func appendHex(dst []byte, v uint32, digits int) []byte {
	for i := digits - 1; i >= 0; i-- {
		dst = append(dst, hexUpper[(v>>(4*uint(i)))&0xF])
	}
	return dst
}

func appendID(dst []byte, f *bus.Frame) []byte {
	if f.Extended {
		return appendHex(dst, f.ID, 8)
	}
	return appendHex(dst, f.ID, 3)
}

// appendTime writes SECONDS.USECONDS.
func appendTime(dst []byte, t time.Time) []byte {
	us := max(t.UnixMicro(), 0) // socketcand has no sign
	dst = strconv.AppendInt(dst, us/1e6, 10)
	frac := us % 1e6
	dst = append(dst, '.')
	for d := int64(100000); d > 0; d /= 10 {
		dst = append(dst, byte('0'+frac/d%10))
	}
	return dst
}

func fdFlags(f *bus.Frame) int {
	v := 0x04 // FDF, as SocketCAN's canfd_frame flags carry it
	if f.BRS {
		v |= 0x01
	}
	if f.ESI {
		v |= 0x02
	}
	return v
}

// Append writes m as an element. KindFrame and KindSend need a valid frame; KindOther writes
// Text as the words.
func Append(dst []byte, m *Message) ([]byte, error) {
	switch m.Kind {
	case KindFrame, KindSend:
		if err := m.Frame.Validate(); err != nil {
			return dst, err
		}
	}
	f := &m.Frame
	switch m.Kind {
	case KindHi:
		return append(dst, "< hi >"...), nil
	case KindOK:
		return append(dst, "< ok >"...), nil
	case KindEcho:
		return append(dst, "< echo >"...), nil
	case KindRawMode:
		return append(dst, "< rawmode >"...), nil
	case KindBCMMode:
		return append(dst, "< bcmmode >"...), nil
	case KindError, KindOpen, KindOther:
		if bytes.ContainsAny([]byte(m.Text), "<>\r\n") {
			return dst, elemErr([]byte(m.Text), "text may not contain brackets or line breaks")
		}
		w := map[Kind]string{KindError: "< error ", KindOpen: "< open ", KindOther: "< "}[m.Kind]
		return append(append(append(dst, w...), m.Text...), " >"...), nil
	case KindSend:
		switch {
		case f.Remote:
			dst = appendID(append(dst, "< sendrtr "...), f)
			return fmt.Appendf(dst, " %d >", f.Len), nil
		case f.FD:
			dst = appendID(append(dst, "< fdsend "...), f)
			dst = fmt.Appendf(dst, " %X %d", fdFlags(f), f.Len)
		default:
			dst = appendID(append(dst, "< send "...), f)
			dst = fmt.Appendf(dst, " %d", f.Len)
		}
		for _, b := range f.Payload() {
			dst = append(dst, ' ', hexUpper[b>>4], hexUpper[b&0xF])
		}
		return append(dst, " >"...), nil
	case KindFrame:
		switch {
		case f.Remote:
			dst = appendID(append(dst, "< rtr "...), f)
			dst = appendTime(append(dst, ' '), m.Time)
			dst = strconv.AppendUint(append(dst, ' '), uint64(f.Len), 10)
			return append(dst, " >"...), nil
		case f.FD:
			dst = appendID(append(dst, "< fdframe "...), f)
			dst = appendHex(append(dst, ' '), uint32(fdFlags(f)), 2)
			dst = append(appendTime(append(dst, ' '), m.Time), ' ')
		default:
			dst = appendID(append(dst, "< frame "...), f)
			dst = append(appendTime(append(dst, ' '), m.Time), ' ')
		}
		for _, b := range f.Payload() {
			dst = append(dst, hexUpper[b>>4], hexUpper[b&0xF])
		}
		return append(dst, " >"...), nil
	}
	return dst, fmt.Errorf("socketcand: cannot write message kind %d", m.Kind)
}

// Splitter cuts a byte stream into elements. Whitespace between elements is skipped; anything
// else outside an element, or an element longer than MaxElement, is ErrGarbage.
type Splitter struct {
	buf []byte
	off int
}

// Feed appends bytes read from the stream.
func (s *Splitter) Feed(p []byte) {
	if s.off > 0 {
		s.buf = append(s.buf[:0], s.buf[s.off:]...)
		s.off = 0
	}
	s.buf = append(s.buf, p...)
}

// Partial reports whether an element has begun but not ended.
func (s *Splitter) Partial() bool {
	for _, c := range s.buf[s.off:] {
		if !isSpace(c) {
			return true
		}
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// Next returns the next complete element (valid until the next Feed). ok is false when more
// input is needed.
func (s *Splitter) Next() (elem []byte, ok bool, err error) {
	rest := s.buf[s.off:]
	i := 0
	for i < len(rest) && isSpace(rest[i]) {
		i++
	}
	s.off += i
	rest = rest[i:]
	if len(rest) == 0 {
		return nil, false, nil
	}
	if rest[0] != '<' {
		return nil, false, fmt.Errorf("%w: byte 0x%02X outside an element", ErrGarbage, rest[0])
	}
	end := bytes.IndexByte(rest, '>')
	if end < 0 {
		if len(rest) > MaxElement {
			return nil, false, fmt.Errorf("%w: element longer than %d bytes", ErrGarbage, MaxElement)
		}
		return nil, false, nil
	}
	if end+1 > MaxElement {
		return nil, false, fmt.Errorf("%w: element longer than %d bytes", ErrGarbage, MaxElement)
	}
	s.off += end + 1
	return rest[:end+1], true, nil
}
