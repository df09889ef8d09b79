// Package capture writes and reads bus captures in the two formats the field's tools open:
// the can-utils candump log format (`candump -L`, read by python-can and can-utils' canplayer) and
// libpcap's classic pcap with LINKTYPE_CAN_SOCKETCAN (227, read by Wireshark and tshark).
//
// A Writer takes frames as a transport or the emulated bus sees them; a Reader streams them back
// as Records. Create and Open pick the format from the file name's extension (.log or .pcap);
// Open also recognises a pcap file by its magic whatever its name.
package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/modbatt/hilrun/bus"
)

// Record is one entry of a capture: a frame seen on an interface at a time, or an error frame a
// CAN controller reported. For an error record Frame.ID holds the error class bits (SocketCAN's
// CAN_ERR_* values, without CAN_ERR_FLAG), Frame.Len and Frame.Data the 8 detail bytes, and the
// other flags are false.
type Record struct {
	Iface string
	bus.Received
	Error bool
}

// Writer records frames to a capture file. Implementations are safe for concurrent use, so every
// endpoint of a bus may write to one Writer.
type Writer interface {
	// Write records a frame received (or sent) on iface.
	Write(iface string, r bus.Received) error
	// WriteRecord records a frame or an error record.
	WriteRecord(rec Record) error
	// Flush pushes buffered records to the file.
	Flush() error
	// Close flushes and closes the underlying file (when the Writer owns one).
	Close() error
}

// Reader streams the records of a capture. Next returns io.EOF at the end. After an error that
// wraps ErrBadRecord, Next may be called again: the reader resumes with the next record when it
// can and returns io.EOF when the file's framing is lost.
type Reader interface {
	Next() (Record, error)
	Close() error
}

// Format is a capture file format.
type Format int

const (
	FormatUnknown Format = iota
	FormatCandump        // can-utils candump log (.log)
	FormatPcap           // classic pcap, LINKTYPE_CAN_SOCKETCAN (.pcap)
)

func (f Format) String() string {
	switch f {
	case FormatCandump:
		return "candump"
	case FormatPcap:
		return "pcap"
	}
	return "unknown"
}

// FormatOf returns the format a file name's extension asks for.
func FormatOf(path string) Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".log":
		return FormatCandump
	case ".pcap":
		return FormatPcap
	}
	return FormatUnknown
}

// Errors shared by the formats. Every error about the content of a file wraps ErrBadRecord.
var (
	ErrBadRecord     = errors.New("capture: bad record")
	ErrSyntax        = fmt.Errorf("%w: syntax", ErrBadRecord)
	ErrBadFrame      = fmt.Errorf("%w: invalid frame", ErrBadRecord)
	ErrBadMagic      = fmt.Errorf("%w: not a pcap file (bad magic)", ErrBadRecord)
	ErrLinkType      = fmt.Errorf("%w: pcap link type is not LINKTYPE_CAN_SOCKETCAN (227)", ErrBadRecord)
	ErrTruncated     = fmt.Errorf("%w: file ends inside a record", ErrBadRecord)
	ErrBadLength     = fmt.Errorf("%w: bad length", ErrBadRecord)
	ErrUnknownFormat = errors.New("capture: unknown format (want .log or .pcap)")
	ErrBadInterface  = errors.New("capture: interface name is empty or has spaces")
	ErrOneInterface  = errors.New("capture: a pcap file holds one interface")
)

// LineError is a bad line of a candump log.
type LineError struct {
	Line int    // 1-based
	Text string // the line, cut to 80 bytes
	Err  error
}

func (e *LineError) Error() string {
	return fmt.Sprintf("line %d: %v: %q", e.Line, e.Err, e.Text)
}

func (e *LineError) Unwrap() error { return e.Err }

// OffsetError is a bad record of a pcap file.
type OffsetError struct {
	Offset int64 // byte offset of the record (or file) header
	Record int   // 1-based packet number, 0 for the file header
	Err    error
}

func (e *OffsetError) Error() string {
	if e.Record == 0 {
		return fmt.Sprintf("file header: %v", e.Err)
	}
	return fmt.Sprintf("packet %d at offset %d: %v", e.Record, e.Offset, e.Err)
}

func (e *OffsetError) Unwrap() error { return e.Err }

// Create creates the file at path and returns a Writer for the format its extension names.
// A pcap file records one interface: the first one written.
func Create(path string) (Writer, error) {
	format := FormatOf(path)
	if format == FormatUnknown {
		return nil, fmt.Errorf("%w: %s", ErrUnknownFormat, path)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	var w Writer
	switch format {
	case FormatCandump:
		w = newCandumpWriter(f, f)
	case FormatPcap:
		w, err = newPcapWriter(f, f)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// Open opens a capture file for reading. A file that starts with a pcap magic is read as pcap;
// any other is read as a candump log. The records of a pcap file carry the file's base name
// without extension as their interface, since the format stores none.
func Open(path string) (Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, &os.PathError{Op: "open", Path: path, Err: errors.New("is a directory")}
	}
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(4)
	if len(head) == 4 && isPcapMagic(head) || FormatOf(path) == FormatPcap {
		iface := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		return newPcapReader(br, f, iface), nil
	}
	return newCandumpReader(br, f), nil
}

// epoch splits t into seconds and nanoseconds since 1970, clamped at 0: both formats count from
// 1970.
func epoch(t time.Time) (sec, nsec int64) {
	if t.Before(time.Unix(0, 0)) {
		return 0, 0
	}
	return t.Unix(), int64(t.Nanosecond())
}

// checkIface rejects names that would break a candump line.
func checkIface(iface string) error {
	if iface == "" || strings.ContainsFunc(iface, func(r rune) bool { return r <= ' ' || r == 0x7F || unicode.IsSpace(r) }) {
		return fmt.Errorf("%w: %q", ErrBadInterface, iface)
	}
	return nil
}

// closer closes the file a Writer or Reader owns, if any.
type closer struct{ c io.Closer }

func (c closer) close() error {
	if c.c == nil {
		return nil
	}
	return c.c.Close()
}
