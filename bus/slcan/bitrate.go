package slcan

// Bitrates are the nominal bitrates of the Sn commands, indexed by n. S7 is 800 kbit/s as in the
// Lawicel and can-utils tables (some CANable firmware uses 750 kbit/s there); S9, 83.3 kbit/s, is
// a CANable extension.
var Bitrates = [10]int{10_000, 20_000, 50_000, 100_000, 125_000, 250_000, 500_000, 800_000, 1_000_000, 83_333}

// DataBitrates are the CAN FD data-phase bitrates of the Yn commands (CANable 2 firmware);
// 0 marks an unassigned code.
var DataBitrates = [10]int{500_000, 1_000_000, 2_000_000, 3_000_000, 4_000_000, 5_000_000, 0, 0, 8_000_000, 0}

// BitrateCode returns n for the Sn command that selects bps.
func BitrateCode(bps int) (int, bool) {
	if bps == 83_300 {
		bps = 83_333
	}
	return codeOf(Bitrates[:], bps)
}

// DataBitrateCode returns n for the Yn command that selects bps.
func DataBitrateCode(bps int) (int, bool) { return codeOf(DataBitrates[:], bps) }

func codeOf(table []int, bps int) (int, bool) {
	if bps <= 0 {
		return 0, false
	}
	for n, v := range table {
		if v == bps {
			return n, true
		}
	}
	return 0, false
}
