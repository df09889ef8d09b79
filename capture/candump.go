package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/modbatt/hilrun/bus"
)

// The candump log format, one record per line:
//
//	(1700000000.123456) vcan0 12345678#1122334455667788
//	(1700000000.123500) vcan0 123#R4
//	(1700000000.123600) vcan0 123##1AABBCCDDEEFF0011
//	(1700000000.123700) vcan0 20000080#0000000000000000
//
// An identifier of 1–3 hex digits is standard, of 4–8 extended; one with CAN_ERR_FLAG
// (0x20000000) is an error record. After the last '#' of an FD frame comes one hex digit of flags
// (1 BRS, 2 ESI; the FDF bit 4 that newer tools add is accepted and ignored). python-can appends
// a direction field (R or T); the reader accepts it.

const (
	canErrFlag      = 0x20000000
	canEffFlag      = 0x80000000
	canRtrFlag      = 0x40000000
	canErrMask      = 0x1FFFFFFF
	maxLine         = 4096
	errTextLimit    = 80
	canErrDataBytes = 8
)

// CandumpWriter writes a candump log. Timestamps are written to the microsecond (truncated),
// as candump does; times before 1970 are written as 0.
type CandumpWriter struct {
	mu  sync.Mutex
	w   *bufio.Writer
	own closer
	buf []byte
}

// NewCandumpWriter returns a Writer that writes a candump log to w. Close flushes but does not
// close w.
func NewCandumpWriter(w io.Writer) *CandumpWriter { return newCandumpWriter(w, nil) }

func newCandumpWriter(w io.Writer, c io.Closer) *CandumpWriter {
	return &CandumpWriter{w: bufio.NewWriterSize(w, 64<<10), own: closer{c}}
}

// Write records a frame.
func (cw *CandumpWriter) Write(iface string, r bus.Received) error {
	return cw.WriteRecord(Record{Iface: iface, Received: r})
}

// WriteRecord records a frame or an error record.
func (cw *CandumpWriter) WriteRecord(rec Record) error {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	line, err := AppendCandump(cw.buf[:0], rec)
	if err != nil {
		return err
	}
	cw.buf = line
	_, err = cw.w.Write(line)
	return err
}

// AppendCandump appends rec as one candump log line (with its newline) to dst.
func AppendCandump(dst []byte, rec Record) ([]byte, error) {
	if err := checkIface(rec.Iface); err != nil {
		return dst, err
	}
	f := &rec.Frame
	if rec.Error {
		if f.ID > canErrMask || f.Len > canErrDataBytes {
			return dst, fmt.Errorf("%w: error record with class 0x%X and %d bytes", ErrBadFrame, f.ID, f.Len)
		}
	} else if err := f.Validate(); err != nil {
		return dst, fmt.Errorf("%w: %w", ErrBadFrame, err)
	}
	sec, ns := epoch(rec.Time)
	dst = append(dst, '(')
	dst = strconv.AppendInt(dst, sec, 10)
	dst = append(dst, '.')
	us := ns / 1e3
	dst = append(dst, byte('0'+us/100000), byte('0'+us/10000%10), byte('0'+us/1000%10),
		byte('0'+us/100%10), byte('0'+us/10%10), byte('0'+us%10))
	dst = append(dst, ") "...)
	dst = append(dst, rec.Iface...)
	dst = append(dst, ' ')
	switch {
	case rec.Error:
		dst = appendHexID(dst, canErrFlag|f.ID, 8)
		dst = append(dst, '#')
	case f.Extended:
		dst = appendHexID(dst, f.ID, 8)
		dst = append(dst, '#')
	default:
		dst = appendHexID(dst, f.ID, 3)
		dst = append(dst, '#')
	}
	switch {
	case f.Remote:
		dst = append(dst, 'R')
		if f.Len > 0 {
			dst = append(dst, '0'+f.Len)
		}
	case f.FD:
		flags := byte(0)
		if f.BRS {
			flags |= 1
		}
		if f.ESI {
			flags |= 2
		}
		dst = append(dst, '#', "0123456789ABCDEF"[flags])
		fallthrough
	default:
		dst = appendUpperHex(dst, f.Payload())
	}
	return append(dst, '\n'), nil
}

func appendHexID(dst []byte, id uint32, digits int) []byte {
	for i := digits - 1; i >= 0; i-- {
		dst = append(dst, "0123456789ABCDEF"[id>>(4*uint(i))&0xF])
	}
	return dst
}

func appendUpperHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&0xF])
	}
	return dst
}

// Flush writes buffered lines.
func (cw *CandumpWriter) Flush() error {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	return cw.w.Flush()
}

// Close flushes and closes the file the writer owns.
func (cw *CandumpWriter) Close() error {
	err := cw.Flush()
	if cerr := cw.own.close(); err == nil {
		err = cerr
	}
	return err
}

// CandumpReader streams the records of a candump log. Blank lines are skipped; a bad line is
// reported as a *LineError and reading goes on with the next line.
type CandumpReader struct {
	r     *bufio.Reader
	own   closer
	line  int
	iface string // last interface name, reused to spare an allocation per line
}

// NewCandumpReader returns a reader of the candump log in r. Close does not close r.
func NewCandumpReader(r io.Reader) *CandumpReader { return newCandumpReader(r, nil) }

func newCandumpReader(r io.Reader, c io.Closer) *CandumpReader {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < maxLine {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &CandumpReader{r: br, own: closer{c}}
}

// Next returns the next record, io.EOF at the end of the log, or a *LineError.
func (cr *CandumpReader) Next() (Record, error) {
	for {
		raw, err := cr.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(raw) > maxLine {
			cr.line++
			text := string(raw[:errTextLimit])
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = cr.r.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return Record{}, err
			}
			return Record{}, &LineError{Line: cr.line, Text: text, Err: fmt.Errorf("%w: line longer than %d bytes", ErrSyntax, maxLine)}
		}
		if len(raw) == 0 && err != nil {
			return Record{}, err
		}
		if err != nil && err != io.EOF {
			return Record{}, err
		}
		cr.line++
		line := bytes.TrimRight(raw, " \t\r\n")
		if len(bytes.TrimLeft(line, " \t")) == 0 {
			if err == io.EOF {
				return Record{}, io.EOF
			}
			continue
		}
		rec, perr := parseCandumpLine(line, cr.iface)
		if perr != nil {
			text := line
			if len(text) > errTextLimit {
				text = text[:errTextLimit]
			}
			return Record{}, &LineError{Line: cr.line, Text: string(text), Err: perr}
		}
		cr.iface = rec.Iface
		return rec, nil
	}
}

// Close closes the file the reader owns.
func (cr *CandumpReader) Close() error { return cr.own.close() }

// ParseCandumpLine parses one candump log line (without its line ending). Errors wrap ErrSyntax
// or ErrBadFrame.
func ParseCandumpLine(line []byte) (Record, error) { return parseCandumpLine(line, "") }

// parseCandumpLine reuses prevIface when the line names the same interface, which saves an
// allocation per line of a long log.
func parseCandumpLine(line []byte, prevIface string) (Record, error) {
	var rec Record
	var buf [4][]byte
	fields, ok := splitFields(line, buf[:0])
	if !ok || len(fields) < 3 {
		return rec, fmt.Errorf("%w: want \"(time) iface frame\"", ErrSyntax)
	}
	if len(fields) == 4 {
		if d := fields[3]; len(d) != 1 || (d[0]|0x20 != 'r' && d[0]|0x20 != 't') {
			return rec, fmt.Errorf("%w: direction %q is not R or T", ErrSyntax, d)
		}
	}
	t, err := parseTimestamp(fields[0])
	if err != nil {
		return rec, err
	}
	rec.Time = t
	rec.Iface = prevIface
	if string(fields[1]) != prevIface {
		rec.Iface = string(fields[1])
	}
	if err := checkIface(rec.Iface); err != nil {
		return rec, fmt.Errorf("%w: %w", ErrSyntax, err)
	}
	if err := parseFrame(fields[2], &rec); err != nil {
		return Record{}, err
	}
	return rec, nil
}

// splitFields splits line at runs of ASCII blanks into at most cap(dst) fields; ok is false when
// there are more.
func splitFields(line []byte, dst [][]byte) ([][]byte, bool) {
	isBlank := func(c byte) bool { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' }
	for i := 0; i < len(line); {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		j := i
		for j < len(line) && !isBlank(line[j]) {
			j++
		}
		if len(dst) == cap(dst) {
			return dst, false
		}
		dst = append(dst, line[i:j])
		i = j
	}
	return dst, true
}

func parseTimestamp(b []byte) (time.Time, error) {
	bad := func(why string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("%w: timestamp %q: %s", ErrSyntax, b, why)
	}
	if len(b) < 3 || b[0] != '(' || b[len(b)-1] != ')' {
		return bad("want (seconds.fraction)")
	}
	body := b[1 : len(b)-1]
	secPart, fracPart, hasFrac := bytes.Cut(body, []byte{'.'})
	if len(secPart) == 0 || len(secPart) > 12 || !allDigits(secPart) {
		return bad("seconds are not 1–12 decimal digits")
	}
	if hasFrac && (len(fracPart) == 0 || len(fracPart) > 9 || !allDigits(fracPart)) {
		return bad("fraction is not 1–9 decimal digits")
	}
	sec, _ := strconv.ParseInt(string(secPart), 10, 64)
	var ns int64
	for i := 0; i < 9; i++ {
		ns *= 10
		if i < len(fracPart) {
			ns += int64(fracPart[i] - '0')
		}
	}
	return time.Unix(sec, ns).UTC(), nil
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func parseFrame(b []byte, rec *Record) error {
	bad := func(kind error, why string) error { return fmt.Errorf("%w: frame %q: %s", kind, b, why) }
	idPart, rest, ok := bytes.Cut(b, []byte{'#'})
	if !ok {
		return bad(ErrSyntax, "no '#'")
	}
	if len(idPart) == 0 || len(idPart) > 8 {
		return bad(ErrSyntax, "identifier is not 1–8 hex digits")
	}
	id64, err := strconv.ParseUint(string(idPart), 16, 32)
	if err != nil {
		return bad(ErrSyntax, "identifier is not hexadecimal")
	}
	id := uint32(id64)
	f := &rec.Frame
	if id&canErrFlag != 0 {
		if id&(canEffFlag|canRtrFlag) != 0 {
			return bad(ErrBadFrame, "error flag combined with EFF/RTR flags")
		}
		n, err := parseHexData(f.Data[:], rest, canErrDataBytes)
		if err != nil {
			return bad(ErrSyntax, err.Error())
		}
		rec.Error = true
		f.ID = id & canErrMask
		f.Len = uint8(n)
		return nil
	}
	f.ID = id
	f.Extended = len(idPart) > 3
	if len(rest) > 1 && rest[0] == '#' && rest[1] == '#' {
		return bad(ErrSyntax, "CAN XL frames are not supported")
	}
	if len(rest) > 0 && rest[0] == '#' {
		if len(rest) < 2 {
			return bad(ErrSyntax, "FD frame without its flags digit")
		}
		flags, ok := hexNibble(rest[1])
		if !ok {
			return bad(ErrSyntax, "FD flags are not a hex digit")
		}
		n, err := parseHexData(f.Data[:], rest[2:], bus.MaxFDLen)
		if err != nil {
			return bad(ErrSyntax, err.Error())
		}
		f.FD, f.BRS, f.ESI = true, flags&1 != 0, flags&2 != 0
		f.Len = uint8(n)
	} else if len(rest) > 0 && rest[0]|0x20 == 'r' {
		f.Remote = true
		switch len(rest) {
		case 1:
		case 2:
			if rest[1] < '0' || rest[1] > '8' {
				return bad(ErrSyntax, "remote length is not 0–8")
			}
			f.Len = rest[1] - '0'
		default:
			return bad(ErrSyntax, "remote frame with data")
		}
	} else {
		// can-utils writes a raw DLC 9–15 of an 8-byte classic frame as a "_X" suffix.
		if i := bytes.IndexByte(rest, '_'); i >= 0 {
			if n, ok := hexNibble(lastByte(rest)); !ok || i != len(rest)-2 || n < 9 {
				return bad(ErrSyntax, "bad _DLC suffix")
			}
			rest = rest[:i]
			if len(bytes.ReplaceAll(rest, []byte{'.'}, nil)) != 16 {
				return bad(ErrSyntax, "_DLC suffix on a frame of fewer than 8 bytes")
			}
		}
		n, err := parseHexData(f.Data[:], rest, bus.MaxClassicLen)
		if err != nil {
			return bad(ErrSyntax, err.Error())
		}
		f.Len = uint8(n)
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadFrame, err)
	}
	return nil
}

func lastByte(b []byte) byte { return b[len(b)-1] }

func hexNibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseHexData decodes pairs of hex digits into dst, optionally separated by '.' as cansend
// allows, and returns how many bytes it wrote.
func parseHexData(dst []byte, b []byte, limit int) (int, error) {
	n := 0
	for i := 0; i < len(b); {
		if b[i] == '.' {
			i++
			continue
		}
		if i+1 >= len(b) {
			return 0, errors.New("odd number of hex digits")
		}
		hi, ok1 := hexNibble(b[i])
		lo, ok2 := hexNibble(b[i+1])
		if !ok1 || !ok2 {
			return 0, errors.New("data is not hexadecimal")
		}
		if n == limit {
			return 0, fmt.Errorf("more than %d data bytes", limit)
		}
		dst[n] = hi<<4 | lo
		n++
		i += 2
	}
	return n, nil
}
