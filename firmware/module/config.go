package module

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/nvm"
	"github.com/modbatt/hilrun/protocol/suite"
)

// Defaults of Config.
const (
	DefaultCells             = 16
	MaxCells                 = 94
	DefaultManufacturer      = 0x4D // 'M'
	DefaultPart              = 0x01
	DefaultFirmwareBuild     = 0x0107
	DefaultHWVersion         = 0x0002
	DefaultStatusDelay       = 10 * time.Millisecond
	DefaultSilenceTimeout    = 11100 * time.Millisecond
	DefaultStepPeriod        = 100 * time.Millisecond
	DefaultTimeRequestPeriod = 5 * time.Second
	DefaultTelemetryPeriod   = time.Second
	DefaultShortTelemetry    = 100 * time.Millisecond // single-frame telemetry (docs/protocol.md 1.3)
	DefaultCapacityAh        = 10
	DefaultMaxChargeA        = 50
	DefaultMaxDischargeA     = 100
	DefaultDemandA           = -8 // discharging
	DefaultAmbientC          = 25
	DefaultSOC               = 0.6
	DefaultSOH               = 98
	DefaultChainID           = "web4-local" // the app's and the pack's default ledger
)

// Config configures a Device. Bus is required; everything else has a default.
type Config struct {
	Clock  clock.Clock  // nil: clock.Real{}
	Bus    bus.Endpoint // the module bus (CAN2)
	NVM    *nvm.Store   // nil: an in-memory store (state lost with the device)
	Logger *slog.Logger // nil: discard
	Rand   io.Reader    // key material; nil: crypto/rand
	// Profile prices the module's crypto on Clock; the zero value means mcu.ATmega64M1().
	// Pass mcu.Zero() to charge nothing.
	Profile mcu.Profile
	Image   image.Image // the running image, reported at boot

	// Identity: immutable, kept through a factory reset.
	UniqueID      uint32
	Manufacturer  uint8  // 0: DefaultManufacturer
	Part          uint8  // 0: DefaultPart
	FirmwareBuild uint16 // 0: DefaultFirmwareBuild
	HWVersion     uint16 // 0: DefaultHWVersion
	EntityID      string // Web4 entity ID; "": "module-%08x" of UniqueID
	ChainID       string // access data chain ID; "": DefaultChainID

	// Cell model.
	Cells         int     // 1–94; 0: DefaultCells
	Seed          uint64  // seeds the model's noise and spreads
	CapacityAh    float64 // 0: DefaultCapacityAh
	MaxChargeA    float64 // hardware limit, 0x501; 0: DefaultMaxChargeA
	MaxDischargeA float64 // 0: DefaultMaxDischargeA
	DemandA       float64 // what the load asks in On (positive charges); NaN-free; 0 means DefaultDemandA unless NoDemand
	NoDemand      bool    // no load: zero current even in On
	AmbientC      float64 // 0: DefaultAmbientC
	InitialSOC    float64 // 0–1; 0: DefaultSOC

	// Timing (zero values take the defaults).
	StatusDelay       time.Duration
	SilenceTimeout    time.Duration
	StepPeriod        time.Duration
	TimeRequestPeriod time.Duration
	TelemetryPeriod   time.Duration
	// ShortTelemetryPeriod is the period of single-frame telemetry (one signal per frame, in
	// turn); NoShortTelemetry turns it off.
	ShortTelemetryPeriod time.Duration
	NoShortTelemetry     bool

	// Web4.
	NoWeb4    bool             // legacy only
	Authority *suite.PublicKey // the authority's key; nil refuses every binding record
	// PairingTimeout overrides the 30 s partial-pairing timeout (tests).
	PairingTimeout time.Duration
	// TempStepC and VoltStepV are the escalation triggers of docs/protocol.md 8.1 between
	// consecutive readings; 0: 10 °C and 0.3 V.
	TempStepC float64
	VoltStepV float64

	// Updates over CAN (docs/protocol.md 4.14). BootLoader stores and boots a received image;
	// nil refuses every image until SetBootLoader installs one. MaxImage bounds the image
	// size; 0: DefaultMaxImage.
	BootLoader BootLoader
	MaxImage   int
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("module: bad configuration")

func (c *Config) fill() error {
	if c.Bus == nil {
		return fmt.Errorf("%w: no bus endpoint", ErrConfig)
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.Profile.Name == "" {
		c.Profile = mcu.ATmega64M1()
	}
	if c.Image.Version == "" {
		c.Image.Name, c.Image.Version, c.Image.Commit = "firmware", "dev", "unknown"
	}
	if c.Manufacturer == 0 {
		c.Manufacturer = DefaultManufacturer
	}
	if c.Part == 0 {
		c.Part = DefaultPart
	}
	if c.FirmwareBuild == 0 {
		c.FirmwareBuild = DefaultFirmwareBuild
	}
	if c.HWVersion == 0 {
		c.HWVersion = DefaultHWVersion
	}
	if c.EntityID == "" {
		c.EntityID = fmt.Sprintf("module-%08x", c.UniqueID)
	}
	if c.ChainID == "" {
		c.ChainID = DefaultChainID
	}
	if c.Cells == 0 {
		c.Cells = DefaultCells
	}
	if c.Cells < 1 || c.Cells > MaxCells {
		return fmt.Errorf("%w: %d cells (1–%d)", ErrConfig, c.Cells, MaxCells)
	}
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.CapacityAh, DefaultCapacityAh)
	def(&c.MaxChargeA, DefaultMaxChargeA)
	def(&c.MaxDischargeA, DefaultMaxDischargeA)
	def(&c.AmbientC, DefaultAmbientC)
	def(&c.InitialSOC, DefaultSOC)
	def(&c.TempStepC, 10)
	def(&c.VoltStepV, 0.3)
	if c.DemandA == 0 && !c.NoDemand {
		c.DemandA = DefaultDemandA
	}
	if c.InitialSOC < 0 || c.InitialSOC > 1 {
		return fmt.Errorf("%w: initial SOC %g outside 0–1", ErrConfig, c.InitialSOC)
	}
	if c.CapacityAh < 0 || c.MaxChargeA < 0 || c.MaxDischargeA < 0 || c.MaxChargeA > 3000 || c.MaxDischargeA > 3000 {
		return fmt.Errorf("%w: negative capacity or current limit", ErrConfig)
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.MaxImage <= 0 {
		c.MaxImage = DefaultMaxImage
	}
	dur(&c.StatusDelay, DefaultStatusDelay)
	dur(&c.SilenceTimeout, DefaultSilenceTimeout)
	dur(&c.StepPeriod, DefaultStepPeriod)
	dur(&c.TimeRequestPeriod, DefaultTimeRequestPeriod)
	dur(&c.TelemetryPeriod, DefaultTelemetryPeriod)
	dur(&c.ShortTelemetryPeriod, DefaultShortTelemetry)
	return nil
}
