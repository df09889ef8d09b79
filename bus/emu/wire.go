package emu

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/modbatt/hilrun/bus"
)

// SocketCAN record layout (include/uapi/linux/can.h), host order on every Linux target we serve.
const (
	canEFFFlag = 0x80000000 // extended frame format
	canRTRFlag = 0x40000000 // remote transmission request
	canERRFlag = 0x20000000 // error record
	canErrMask = 0x1FFFFFFF

	// Error classes (include/uapi/linux/can/error.h) the server reports.
	ErrClassBusOff    = 0x00000040
	ErrClassRestarted = 0x00000100

	canfdBRS = 0x01
	canfdESI = 0x02
	canfdFDF = 0x04

	classicRecord = 16 // struct can_frame
	fdRecord      = 72 // struct canfd_frame
	stampSize     = 8  // framed mode: int64 nanoseconds before each record
	errDLC        = 8  // CAN_ERR_DLC
)

// ErrMalformed is wrapped by every decoding error about bytes that break the wire format.
var ErrMalformed = errors.New("emu: malformed wire data")

// WireError says what was wrong with the bytes at a stream offset.
type WireError struct {
	Offset int64 // of the record or hello in the stream
	Reason string
}

func (e *WireError) Error() string {
	return fmt.Sprintf("emu: malformed wire data at byte %d: %s", e.Offset, e.Reason)
}

func (e *WireError) Unwrap() error { return ErrMalformed }

// Message is one record read from a connection.
type Message struct {
	Time     time.Time // framed mode only; zero when the sender left it 0
	Frame    bus.Frame // when ErrClass is 0
	ErrClass uint32    // CAN_ERR_* class bits of an error record, 0 for a frame
}

// AppendFrame appends f as a SocketCAN record: 16 bytes for classic, 72 for FD.
func AppendFrame(dst []byte, f *bus.Frame) []byte {
	id := f.ID
	if f.Extended {
		id |= canEFFFlag
	}
	if f.Remote {
		id |= canRTRFlag
	}
	size, flags := classicRecord, byte(0)
	if f.FD {
		size, flags = fdRecord, canfdFDF
		if f.BRS {
			flags |= canfdBRS
		}
		if f.ESI {
			flags |= canfdESI
		}
	}
	var rec [fdRecord]byte
	binary.LittleEndian.PutUint32(rec[0:4], id)
	rec[4] = f.Len
	rec[5] = flags
	if !f.Remote {
		copy(rec[8:size], f.Payload())
	}
	return append(dst, rec[:size]...)
}

// AppendErrorRecord appends a SocketCAN error record of the given class.
func AppendErrorRecord(dst []byte, class uint32) []byte {
	var rec [classicRecord]byte
	binary.LittleEndian.PutUint32(rec[0:4], canERRFlag|class&canErrMask)
	rec[4] = errDLC
	return append(dst, rec[:]...)
}

// AppendMessage appends one record, with its timestamp when stamped (framed mode).
func AppendMessage(dst []byte, stamped bool, m *Message) []byte {
	if stamped {
		var ns int64
		if !m.Time.IsZero() {
			ns = m.Time.UnixNano()
		}
		dst = binary.LittleEndian.AppendUint64(dst, uint64(ns))
	}
	if m.ErrClass != 0 {
		return AppendErrorRecord(dst, m.ErrClass)
	}
	return AppendFrame(dst, &m.Frame)
}

// Reader decodes the records of one direction of a connection.
type Reader struct {
	r       *bufio.Reader
	stamped bool
	off     int64
	buf     [stampSize + fdRecord]byte
}

// NewReader reads records from r; stamped says each carries the framed mode's timestamp.
func NewReader(r io.Reader, stamped bool) *Reader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 16<<10)
	}
	return &Reader{r: br, stamped: stamped}
}

// Next returns the next record. It returns io.EOF at a clean end of stream, an error wrapping
// io.ErrUnexpectedEOF when the stream ends inside a record, and a *WireError for bad bytes.
func (rd *Reader) Next() (Message, error) {
	head := classicRecord
	if rd.stamped {
		head += stampSize
	}
	start := rd.off
	b := rd.buf[:head]
	if n, err := io.ReadFull(rd.r, b); err != nil {
		rd.off += int64(n)
		if err == io.EOF {
			return Message{}, io.EOF
		}
		return Message{}, fmt.Errorf("emu: record at byte %d cut short: %w", start, err)
	}
	rd.off += int64(head)
	var m Message
	rec := b
	if rd.stamped {
		if ns := int64(binary.LittleEndian.Uint64(b[:stampSize])); ns != 0 {
			m.Time = time.Unix(0, ns)
		}
		rec = b[stampSize:]
	}
	if rec[5]&canfdFDF != 0 {
		more := rd.buf[head : head+fdRecord-classicRecord]
		n, err := io.ReadFull(rd.r, more)
		rd.off += int64(n)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return Message{}, fmt.Errorf("emu: FD record at byte %d cut short: %w", start, err)
		}
		rec = rd.buf[head-classicRecord : head+fdRecord-classicRecord]
	}
	if err := DecodeRecord(rec, &m); err != nil {
		return Message{}, &WireError{Offset: start, Reason: err.Error()}
	}
	return m, nil
}

// recordError is a reason DecodeRecord rejects a record.
type recordError string

func (e recordError) Error() string { return string(e) }

// DecodeRecord decodes one 16- or 72-byte SocketCAN record into m's Frame or ErrClass.
func DecodeRecord(rec []byte, m *Message) error {
	if len(rec) != classicRecord && len(rec) != fdRecord {
		return recordError(fmt.Sprintf("record of %d bytes", len(rec)))
	}
	id := binary.LittleEndian.Uint32(rec[0:4])
	fd := len(rec) == fdRecord
	if fd != (rec[5]&canfdFDF != 0) {
		return recordError("record size does not match the CANFD_FDF flag")
	}
	if id&canERRFlag != 0 {
		switch {
		case fd:
			return recordError("error record in an FD frame")
		case id&(canEFFFlag|canRTRFlag) != 0:
			return recordError("error record with EFF or RTR set")
		case id&canErrMask == 0:
			return recordError("error record without a class")
		}
		m.ErrClass = id & canErrMask
		return nil
	}
	f := bus.Frame{Extended: id&canEFFFlag != 0, Remote: id&canRTRFlag != 0, Len: rec[4], FD: fd}
	if f.Extended {
		f.ID = id & bus.MaxExtendedID
	} else {
		if id&canErrMask > bus.MaxStandardID {
			return recordError(fmt.Sprintf("standard identifier 0x%X wider than 11 bits", id&canErrMask))
		}
		f.ID = id & bus.MaxStandardID
	}
	if fd {
		if rec[5]&^(canfdBRS|canfdESI|canfdFDF) != 0 {
			return recordError(fmt.Sprintf("unknown CAN FD flags 0x%02X", rec[5]))
		}
		f.BRS, f.ESI = rec[5]&canfdBRS != 0, rec[5]&canfdESI != 0
	}
	if err := f.Validate(); err != nil {
		return recordError(err.Error())
	}
	if !f.Remote {
		copy(f.Data[:f.Len], rec[8:])
	}
	m.Frame = f
	return nil
}

// Handshake of the framed mode.
const (
	helloMagic   = "HLRB"
	WireVersion  = 1
	maxNameLen   = 64
	helloSize    = 8  // before the name
	welcomeSize  = 16 // server's answer
	welcomeFDBit = 0x01
)

// Welcome status codes.
const (
	StatusOK          = 0
	StatusBadVersion  = 1
	StatusBadHello    = 2
	StatusUnavailable = 3
)

// AppendHello appends the client's hello: magic, version, flags (0), name length, reserved (0),
// then the name.
func AppendHello(dst []byte, name string) []byte {
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	dst = append(dst, helloMagic...)
	dst = append(dst, WireVersion, 0, byte(len(name)), 0)
	return append(dst, name...)
}

// ReadHello reads a client's hello and returns its version and name. A version other than
// WireVersion is returned with a nil error; the caller answers StatusBadVersion.
func ReadHello(r io.Reader) (version int, name string, err error) {
	var h [helloSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, "", fmt.Errorf("emu: hello cut short: %w", err)
	}
	switch {
	case string(h[0:4]) != helloMagic:
		return 0, "", &WireError{Reason: fmt.Sprintf("hello magic %q", h[0:4])}
	case h[6] > maxNameLen:
		return 0, "", &WireError{Reason: fmt.Sprintf("hello name of %d bytes", h[6])}
	}
	nb := make([]byte, h[6])
	if _, err := io.ReadFull(r, nb); err != nil {
		return 0, "", fmt.Errorf("emu: hello name cut short: %w", err)
	}
	if h[4] != WireVersion {
		return int(h[4]), "", nil
	}
	if !validName(string(nb)) && len(nb) > 0 {
		return 0, "", &WireError{Offset: helloSize, Reason: "hello name has characters other than letters, digits, '_', '-', '.'"}
	}
	return int(h[4]), string(nb), nil
}

// Welcome is the server's answer to a hello: the status and the bus's parameters.
type Welcome struct {
	Version int
	Status  int
	FD      bool
	Nominal uint32 // bit/s
	Data    uint32 // bit/s, 0 when the bus has no separate data rate
}

// AppendWelcome appends the server's answer: magic, version, status, flags, reserved, nominal
// and data bitrates (u32 little-endian).
func AppendWelcome(dst []byte, w Welcome) []byte {
	var flags byte
	if w.FD {
		flags |= welcomeFDBit
	}
	dst = append(dst, helloMagic...)
	dst = append(dst, byte(w.Version), byte(w.Status), flags, 0)
	dst = binary.LittleEndian.AppendUint32(dst, w.Nominal)
	return binary.LittleEndian.AppendUint32(dst, w.Data)
}

// ReadWelcome reads the server's answer.
func ReadWelcome(r io.Reader) (Welcome, error) {
	var h [welcomeSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Welcome{}, fmt.Errorf("emu: welcome cut short: %w", err)
	}
	if string(h[0:4]) != helloMagic {
		return Welcome{}, &WireError{Reason: fmt.Sprintf("welcome magic %q", h[0:4])}
	}
	if h[6]&^welcomeFDBit != 0 {
		return Welcome{}, &WireError{Offset: 6, Reason: fmt.Sprintf("unknown welcome flags 0x%02X", h[6])}
	}
	return Welcome{
		Version: int(h[4]),
		Status:  int(h[5]),
		FD:      h[6]&welcomeFDBit != 0,
		Nominal: binary.LittleEndian.Uint32(h[8:12]),
		Data:    binary.LittleEndian.Uint32(h[12:16]),
	}, nil
}
