package isotp

import "github.com/modbatt/hilrun/bus"

// Frames returns how many data frames (SF, or FF and CFs; flow control not counted) a message
// of n bytes needs: classic 8-byte frames, or CAN FD frames with TX_DL 64.
func Frames(n int, fd bool) int {
	dl := bus.MaxClassicLen
	if fd {
		dl = bus.MaxFDLen
	}
	return FramesDL(n, dl)
}

// FramesDL is Frames for a given TX_DL (8 for classic, a CAN FD length for FD).
func FramesDL(n, txDL int) int {
	if n <= 0 {
		return 0
	}
	fm := Format{FD: txDL > bus.MaxClassicLen, TxDL: txDL}
	if n <= fm.SFCapacity() {
		return 1
	}
	first := txDL - ffLen
	if n > MaxFF12 {
		first = txDL - ffEscapeLen
	}
	per := txDL - cfPCILen
	return 1 + (n-first+per-1)/per
}

// FlowControls returns how many flow-control frames the receiver sends for a message of n
// bytes when it grants blocks of bs consecutive frames (0 = one flow control for all).
func FlowControls(n int, fd bool, bs int) int {
	frames := Frames(n, fd)
	if frames <= 1 {
		return 0
	}
	cfs := frames - 1
	if bs <= 0 {
		return 1
	}
	return 1 + (cfs-1)/bs
}
