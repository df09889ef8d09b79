package pack

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/session"
	"github.com/modbatt/hilrun/protocol/suite"
)

// Timing of the pack firmware (brief section 2). Config fields of the same names override them
// for tests that need other values; zero means these.
const (
	PollPeriod       = 100 * time.Millisecond // one module status request per slot
	RepollAfter      = 2 * time.Second        // a module silent longer than this is polled again
	ModuleTimeout    = 4 * time.Second        // a module silent this long has timed out
	MaxTimeouts      = 3                      // timeouts in a row before deregistration
	AnnouncePeriod   = 10 * time.Second       // 0x51D announce request to EID 0xFF
	HeartbeatPeriod  = 200 * time.Millisecond // 0x517 max-state heartbeat
	BlockPeriod      = 500 * time.Millisecond // app-bus block 0x410, 0x421–0x425, 0x411–0x416
	AppStandbyAfter  = 600 * time.Millisecond // no app frame for this long: Standby
	AppOffAfter      = 1200 * time.Millisecond
	DefaultSendLimit = 50 * time.Millisecond // longest wait for a transmit queue slot
)

// Values the pack puts into frames whose meaning the upstream sources leave open.
const (
	// SetTimeMarker is byte 0 of every 0x516 the pack sends.
	SetTimeMarker uint8 = 0xA5
	// AnnounceRequestAll is the 0x51D request type: every unregistered module announces.
	AnnounceRequestAll uint8 = 0x00
)

// Deregistration reasons (0x518 byte 1).
const (
	ReasonTimeout   uint8 = 0x01 // three timeouts in a row
	ReasonDuplicate uint8 = 0x02 // the unique ID registered again under another ID
	ReasonApp       uint8 = 0x03 // reserved for an operator's request
)

// Module status flags (high nibble of 0x502 byte 0), as the module firmware sets them.
const (
	flagFault     = 0x1
	flagBalancing = 0x2
)

// Config configures a pack controller. CAN1, CAN2 and Clock are required.
type Config struct {
	// PackID is 0 or 1: pack 1 shifts every app-bus identifier by 0x100 and is Web4 node 0x41.
	PackID uint8
	// ControllerID is byte 1 of 0x510; zero means PackID+1.
	ControllerID uint8
	CAN1         bus.Endpoint // app side: legacy 11-bit app bus and Web4
	CAN2         bus.Endpoint // module side: legacy 29-bit module bus and Web4
	Clock        clock.Clock
	Logger       *slog.Logger

	// MaxState caps every state the pack requests (0x517 and 0x514); zero value Off would
	// forbid everything, so the zero Config means On (see NoCap).
	MaxState legacy.State
	NoCap    bool // MaxState as given even when it is Off
	// ModuleFramesPerBlock is how many modules' 0x411–0x416 go out with each app-bus block,
	// round robin; 0 means 1, negative means every registered module.
	ModuleFramesPerBlock int
	// HVSense, when set, is the pack's own HV bus measurement: 0x421 reports it instead of the
	// sum of the module voltages while it returns ok.
	HVSense func() (volts float64, ok bool)

	// Timing overrides (zero: the firmware's values above).
	PollPeriod, RepollAfter, ModuleTimeout, AnnouncePeriod     time.Duration
	HeartbeatPeriod, BlockPeriod, AppStandbyAfter, AppOffAfter time.Duration
	MaxTimeouts                                                int
	SendLimit                                                  time.Duration

	// OnEvent receives the pack's events (registrations, timeouts, state changes …). It is
	// called from the pack's loop and must not block.
	OnEvent func(Event)

	// Web4 gateway; without Authority the pack speaks legacy only and counts Web4 frames.
	Authority *suite.PublicKey
	EntityID  string                // the pack's entity ID; "" means "pack-<PackID>"
	Store     Store                 // persistent records (nvm); nil means memory only
	Rand      io.Reader             // randomness for keys; required with Authority
	Profile   mcu.Profile           // crypto cost profile; zero value means mcu.STM32WB55()
	Image     image.Image           // the running image, reported at boot
	Modules   []uint8               // module addresses the CAN1 engine proxies for; nil means 0x01–0x1F
	Session   func(*session.Config) // adjusts both engines' configs before they are made (tests, benches)
	// CAN1FD says the app bus is a CAN FD bus: the CAN1 engine segments into 64-byte FD frames
	// with bit-rate switching (ISO-TP profile v1 FD). The module bus stays classic: the
	// modules' controllers are CAN 2.0.
	CAN1FD bool
}

// Store is the persistent record store the pack keeps its keys, bindings, pairings and
// counters in (an *nvm.Store satisfies it).
type Store interface {
	Get(name string) ([]byte, bool)
	Put(name string, value []byte) error
	Delete(names ...string) error
}

// ErrConfig is wrapped by New for an unusable Config.
var ErrConfig = errors.New("pack: bad configuration")

func (c *Config) fill() error {
	switch {
	case c.CAN1 == nil || c.CAN2 == nil:
		return fmt.Errorf("%w: both CAN1 and CAN2 are required", ErrConfig)
	case c.Clock == nil:
		return fmt.Errorf("%w: no clock", ErrConfig)
	case c.PackID > legacy.MaxPack:
		return fmt.Errorf("%w: pack ID %d (0 or 1)", ErrConfig, c.PackID)
	case c.MaxState > legacy.StateOn:
		return fmt.Errorf("%w: max state %d", ErrConfig, c.MaxState)
	case c.Authority != nil && c.Rand == nil:
		return fmt.Errorf("%w: Web4 needs a random source", ErrConfig)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ControllerID == 0 {
		c.ControllerID = c.PackID + 1
	}
	if c.MaxState == legacy.StateOff && !c.NoCap {
		c.MaxState = legacy.StateOn
	}
	if c.ModuleFramesPerBlock == 0 {
		c.ModuleFramesPerBlock = 1
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.PollPeriod, PollPeriod)
	def(&c.RepollAfter, RepollAfter)
	def(&c.ModuleTimeout, ModuleTimeout)
	def(&c.AnnouncePeriod, AnnouncePeriod)
	def(&c.HeartbeatPeriod, HeartbeatPeriod)
	def(&c.BlockPeriod, BlockPeriod)
	def(&c.AppStandbyAfter, AppStandbyAfter)
	def(&c.AppOffAfter, AppOffAfter)
	def(&c.SendLimit, DefaultSendLimit)
	if c.MaxTimeouts <= 0 {
		c.MaxTimeouts = MaxTimeouts
	}
	if c.EntityID == "" {
		c.EntityID = fmt.Sprintf("pack-%d", c.PackID)
	}
	if c.Profile.Name == "" {
		c.Profile = mcu.STM32WB55()
	}
	if c.Modules == nil {
		for a := canid.AddrModuleFirst; a <= canid.AddrModuleLast; a++ {
			c.Modules = append(c.Modules, a)
		}
	}
	return nil
}

// Addr is the pack's Web4 node address: 0x40 for pack 0, 0x41 for pack 1.
func (c *Config) Addr() uint8 { return canid.AddrPack + c.PackID }
