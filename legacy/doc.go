// Package legacy encodes and decodes the legacy Modbatt CAN messages: the module bus (CAN2,
// pack ⇄ modules) and the app bus (CAN1, app ⇄ pack). It knows nothing of I/O or timing; the
// emulated pack and modules, the decoder tool and the suites build on it.
//
// # Identifiers
//
// Module bus: 29-bit identifiers (base << 18) | (seq << 8) | module, with base 0x500–0x51F,
// a 10-bit frame-transfer sequence number in EID bits 8–17 and the module ID in bits 0–7
// (0x00 broadcast, 0x01–0x1F assigned, 0xFF unregistered; other values are rejected).
// App bus: 11-bit identifiers 0x400–0x430 for pack 0; pack 1 adds 0x100. Messages are named by
// MsgID, the module-bus base or the pack-0 app-bus identifier (the two ranges are disjoint).
//
// # Payloads
//
// Bits are numbered little-endian across the 8 payload bytes (bit 0 is the low bit of byte 0)
// and multi-byte fields are little-endian. Each message type documents its layout beside its
// fields. Physical values are float64 in volts, amps, °C and percent; raw = round((phys −
// offset) / factor), and decoding gives the double nearest the exact decimal value.
//
// Encoders write the length the firmware sends (for example 8 bytes for 0x504, whose last two
// are unused) and refuse values the field cannot carry (*RangeError) or does not define
// (*ValueError: a state above On, a module ID outside 0x01–0x1F). Decoders accept any length
// from the end of the last defined field up to 8 bytes and ignore unused bits and padding;
// they reject shorter payloads (*LengthError), undefined enum values and module IDs
// (*ValueError), identifiers outside the legacy space or without a defined message
// (*IDError), and remote or CAN FD frames (ErrFrameKind).
//
// # Layouts hilrun defines
//
// The upstream sources name some frames without a layout; hilrun fixes these:
//   - 0x508 cell-comm status 2: timeouts u16, checksum errors u16, overruns u16, responding
//     cells u8, 1 unused byte.
//   - 0x516 set time: marker u8, then epoch seconds u32 (5 bytes).
//   - 0x518 deregister: module ID u8, reason u8; 0x51E / 0x51F: reason u8; 0x51D: request type u8.
//   - 0x411–0x416 follow the pack firmware's app-bus frames: module ID in byte 0, then the
//     module's values at the CAN2 scalings (SOC/SOH ×0.5 %, voltage ×0.015 V, current
//     ×0.02 − 655.36 A, cell voltage in mV, temperature ×0.01 − 55.35 °C).
//   - 0x41F module list: bit n set means module ID n is registered.
//
// # Why hand-written codecs
//
// einride's DBC code generator gives each message one fixed identifier, but a legacy
// module-bus message is a family of identifiers (every module ID and sequence number) and
// every app-bus message exists twice (pack 0 and 1). The codecs here are therefore written
// by hand around one field table per message; modbatt.dbc describes the same layouts for
// outside tools (SavvyCAN, cantools, Wireshark), and a test checks the two agree.
package legacy
