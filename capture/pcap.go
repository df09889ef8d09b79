package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/modbatt/hilrun/bus"
)

// Classic pcap with LINKTYPE_CAN_SOCKETCAN. The file header is 24 bytes (magic, version 2.4,
// zone, sigfigs, snaplen, link type); each packet has a 16-byte header (seconds, sub-second,
// captured length, original length) and then the SocketCAN frame:
//
//	0..3  CAN ID and flags, big-endian (0x80000000 EFF, 0x40000000 RTR, 0x20000000 ERR)
//	4     payload length
//	5     FD flags (0x01 BRS, 0x02 ESI, 0x04 FDF), 0 for classic frames
//	6..7  reserved, 0
//	8..   payload: 8 bytes for a classic frame (16 in all), 64 for an FD frame (72 in all)
//
// A frame without FDF is FD when its packet is 72 bytes long, as older writers left FDF unset.
// The writer uses the nanosecond magic and sets FDF on FD frames; the reader takes both magics in
// both byte orders.

// Pcap constants.
const (
	LinkTypeCANSocketCAN = 227

	magicMicro   = 0xa1b2c3d4
	magicNano    = 0xa1b23c4d
	pcapSnapLen  = 262144
	classicMTU   = 16
	fdMTU        = 72
	fdFlagBRS    = 0x01
	fdFlagESI    = 0x02
	fdFlagFDF    = 0x04
	fileHdrLen   = 24
	packetHdrLen = 16
)

func isPcapMagic(b []byte) bool {
	le, be := binary.LittleEndian.Uint32(b), binary.BigEndian.Uint32(b)
	return le == magicMicro || le == magicNano || be == magicMicro || be == magicNano
}

// PcapWriter writes a classic pcap file with LINKTYPE_CAN_SOCKETCAN and nanosecond timestamps.
// The format has no place for an interface name: the writer takes the first interface it is
// given and refuses others with ErrOneInterface. Times before 1970 are written as 0.
type PcapWriter struct {
	mu    sync.Mutex
	w     *bufio.Writer
	own   closer
	iface string
	pkt   [packetHdrLen + fdMTU]byte
}

// NewPcapWriter writes the pcap file header to w and returns a Writer of its packets. Close
// flushes but does not close w.
func NewPcapWriter(w io.Writer) (*PcapWriter, error) { return newPcapWriter(w, nil) }

func newPcapWriter(w io.Writer, c io.Closer) (*PcapWriter, error) {
	pw := &PcapWriter{w: bufio.NewWriterSize(w, 64<<10), own: closer{c}}
	var h [fileHdrLen]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], magicNano)
	le.PutUint16(h[4:], 2)
	le.PutUint16(h[6:], 4)
	le.PutUint32(h[16:], pcapSnapLen)
	le.PutUint32(h[20:], LinkTypeCANSocketCAN)
	if _, err := pw.w.Write(h[:]); err != nil {
		return nil, err
	}
	return pw, nil
}

// Write records a frame.
func (pw *PcapWriter) Write(iface string, r bus.Received) error {
	return pw.WriteRecord(Record{Iface: iface, Received: r})
}

// WriteRecord records a frame or an error record.
func (pw *PcapWriter) WriteRecord(rec Record) error {
	if err := checkIface(rec.Iface); err != nil {
		return err
	}
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if pw.iface == "" {
		pw.iface = rec.Iface
	} else if rec.Iface != pw.iface {
		return fmt.Errorf("%w: file has %q, got %q", ErrOneInterface, pw.iface, rec.Iface)
	}
	n, err := AppendSocketCAN(pw.pkt[packetHdrLen:packetHdrLen], rec)
	if err != nil {
		return err
	}
	sec, ns := epoch(rec.Time)
	if sec > math.MaxUint32 {
		sec = math.MaxUint32
	}
	le := binary.LittleEndian
	le.PutUint32(pw.pkt[0:], uint32(sec))
	le.PutUint32(pw.pkt[4:], uint32(ns))
	le.PutUint32(pw.pkt[8:], uint32(len(n)))
	le.PutUint32(pw.pkt[12:], uint32(len(n)))
	_, err = pw.w.Write(pw.pkt[:packetHdrLen+len(n)])
	return err
}

// AppendSocketCAN appends rec as a LINKTYPE_CAN_SOCKETCAN packet (16 bytes for classic and error
// records, 72 for FD) to dst.
func AppendSocketCAN(dst []byte, rec Record) ([]byte, error) {
	f := &rec.Frame
	var idf uint32
	var flags byte
	size := classicMTU
	switch {
	case rec.Error:
		if f.ID > canErrMask || f.Len > canErrDataBytes {
			return dst, fmt.Errorf("%w: error record with class 0x%X and %d bytes", ErrBadFrame, f.ID, f.Len)
		}
		idf = canErrFlag | f.ID
	default:
		if err := f.Validate(); err != nil {
			return dst, fmt.Errorf("%w: %w", ErrBadFrame, err)
		}
		idf = f.ID
		if f.Extended {
			idf |= canEffFlag
		}
		if f.Remote {
			idf |= canRtrFlag
		}
		if f.FD {
			size = fdMTU
			flags = fdFlagFDF
			if f.BRS {
				flags |= fdFlagBRS
			}
			if f.ESI {
				flags |= fdFlagESI
			}
		}
	}
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, idf)
	dst = append(dst, f.Len, flags, 0, 0)
	if !f.Remote {
		dst = append(dst, f.Payload()...)
	}
	for len(dst)-start < size {
		dst = append(dst, 0)
	}
	return dst, nil
}

// Flush writes buffered packets.
func (pw *PcapWriter) Flush() error {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.w.Flush()
}

// Close flushes and closes the file the writer owns.
func (pw *PcapWriter) Close() error {
	err := pw.Flush()
	if cerr := pw.own.close(); err == nil {
		err = cerr
	}
	return err
}

// PcapReader streams the packets of a classic pcap file with LINKTYPE_CAN_SOCKETCAN. A packet
// whose content is bad is reported as an *OffsetError and reading goes on; a bad file header, a
// file cut inside a packet or a packet length no writer produces ends the stream (the next call
// returns io.EOF).
type PcapReader struct {
	r      *bufio.Reader
	own    closer
	iface  string
	order  binary.ByteOrder
	nano   bool
	off    int64
	packet int
	done   bool
	buf    []byte
	hdr    [packetHdrLen]byte
}

// NewPcapReader returns a reader of the pcap file in r; its records carry iface as their
// interface. Close does not close r.
func NewPcapReader(r io.Reader, iface string) *PcapReader { return newPcapReader(r, nil, iface) }

func newPcapReader(r io.Reader, c io.Closer, iface string) *PcapReader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &PcapReader{r: br, own: closer{c}, iface: iface}
}

// Close closes the file the reader owns.
func (pr *PcapReader) Close() error { return pr.own.close() }

// header reads and checks the file header; Next calls it before the first packet.
func (pr *PcapReader) header() error {
	var h [fileHdrLen]byte
	n, err := io.ReadFull(pr.r, h[:])
	fail := func(e error) error { pr.done = true; return &OffsetError{Err: e} }
	if n >= 4 && !isPcapMagic(h[:4]) {
		return fail(fmt.Errorf("%w: % X", ErrBadMagic, h[:4]))
	}
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fail(fmt.Errorf("%w: %d of %d header bytes", ErrTruncated, n, fileHdrLen))
		}
		return err
	}
	switch {
	case binary.LittleEndian.Uint32(h[:]) == magicMicro:
		pr.order = binary.LittleEndian
	case binary.LittleEndian.Uint32(h[:]) == magicNano:
		pr.order, pr.nano = binary.LittleEndian, true
	case binary.BigEndian.Uint32(h[:]) == magicMicro:
		pr.order = binary.BigEndian
	default:
		pr.order, pr.nano = binary.BigEndian, true
	}
	if major := pr.order.Uint16(h[4:]); major != 2 {
		return fail(fmt.Errorf("%w: version %d.%d", ErrBadMagic, major, pr.order.Uint16(h[6:])))
	}
	if lt := pr.order.Uint32(h[20:]) & 0xFFFF; lt != LinkTypeCANSocketCAN {
		return fail(fmt.Errorf("%w: link type %d", ErrLinkType, lt))
	}
	pr.off = fileHdrLen
	return nil
}

// Next returns the next record, io.EOF at the end of the file, or an *OffsetError.
func (pr *PcapReader) Next() (Record, error) {
	if pr.done {
		return Record{}, io.EOF
	}
	if pr.order == nil {
		if err := pr.header(); err != nil {
			return Record{}, err
		}
	}
	h := pr.hdr[:]
	at := pr.off
	pr.packet++
	fail := func(e error) (Record, error) {
		pr.done = true
		return Record{}, &OffsetError{Offset: at, Record: pr.packet, Err: e}
	}
	n, err := io.ReadFull(pr.r, h)
	switch {
	case n == 0 && errors.Is(err, io.EOF):
		pr.done = true
		return Record{}, io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fail(fmt.Errorf("%w: %d of %d packet header bytes", ErrTruncated, n, packetHdrLen))
	case err != nil:
		return Record{}, err
	}
	sec, sub := pr.order.Uint32(h[0:]), pr.order.Uint32(h[4:])
	incl, orig := pr.order.Uint32(h[8:]), pr.order.Uint32(h[12:])
	if incl > pcapSnapLen {
		return fail(fmt.Errorf("%w: captured length %d", ErrBadLength, incl))
	}
	if cap(pr.buf) < int(incl) {
		pr.buf = make([]byte, incl)
	}
	data := pr.buf[:incl]
	if n, err := io.ReadFull(pr.r, data); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fail(fmt.Errorf("%w: %d of %d packet bytes", ErrTruncated, n, incl))
		}
		return Record{}, err
	}
	pr.off += packetHdrLen + int64(incl)
	bad := func(e error) (Record, error) {
		return Record{}, &OffsetError{Offset: at, Record: pr.packet, Err: e}
	}
	limit, scale := uint32(1e6), int64(1e3)
	if pr.nano {
		limit, scale = 1e9, 1
	}
	if sub >= limit {
		return bad(fmt.Errorf("%w: sub-second field %d out of range", ErrBadLength, sub))
	}
	if incl > orig {
		return bad(fmt.Errorf("%w: captured length %d exceeds original length %d", ErrBadLength, incl, orig))
	}
	rec, err := ParseSocketCAN(data)
	if err != nil {
		return bad(err)
	}
	rec.Iface = pr.iface
	rec.Time = time.Unix(int64(sec), int64(sub)*scale).UTC()
	return rec, nil
}

// ParseSocketCAN parses one LINKTYPE_CAN_SOCKETCAN packet. The returned record has no interface
// and no time.
func ParseSocketCAN(b []byte) (Record, error) {
	var rec Record
	if len(b) < 8 {
		return rec, fmt.Errorf("%w: packet of %d bytes is shorter than the 8-byte frame header", ErrBadLength, len(b))
	}
	if len(b) > fdMTU {
		return rec, fmt.Errorf("%w: packet of %d bytes is longer than a CAN FD frame", ErrBadLength, len(b))
	}
	idf := binary.BigEndian.Uint32(b)
	n, flags, payload := b[4], b[5], b[8:]
	f := &rec.Frame
	if idf&canErrFlag != 0 {
		if idf&(canEffFlag|canRtrFlag) != 0 {
			return rec, fmt.Errorf("%w: error flag combined with EFF/RTR flags (0x%08X)", ErrBadFrame, idf)
		}
		if int(n) > canErrDataBytes || int(n) > len(payload) {
			return rec, fmt.Errorf("%w: error frame with length %d in %d payload bytes", ErrBadLength, n, len(payload))
		}
		rec.Error = true
		f.ID = idf & canErrMask
		f.Len = uint8(copy(f.Data[:], payload[:n]))
		return rec, nil
	}
	f.ID = idf & canErrMask
	f.Extended = idf&canEffFlag != 0
	f.Remote = idf&canRtrFlag != 0
	f.FD = flags&fdFlagFDF != 0 || len(b) == fdMTU || n > bus.MaxClassicLen
	if f.FD {
		f.BRS, f.ESI = flags&fdFlagBRS != 0, flags&fdFlagESI != 0
	}
	f.Len = n
	if !f.Remote {
		if int(n) > len(payload) {
			return Record{}, fmt.Errorf("%w: length %d in %d payload bytes", ErrBadLength, n, len(payload))
		}
		copy(f.Data[:], payload[:n])
	}
	if err := f.Validate(); err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrBadFrame, err)
	}
	return rec, nil
}
