package message

import "fmt"

// Context is a pairing's operational context.
type Context uint8

const (
	ContextBatteryManagement Context = 1 // normal charge and discharge
	ContextDiagnostics       Context = 2 // troubleshooting and monitoring
	ContextFirmwareUpdate    Context = 3 // image transfer and activation
	ContextEmergency         Context = 4 // safety-critical isolation only
)

func (c Context) String() string {
	switch c {
	case ContextBatteryManagement:
		return "battery_management"
	case ContextDiagnostics:
		return "diagnostics"
	case ContextFirmwareUpdate:
		return "firmware_update"
	case ContextEmergency:
		return "emergency"
	}
	return fmt.Sprintf("context-%d", uint8(c))
}

func (c Context) valid() bool { return c >= ContextBatteryManagement && c <= ContextEmergency }

// Role is an entity's role in the system.
type Role uint8

const (
	RoleApp       Role = 1 // the Modbatt app on the host PC
	RolePack      Role = 2 // the pack controller (gateway)
	RoleModule    Role = 3 // a battery module
	RoleAuthority Role = 4 // the auth controller
)

func (r Role) String() string {
	switch r {
	case RoleApp:
		return "app"
	case RolePack:
		return "pack"
	case RoleModule:
		return "module"
	case RoleAuthority:
		return "authority"
	}
	return fmt.Sprintf("role-%d", uint8(r))
}

func (r Role) valid() bool { return r >= RoleApp && r <= RoleAuthority }

// Protection is the key level a policy requires, ordered by strength. It is not the CAN ID's
// two-bit level field (see protocol/canid), which has no "clear" value.
type Protection uint8

const (
	ProtClear    Protection = 0
	ProtExchange Protection = 1 // exchange-level (telemetry) key
	ProtPairing  Protection = 2 // per-direction pairing key
	ProtBinding  Protection = 3 // binding key (signature or binding-derived key)
)

func (p Protection) valid() bool { return p <= ProtBinding }

// Class is a message class a pairing's encryption policy rules on.
type Class uint8

const (
	ClassCommand    Class = 1 // L5 charge/discharge, balancing, diagnostic mode
	ClassControl    Class = 2 // safety-limit configuration
	ClassStatus     Class = 3 // status heartbeat
	ClassTelemetry  Class = 4 // voltage, current, temperature records
	ClassValidation Class = 5 // witness, escalation, L6/L7
	ClassFirmware   Class = 6 // image transfer
	ClassEmergency  Class = 7 // emergency isolate
)

func (c Class) valid() bool { return c >= ClassCommand && c <= ClassEmergency }

// Level is a validation level L1–L7.
type Level uint8

const (
	L1Announce Level = 1 + iota
	L2Witness
	L3SignedHandshake
	L4PairedHandshake
	L5PairedCommand
	L6PairingValidation
	L7BindingValidation
)

func (l Level) valid() bool { return l >= L1Announce && l <= L7BindingValidation }

// COSE algorithm identifiers used in the catalogue's algorithm fields.
const (
	AlgES256      = -7 // ECDSA P-256 with SHA-256
	AlgECDHES     = -25
	AlgA256GCM    = 3
	AlgHMAC256    = 5 // HMAC-SHA256, full 256-bit tag
	AlgDirectHKDF = -10
)

// Field sizes in bytes.
const (
	IDSize    = 16 // pairing ID, binding ID (UUID bytes)
	HashSize  = 32 // SHA-256
	NonceSize = 16 // protocol nonces (validation nonce, handshake nonces)
	HalfSize  = 32 // pairing key half
	KeySize   = 32 // AES-256 key
	SigSize   = 64 // ECDSA P-256 r||s
	MACSize   = 32 // HMAC-SHA256
	PointSize = 65 // uncompressed SEC1 P-256 point
)
