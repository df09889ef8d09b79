// Package an3155 speaks the USART protocol of the STM32 system-memory boot loader (ST
// application note AN3155): a host side (Client) that syncs, identifies the part, erases,
// writes in 256-byte blocks, reads back and jumps to the application, and an emulated boot
// loader (Target) that answers it byte by byte, for tests without hardware.
//
// The line is 8 data bits, even parity, one stop bit. Every exchange starts with the host sending
// a command byte and its complement; the boot loader answers ACK (0x79) or NACK (0x1F). Addresses
// go as four bytes, most significant first, followed by their XOR; a one-byte count goes with its
// complement; data blocks go with the XOR of the count and every data byte.
package an3155

import (
	"errors"
	"fmt"
)

// Bytes on the line.
const (
	Sync = 0x7F // the first byte the host sends: the boot loader measures the baud rate on it
	ACK  = 0x79
	NACK = 0x1F
)

// Command codes.
const (
	CmdGet           = 0x00 // version and supported commands
	CmdGetVersion    = 0x01 // version and read-protection status
	CmdGetID         = 0x02 // product ID
	CmdReadMemory    = 0x11 // up to 256 bytes from an address
	CmdGo            = 0x21 // jump to the application
	CmdWriteMemory   = 0x31 // up to 256 bytes to an address
	CmdErase         = 0x43 // one-byte page numbers; 0xFF 0x00 erases everything
	CmdExtendedErase = 0x44 // two-byte page numbers; 0xFFFF mass, 0xFFFE bank 1, 0xFFFD bank 2
)

// Special Extended Erase codes.
const (
	EraseMass  = 0xFFFF
	EraseBank1 = 0xFFFE
	EraseBank2 = 0xFFFD
)

// MaxBlock is the largest Read Memory or Write Memory transfer.
const MaxBlock = 256

// Defaults for the parts the bench knows.
const (
	FlashBase    = 0x08000000
	PIDSTM32WB55 = 0x0495
	PageWB55     = 4096
)

// xor is the checksum of AN3155: the XOR of every byte.
func xor(b []byte) byte {
	var c byte
	for _, v := range b {
		c ^= v
	}
	return c
}

// addrBytes is an address as sent: four bytes MSB first and their XOR.
func addrBytes(a uint32) []byte {
	b := []byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}
	return append(b, xor(b))
}

// Errors a host sees.
var (
	ErrNACK     = errors.New("an3155: boot loader answered NACK")
	ErrTimeout  = errors.New("an3155: no answer from the boot loader")
	ErrGarbled  = errors.New("an3155: unexpected byte from the boot loader")
	ErrTooLarge = errors.New("an3155: block larger than 256 bytes")
	ErrAlign    = errors.New("an3155: write must be 4-byte aligned")
	ErrNoErase  = errors.New("an3155: boot loader offers no erase command")
)

// CommandError says which command (and which phase of it) failed.
type CommandError struct {
	Cmd   byte
	Phase string // "command", "address", "count", "data", "answer", "sync"
	Err   error
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("an3155: %s (0x%02X), %s: %v", CmdName(e.Cmd), e.Cmd, e.Phase, e.Err)
}

func (e *CommandError) Unwrap() error { return e.Err }

// CmdName names a command code.
func CmdName(c byte) string {
	switch c {
	case CmdGet:
		return "Get"
	case CmdGetVersion:
		return "Get Version"
	case CmdGetID:
		return "Get ID"
	case CmdReadMemory:
		return "Read Memory"
	case CmdGo:
		return "Go"
	case CmdWriteMemory:
		return "Write Memory"
	case CmdErase:
		return "Erase"
	case CmdExtendedErase:
		return "Extended Erase"
	case Sync:
		return "sync"
	}
	return "unknown command"
}
