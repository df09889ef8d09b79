// Package fwxfer is the module update transfer over CAN: a sender (the pack, or the bench
// through the pack) offers an image to a module, sends it in chunks, each acknowledged, and
// commits it; the module's receiver reassembles it, checks its hash and hands it with the
// authority's signature to its boot loader.
//
// Every message is one ISO-TP message (package isotp) on a Web4 identifier: sender to receiver
// on type firmware (0x2C), receiver to sender on type bulk-ack (0x2D). The transfer is
// stop-and-wait: a chunk is sent again when its acknowledgement does not come in time, and a
// receiver that sees a chunk twice acknowledges it again without storing it twice.
//
// # Messages (all integers big-endian)
//
//	offer   01 | xfer u16 | size u32 | chunk u16 | sha256 [32] | sig-len u16 | sig
//	chunk   02 | xfer u16 | offset u32 | data (1..chunk bytes)
//	commit  03 | xfer u16
//	abort   04 | xfer u16 | reason u8
//	ack     81 | xfer u16 | status u8 | next u32        (bulk-ack)
//
// next is the offset the receiver expects next (the size once everything arrived).
//
// # Protection
//
// The transfer runs under a firmware_update pairing context (docs/protocol.md 4.14). Its
// encryption is not applied here: a Protect seals each message before it is sent and opens each
// one received, and sets the identifier's encrypted bit and key level. The link engine's
// session.PairingProtect is the Protect of a transfer on the buses; Clear passes messages
// through unchanged (tests of the transfer alone).
package fwxfer

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Message kinds.
const (
	KindOffer  = 0x01
	KindChunk  = 0x02
	KindCommit = 0x03
	KindAbort  = 0x04
	KindAck    = 0x81
)

// Status of an acknowledgement.
type Status uint8

// Statuses.
const (
	StatusOK         Status = 0 // accepted; next is the offset expected
	StatusOutOfOrder Status = 1 // a chunk at the wrong offset; resume at next
	StatusTooLarge   Status = 2 // the offered image does not fit
	StatusRejected   Status = 3 // the image failed its hash or signature check at commit
	StatusBusy       Status = 4 // another transfer is running
	StatusUnknown    Status = 5 // no transfer with this number
	StatusIncomplete Status = 6 // commit before every byte arrived
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusOutOfOrder:
		return "out of order"
	case StatusTooLarge:
		return "too large"
	case StatusRejected:
		return "rejected"
	case StatusBusy:
		return "busy"
	case StatusUnknown:
		return "unknown transfer"
	case StatusIncomplete:
		return "incomplete"
	}
	return fmt.Sprintf("status %d", uint8(s))
}

// Limits.
const (
	MaxSig       = 512
	MaxChunk     = 4095 - 7 // an ISO-TP message of at most 4095 bytes
	DefaultChunk = 1024
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("fwxfer: malformed message")

// Msg is one decoded message; which fields mean something depends on Kind.
type Msg struct {
	Kind   byte
	Xfer   uint16
	Size   uint32   // offer
	Chunk  uint16   // offer
	Hash   [32]byte // offer
	Sig    []byte   // offer
	Offset uint32   // chunk
	Data   []byte   // chunk
	Reason uint8    // abort
	Status Status   // ack
	Next   uint32   // ack
}

// Append encodes m after dst.
func Append(dst []byte, m *Msg) ([]byte, error) {
	dst = append(dst, m.Kind)
	dst = binary.BigEndian.AppendUint16(dst, m.Xfer)
	switch m.Kind {
	case KindOffer:
		if len(m.Sig) > MaxSig || m.Chunk == 0 || int(m.Chunk) > MaxChunk {
			return nil, fmt.Errorf("%w: offer with chunk %d, signature %d bytes", ErrMalformed, m.Chunk, len(m.Sig))
		}
		dst = binary.BigEndian.AppendUint32(dst, m.Size)
		dst = binary.BigEndian.AppendUint16(dst, m.Chunk)
		dst = append(dst, m.Hash[:]...)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(m.Sig)))
		dst = append(dst, m.Sig...)
	case KindChunk:
		if len(m.Data) == 0 || len(m.Data) > MaxChunk {
			return nil, fmt.Errorf("%w: chunk of %d bytes", ErrMalformed, len(m.Data))
		}
		dst = binary.BigEndian.AppendUint32(dst, m.Offset)
		dst = append(dst, m.Data...)
	case KindCommit:
	case KindAbort:
		dst = append(dst, m.Reason)
	case KindAck:
		dst = append(dst, byte(m.Status))
		dst = binary.BigEndian.AppendUint32(dst, m.Next)
	default:
		return nil, fmt.Errorf("%w: kind 0x%02X", ErrMalformed, m.Kind)
	}
	return dst, nil
}

// Parse decodes one message. Data and Sig alias b.
func Parse(b []byte) (Msg, error) {
	var m Msg
	if len(b) < 3 {
		return m, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	m.Kind, m.Xfer = b[0], binary.BigEndian.Uint16(b[1:])
	p := b[3:]
	short := func(want int) error {
		return fmt.Errorf("%w: kind 0x%02X needs %d bytes after the header, has %d", ErrMalformed, m.Kind, want, len(p))
	}
	switch m.Kind {
	case KindOffer:
		if len(p) < 4+2+32+2 {
			return m, short(40)
		}
		m.Size = binary.BigEndian.Uint32(p)
		m.Chunk = binary.BigEndian.Uint16(p[4:])
		copy(m.Hash[:], p[6:38])
		n := int(binary.BigEndian.Uint16(p[38:]))
		if len(p) != 40+n {
			return m, fmt.Errorf("%w: offer signature length %d, %d bytes present", ErrMalformed, n, len(p)-40)
		}
		if n > MaxSig || m.Chunk == 0 || int(m.Chunk) > MaxChunk {
			return m, fmt.Errorf("%w: offer with chunk %d, signature %d bytes", ErrMalformed, m.Chunk, n)
		}
		m.Sig = p[40:]
	case KindChunk:
		if len(p) < 5 {
			return m, short(5)
		}
		m.Offset = binary.BigEndian.Uint32(p)
		m.Data = p[4:]
	case KindCommit:
		if len(p) != 0 {
			return m, short(0)
		}
	case KindAbort:
		if len(p) != 1 {
			return m, short(1)
		}
		m.Reason = p[0]
	case KindAck:
		if len(p) != 5 {
			return m, short(5)
		}
		m.Status, m.Next = Status(p[0]), binary.BigEndian.Uint32(p[1:])
	default:
		return m, fmt.Errorf("%w: kind 0x%02X", ErrMalformed, m.Kind)
	}
	return m, nil
}
