package bus

import "time"

// Stuffing selects how bit-stuffing is counted when computing a frame's wire time.
type Stuffing int

const (
	// WorstCase counts the most stuff bits the frame's length allows (Davis et al. 2007).
	WorstCase Stuffing = iota
	// Unstuffed counts no dynamic stuff bits (FD fixed stuff bits in the CRC field still count).
	Unstuffed
	// Exact counts the stuff bits this frame's actual bits need (classic frames only; FD frames
	// fall back to WorstCase, see FrameBits).
	Exact
)

// Timing is a bus's bit timing: the nominal (arbitration) bitrate and, for CAN FD with bit-rate
// switching, the data-phase bitrate.
type Timing struct {
	Nominal int // bit/s
	Data    int // bit/s; 0 means the same as Nominal
}

// Bits of a classic frame that the formula counts outside the data field.
const (
	classicStandardOverhead = 34 // SOF..DLC + CRC15, standard identifier
	classicExtendedOverhead = 54 // SOF..DLC + CRC15, extended identifier
	trailerBits             = 13 // CRC delimiter, ACK slot, ACK delimiter, EOF (7), intermission (3)
)

// FrameBits returns the bits a frame occupies on the wire: those sent at the nominal rate and
// those sent at the data rate (non-zero only for FD frames with BRS). The intermission is counted,
// so back-to-back frames are spaced by exactly this duration.
//
// Classic frames follow Davis et al. (2007): g + 8s + 13 + ⌊(g + 8s − 1)/4⌋ bits in the worst case,
// g = 34 (standard) or 54 (extended). CAN FD frames count the dynamically stuffed region (SOF to the
// end of the data field) once, give the arbitration phase its ⌊(a − 1)/4⌋ share of the worst-case
// stuff bits and the data phase the rest, and add the stuff-count field, the 17- or 21-bit CRC and
// their fixed stuff bits in the data phase.
func FrameBits(f *Frame, s Stuffing) (nominal, data int) {
	n := int(f.Len)
	if f.Remote {
		n = 0
	}
	if !f.FD {
		g := classicStandardOverhead
		if f.Extended {
			g = classicExtendedOverhead
		}
		bits := g + 8*n + trailerBits
		switch s {
		case WorstCase:
			bits += (g + 8*n - 1) / 4
		case Exact:
			bits += classicStuffBits(f)
		}
		return bits, 0
	}
	// Arbitration phase up to and including BRS: SOF, base ID, (SRR, IDE, ID ext), RRS, IDE/FDF, res, BRS.
	arb := 1 + 11 + 1 + 1 + 1 + 1 + 1 // standard: SOF, ID11, RRS, IDE, FDF, res, BRS
	if f.Extended {
		arb = 1 + 11 + 1 + 1 + 18 + 1 + 1 + 1 + 1 // SOF, ID11, SRR, IDE, ID18, RRS, FDF, res, BRS
	}
	dataPhase := 1 + 4 + 8*n // ESI, DLC, data
	crc := 17
	if n > 16 {
		crc = 21
	}
	fixed := 4 + crc       // stuff count (3 bits + parity) and CRC
	fsb := (fixed-1)/4 + 1 // a fixed stuff bit before the stuff count and after every 4 bits
	if s != Unstuffed {    // FD worst case; Exact is not modelled for FD
		total := (arb + dataPhase - 1) / 4
		arbStuff := (arb - 1) / 4
		arb += arbStuff
		dataPhase += total - arbStuff
	}
	dataPhase += fixed + fsb
	nominal = arb + trailerBits
	if f.BRS {
		return nominal, dataPhase
	}
	return nominal + dataPhase, 0
}

// Duration returns the time a frame occupies the bus at the given timing.
func (t Timing) Duration(f *Frame, s Stuffing) time.Duration {
	nom, dat := FrameBits(f, s)
	dr := t.Data
	if dr == 0 {
		dr = t.Nominal
	}
	ns := float64(nom)*1e9/float64(t.Nominal) + float64(dat)*1e9/float64(dr)
	return time.Duration(ns + 0.5)
}

// classicStuffBits counts the stuff bits a classic frame's real bit pattern needs, from SOF to the
// end of the CRC.
func classicStuffBits(f *Frame) int {
	bits := classicBits(f)
	stuff, run := 0, 0
	var last uint8 = 2
	for _, b := range bits {
		if b == last {
			run++
		} else {
			last, run = b, 1
		}
		if run == 5 {
			stuff++
			last ^= 1 // the stuff bit has the opposite level and starts a new run
			run = 1
		}
	}
	return stuff
}

// classicBits lays out a classic frame from SOF through the CRC sequence, one bit per element.
func classicBits(f *Frame) []uint8 {
	var bits []uint8
	put := func(v uint32, n int) {
		for i := n - 1; i >= 0; i-- {
			bits = append(bits, uint8(v>>i)&1)
		}
	}
	rtr := uint32(0)
	if f.Remote {
		rtr = 1
	}
	put(0, 1) // SOF
	if f.Extended {
		put(f.ID>>18, 11)
		put(1, 1) // SRR
		put(1, 1) // IDE
		put(f.ID&0x3FFFF, 18)
		put(rtr, 1)
		put(0, 2) // r1, r0
	} else {
		put(f.ID, 11)
		put(rtr, 1)
		put(0, 2) // IDE, r0
	}
	put(uint32(f.Len), 4)
	if !f.Remote {
		for _, b := range f.Payload() {
			put(uint32(b), 8)
		}
	}
	put(uint32(crc15(bits)), 15)
	return bits
}

// crc15 is the classic CAN CRC (polynomial 0x4599).
func crc15(bits []uint8) uint16 {
	var crc uint16
	for _, b := range bits {
		next := b ^ uint8(crc>>14&1)
		crc = (crc << 1) & 0x7FFF
		if next == 1 {
			crc ^= 0x4599
		}
	}
	return crc
}
