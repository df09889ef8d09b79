package slcan

import (
	"github.com/modbatt/hilrun/bus"
)

// Line terminators.
const (
	CR  = '\r'
	BEL = '\a'
)

// Op is what a host command asks for.
type Op uint8

// Host commands.
const (
	OpEmpty       Op = iota // a bare CR: flushes a half-typed command
	OpTransmit              // t T r R d D b B
	OpBitrate               // Sn, Arg = n
	OpTiming                // sXXXX…, Text = the hex register values
	OpDataBitrate           // Yn, Arg = n
	OpDataTiming            // yXXXX…, Text = the hex register values
	OpOpen                  // O
	OpListen                // L: open listen-only
	OpClose                 // C
	OpVersion               // V
	OpFirmware              // v
	OpSerial                // N
	OpStatus                // F
	OpTimestamps            // Zn, Arg = 0 or 1
	OpAcceptCode            // Mxxxxxxxx, Arg = the value
	OpAcceptMask            // mxxxxxxxx, Arg = the value
)

// Command is one host-to-adapter line.
type Command struct {
	Op    Op
	Frame bus.Frame // OpTransmit
	Arg   uint32
	Text  string
}

// ReplyKind is what an adapter-to-host line is.
type ReplyKind uint8

// Adapter lines.
const (
	ReplyOK       ReplyKind = iota // bare CR
	ReplyError                     // BEL
	ReplyTxAck                     // z or Z: a transmit command was accepted
	ReplyFrame                     // a received frame
	ReplyVersion                   // Vhhff: hardware and firmware version
	ReplyFirmware                  // v…: firmware version
	ReplySerial                    // N…: serial number
	ReplyStatus                    // Fxx: status flags
)

// Status is the F reply's flag byte (SJA1000 style).
type Status uint8

// Status flags.
const (
	StatusRxFull       Status = 1 << 0 // receive queue full
	StatusTxFull       Status = 1 << 1 // transmit queue full
	StatusErrorWarning Status = 1 << 2
	StatusOverrun      Status = 1 << 3 // data overrun: frames were lost
	StatusErrorPassive Status = 1 << 5
	StatusArbLost      Status = 1 << 6
	StatusBusError     Status = 1 << 7
)

// Reply is one adapter-to-host line.
type Reply struct {
	Kind    ReplyKind
	Frame   bus.Frame // ReplyFrame
	Stamped bool      // ReplyFrame carries a timestamp
	Stamp   uint16    // milliseconds, 0–59999 on a conforming adapter
	Text    string    // ReplyVersion, ReplyFirmware, ReplySerial: the text after the letter
	Status  Status    // ReplyStatus
}

// MaxLine is the longest line either side sends: B, 8 ID digits, a DLC digit, 128 data digits,
// a 4-digit timestamp.
const MaxLine = 1 + 8 + 1 + 2*bus.MaxFDLen + 4

// MaxTimestamp is one past the largest timestamp: the millisecond counter wraps at 60000.
const MaxTimestamp = 60000

// isFrameLetter reports whether c starts a frame line.
func isFrameLetter(c byte) bool {
	switch c {
	case 't', 'T', 'r', 'R', 'd', 'D', 'b', 'B':
		return true
	}
	return false
}

// ParseCommand parses one host line (without its CR).
func ParseCommand(line []byte) (Command, error) {
	if len(line) == 0 {
		return Command{Op: OpEmpty}, nil
	}
	c := line[0]
	if isFrameLetter(c) {
		f, stamped, _, err := parseFrame(line)
		if err != nil {
			return Command{}, err
		}
		if stamped {
			return Command{}, lineErr(line, "a transmit command carries no timestamp")
		}
		return Command{Op: OpTransmit, Frame: f}, nil
	}
	rest := line[1:]
	if op, ok := singleOp(c); ok {
		if len(rest) != 0 {
			return Command{}, lineErr(line, "%q takes no argument", c)
		}
		return Command{Op: op}, nil
	}
	switch c {
	case 'S', 'Y', 'Z':
		if len(rest) != 1 || rest[0] < '0' || rest[0] > '9' {
			return Command{}, lineErr(line, "%q takes one decimal digit", c)
		}
		n := uint32(rest[0] - '0')
		switch c {
		case 'S':
			return Command{Op: OpBitrate, Arg: n}, nil
		case 'Y':
			if DataBitrates[n] == 0 {
				return Command{}, lineErr(line, "no data bitrate Y%d", n)
			}
			return Command{Op: OpDataBitrate, Arg: n}, nil
		default:
			if n > 1 {
				return Command{}, lineErr(line, "timestamps are Z0 or Z1")
			}
			return Command{Op: OpTimestamps, Arg: n}, nil
		}
	case 's', 'y':
		if len(rest) != 4 && len(rest) != 8 {
			return Command{}, lineErr(line, "%q takes 4 or 8 hex digits", c)
		}
		if _, ok := hexValue(rest); !ok {
			return Command{}, lineErr(line, "bad hex digit")
		}
		op := OpTiming
		if c == 'y' {
			op = OpDataTiming
		}
		return Command{Op: op, Text: string(rest)}, nil
	case 'M', 'm':
		if len(rest) != 8 {
			return Command{}, lineErr(line, "%q takes 8 hex digits", c)
		}
		v, ok := hexValue(rest)
		if !ok {
			return Command{}, lineErr(line, "bad hex digit")
		}
		op := OpAcceptCode
		if c == 'm' {
			op = OpAcceptMask
		}
		return Command{Op: op, Arg: v}, nil
	}
	return Command{}, lineErr(line, "unknown command %q", c)
}

func singleOp(c byte) (Op, bool) {
	switch c {
	case 'O':
		return OpOpen, true
	case 'L':
		return OpListen, true
	case 'C':
		return OpClose, true
	case 'V':
		return OpVersion, true
	case 'v':
		return OpFirmware, true
	case 'N':
		return OpSerial, true
	case 'F':
		return OpStatus, true
	}
	return 0, false
}

// ParseReply parses one adapter line (without its CR). A BEL is not a line: the Splitter
// reports it as a Token with Bell set.
func ParseReply(line []byte) (Reply, error) {
	if len(line) == 0 {
		return Reply{Kind: ReplyOK}, nil
	}
	c := line[0]
	if isFrameLetter(c) {
		f, stamped, stamp, err := parseFrame(line)
		if err != nil {
			return Reply{}, err
		}
		return Reply{Kind: ReplyFrame, Frame: f, Stamped: stamped, Stamp: stamp}, nil
	}
	rest := line[1:]
	switch c {
	case 'z', 'Z':
		// Some firmware echoes the frame after the letter; the acknowledgement is what counts.
		return Reply{Kind: ReplyTxAck}, nil
	case 'V', 'v', 'N':
		if len(rest) == 0 || !printable(rest) {
			return Reply{}, lineErr(line, "%q needs printable text", c)
		}
		k := map[byte]ReplyKind{'V': ReplyVersion, 'v': ReplyFirmware, 'N': ReplySerial}[c]
		return Reply{Kind: k, Text: string(rest)}, nil
	case 'F':
		if len(rest) != 2 {
			return Reply{}, lineErr(line, "status takes 2 hex digits")
		}
		v, ok := hexValue(rest)
		if !ok {
			return Reply{}, lineErr(line, "bad hex digit")
		}
		return Reply{Kind: ReplyStatus, Status: Status(v)}, nil
	}
	return Reply{}, lineErr(line, "unknown reply %q", c)
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7E {
			return false
		}
	}
	return true
}

// parseFrame parses a frame line; the caller has checked the first letter.
func parseFrame(line []byte) (f bus.Frame, stamped bool, stamp uint16, err error) {
	c := line[0]
	f.Extended = c == 'T' || c == 'R' || c == 'D' || c == 'B'
	f.Remote = c == 'r' || c == 'R'
	f.FD = c == 'd' || c == 'D' || c == 'b' || c == 'B'
	f.BRS = c == 'b' || c == 'B'
	idLen := 3
	if f.Extended {
		idLen = 8
	}
	if len(line) < 1+idLen+1 {
		return f, false, 0, lineErr(line, "too short for identifier and length")
	}
	id, ok := hexValue(line[1 : 1+idLen])
	if !ok {
		return f, false, 0, lineErr(line, "bad hex digit in identifier")
	}
	if (f.Extended && id > bus.MaxExtendedID) || (!f.Extended && id > bus.MaxStandardID) {
		return f, false, 0, lineErr(line, "identifier 0x%X out of range", id)
	}
	f.ID = id
	dlc, ok := hexDigit(line[1+idLen])
	if !ok {
		return f, false, 0, lineErr(line, "bad length digit")
	}
	n := int(dlc)
	if f.FD {
		n = bus.DLCToLen(dlc, true)
	} else if dlc > bus.MaxClassicLen {
		return f, false, 0, lineErr(line, "classic length %d over 8", dlc)
	}
	f.Len = uint8(n)
	rest := line[2+idLen:]
	if !f.Remote {
		if len(rest) < 2*n {
			return f, false, 0, lineErr(line, "%d data bytes announced, %d hex digits present", n, len(rest))
		}
		for i := 0; i < n; i++ {
			hi, ok1 := hexDigit(rest[2*i])
			lo, ok2 := hexDigit(rest[2*i+1])
			if !ok1 || !ok2 {
				return f, false, 0, lineErr(line, "bad hex digit in data byte %d", i)
			}
			f.Data[i] = hi<<4 | lo
		}
		rest = rest[2*n:]
	}
	switch len(rest) {
	case 0:
	case 4:
		v, ok := hexValue(rest)
		if !ok {
			return f, false, 0, lineErr(line, "bad hex digit in timestamp")
		}
		stamped, stamp = true, uint16(v)
	default:
		return f, false, 0, lineErr(line, "%d trailing characters (a timestamp has 4)", len(rest))
	}
	return f, stamped, stamp, nil
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// hexValue parses up to 8 hex digits.
func hexValue(b []byte) (uint32, bool) {
	if len(b) == 0 || len(b) > 8 {
		return 0, false
	}
	var v uint32
	for _, c := range b {
		d, ok := hexDigit(c)
		if !ok {
			return 0, false
		}
		v = v<<4 | uint32(d)
	}
	return v, true
}

const hexUpper = "0123456789ABCDEF"

func appendHex(dst []byte, v uint32, digits int) []byte {
	for i := digits - 1; i >= 0; i-- {
		dst = append(dst, hexUpper[(v>>(4*uint(i)))&0xF])
	}
	return dst
}

// appendFrame writes a frame line without terminator.
func appendFrame(dst []byte, f *bus.Frame) ([]byte, error) {
	if err := f.Validate(); err != nil {
		return dst, err
	}
	var c byte
	switch {
	case f.FD && f.BRS:
		c = 'b'
	case f.FD:
		c = 'd'
	case f.Remote:
		c = 'r'
	default:
		c = 't'
	}
	idLen := 3
	if f.Extended {
		c -= 'a' - 'A'
		idLen = 8
	}
	dst = append(dst, c)
	dst = appendHex(dst, f.ID, idLen)
	dlc := f.Len
	if f.FD {
		dlc, _ = bus.FDLenToDLC(int(f.Len))
	}
	dst = append(dst, hexUpper[dlc])
	if !f.Remote {
		for _, b := range f.Payload() {
			dst = append(dst, hexUpper[b>>4], hexUpper[b&0xF])
		}
	}
	return dst, nil
}

// AppendCommand appends c and its CR to dst. A transmit of an invalid frame fails with the
// frame's *bus.FrameError; ESI cannot be expressed and is dropped.
func AppendCommand(dst []byte, c *Command) ([]byte, error) {
	switch c.Op {
	case OpEmpty:
	case OpTransmit:
		var err error
		if dst, err = appendFrame(dst, &c.Frame); err != nil {
			return dst, err
		}
	case OpBitrate, OpDataBitrate, OpTimestamps:
		if c.Arg > 9 {
			return dst, lineErr(nil, "argument %d is not one digit", c.Arg)
		}
		dst = append(dst, map[Op]byte{OpBitrate: 'S', OpDataBitrate: 'Y', OpTimestamps: 'Z'}[c.Op], byte('0'+c.Arg))
	case OpTiming, OpDataTiming:
		if _, ok := hexValue([]byte(c.Text)); !ok || (len(c.Text) != 4 && len(c.Text) != 8) {
			return dst, lineErr([]byte(c.Text), "timing needs 4 or 8 hex digits")
		}
		l := byte('s')
		if c.Op == OpDataTiming {
			l = 'y'
		}
		dst = append(append(dst, l), c.Text...)
	case OpAcceptCode, OpAcceptMask:
		l := byte('M')
		if c.Op == OpAcceptMask {
			l = 'm'
		}
		dst = appendHex(append(dst, l), c.Arg, 8)
	default:
		l, ok := map[Op]byte{OpOpen: 'O', OpListen: 'L', OpClose: 'C', OpVersion: 'V', OpFirmware: 'v', OpSerial: 'N', OpStatus: 'F'}[c.Op]
		if !ok {
			return dst, lineErr(nil, "unknown op %d", c.Op)
		}
		dst = append(dst, l)
	}
	return append(dst, CR), nil
}

// AppendReply appends r and its terminator (CR, or BEL alone for ReplyError) to dst. The
// acknowledgement of a transmit is written Lawicel style: z for a standard frame, Z for an
// extended one, as r.Frame says.
func AppendReply(dst []byte, r *Reply) ([]byte, error) {
	switch r.Kind {
	case ReplyOK:
	case ReplyError:
		return append(dst, BEL), nil
	case ReplyTxAck:
		if r.Frame.Extended {
			dst = append(dst, 'Z')
		} else {
			dst = append(dst, 'z')
		}
	case ReplyFrame:
		var err error
		if dst, err = appendFrame(dst, &r.Frame); err != nil {
			return dst, err
		}
		if r.Stamped {
			dst = appendHex(dst, uint32(r.Stamp), 4)
		}
	case ReplyVersion, ReplyFirmware, ReplySerial:
		if r.Text == "" || !printable([]byte(r.Text)) {
			return dst, lineErr([]byte(r.Text), "reply text must be printable and not empty")
		}
		dst = append(append(dst, map[ReplyKind]byte{ReplyVersion: 'V', ReplyFirmware: 'v', ReplySerial: 'N'}[r.Kind]), r.Text...)
	case ReplyStatus:
		dst = appendHex(append(dst, 'F'), uint32(r.Status), 2)
	default:
		return dst, lineErr(nil, "unknown reply kind %d", r.Kind)
	}
	return append(dst, CR), nil
}
