package isotp

import (
	"fmt"
	"time"
)

// Config holds a node's transport parameters. Start from ProfileV1 and adjust; in NewNode a zero
// duration or limit takes the profile v1 value.
type Config struct {
	Format // how this node's frames are laid out

	// Flow control this node asks of its senders.
	BlockSize uint8         // BS: CFs per block, 0 = no further flow control
	STmin     time.Duration // separation time between CFs, encoded with EncodeSTmin

	// RxWaits makes the receiver answer each first frame and each completed block with this
	// many WAIT flow controls, RxWaitGap apart, before the CTS: a test hook that exercises a
	// sender's N_Bs and N_WFTmax handling. Profile v1 receivers never send WAIT (0).
	RxWaits   int
	RxWaitGap time.Duration // 0 means half of N_Bs

	// Flow control this node accepts from its receivers.
	WFTmax int // WAIT flow controls accepted in a row before giving up (N_WFTmax); 0 = none

	MaxMessage  int // largest message sent or accepted, in bytes
	MaxSessions int // concurrent receptions, and separately concurrent transmissions

	// Timeouts of ISO 15765-2. N_As and N_Ar bound how long the data link takes to send one
	// frame; they are applied by whatever sends the node's frames (Conn does). N_Br and N_Cs are
	// this node's own reaction times: it answers and sends at once, so they bound nothing here.
	NAs, NAr, NBs, NBr, NCs, NCr time.Duration
}

// Profile v1 values.
const (
	DefaultPadByte     = 0xCC
	DefaultMaxMessage  = MaxFF12
	DefaultMaxSessions = 8
	DefaultWFTmax      = 8
	DefaultTimeout     = 1000 * time.Millisecond // N_As, N_Ar, N_Bs, N_Cr
	DefaultNBr         = 0                       // this node answers at once
	DefaultNCs         = 0
)

// ProfileV1 returns the profile v1 parameters: classic frames padded to 8 bytes with 0xCC, BS 0,
// STmin 0, up to 8 WAITs, 4095-byte messages, 8 sessions each way, 1000 ms timeouts.
func ProfileV1() Config {
	return Config{
		Format:      Format{Pad: true, PadByte: DefaultPadByte},
		WFTmax:      DefaultWFTmax,
		MaxMessage:  DefaultMaxMessage,
		MaxSessions: DefaultMaxSessions,
		NAs:         DefaultTimeout, NAr: DefaultTimeout, NBs: DefaultTimeout, NCr: DefaultTimeout,
	}
}

// ProfileV1FD is ProfileV1 over CAN FD frames of 64 bytes with bit-rate switching.
func ProfileV1FD() Config {
	c := ProfileV1()
	c.FD, c.BRS, c.TxDL = true, true, 64
	return c
}

func (c Config) withDefaults() (Config, error) {
	if err := c.Format.validate(); err != nil {
		return c, err
	}
	for _, d := range []*time.Duration{&c.NAs, &c.NAr, &c.NBs, &c.NCr} {
		if *d <= 0 {
			*d = DefaultTimeout
		}
	}
	if c.MaxMessage <= 0 {
		c.MaxMessage = DefaultMaxMessage
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.RxWaitGap <= 0 {
		c.RxWaitGap = c.NBs / 2
	}
	switch {
	case c.WFTmax < 0 || c.RxWaits < 0:
		return c, fmt.Errorf("isotp: negative N_WFTmax or RxWaits")
	case int64(c.MaxMessage) > MaxMessageLen:
		return c, fmt.Errorf("isotp: maximum message %d exceeds the 32-bit FF_DL", c.MaxMessage)
	case c.STmin < 0 || c.STmin > 127*time.Millisecond:
		return c, fmt.Errorf("isotp: STmin %v outside 0–127 ms", c.STmin)
	}
	return c, nil
}
