// Package module is the emulated Modbatt battery module: the legacy module-bus behaviour of
// the real firmware (announcement, registration, status answers, state changes under the
// pack's max-state heartbeat, the pack-silence fallback), a seeded cell model behind it, and
// the module's side of the Web4 trust protocol through protocol/session (binding, pairing,
// L5 commands with ACKs, protected telemetry, escalation triggers, key loss, factory reset),
// with its persistent state in an NVM file and its crypto charged on the device clock at the
// ATmega64M1's modelled cost.
//
// # Legacy behaviour
//
// Every module-bus frame the module sends carries in EID bits 8–17 a frame-transfer sequence
// number that starts at 0 at boot, goes up by one for every legacy frame the module sends
// (whatever its base) and wraps from 0x3FF to 0. Receivers do not check it; it only numbers
// the module's own transmissions. Web4 frames do not use it.
//
// A module boots unregistered (module ID 0xFF) and sends its 0x500 announcement at once. It
// answers 0x51D addressed to 0xFF (or broadcast) while unregistered. It adopts the module ID
// of a 0x510 registration whose manufacturer, part and unique ID equal its own, whether or
// not it already had one; any other registration is refused and counted. A registered module
// serves frames whose EID module field is its ID or broadcast (0x00):
//
//   - 0x511 → 0x501 at once;
//   - 0x512 → 0x502, 0x503, 0x504, 0x507 in that order, StatusDelay (10 ms) after the request
//     on the device clock; a second request before the answer goes out is answered once;
//   - 0x515 → 0x505 for the cell asked (cell IDs count from 0; an ID beyond the cell count is
//     bad input, counted, and not answered);
//   - 0x514 → the requested state, but never above the latest 0x517 max state (Off until the
//     first heartbeat); a lower 0x517 pulls the state down at once, and a higher one lets the
//     module reach the state last requested (the request is kept, the heartbeat only caps it);
//   - 0x516 sets the module's time; while it has none, a registered module sends 0x506 right
//     after registration and every TimeRequestPeriod (5 s) after that;
//   - 0x518 (its ID) and 0x51E drop the module ID and go Off; the module then waits for an
//     announce request; 0x51F opens the relays (Off) and keeps the ID.
//
// Hearing no legacy frame from the pack (and no Web4 frame from address 0x40) for
// SilenceTimeout (11.1 s) makes a registered module drop its ID, go Off, listen as 0xFF and
// send a fresh announcement.
//
// The high nibble of 0x502 byte 0 is defined here as flags: bit 4 fault (a dead cell or a
// safety limit reached), bit 5 balancing, bit 6 diagnostic mode, bit 7 Web4-isolated (an
// emergency isolate latched until the next 0x514).
//
// # Web4
//
// A module's Web4 node address is its legacy module ID (docs/protocol.md 3.5), so the link engine
// runs only while the module is registered and is restarted over the same NVM records when the
// ID changes. Everything else of the protocol (binding keys, pairing, replay windows, counters,
// escalation triggers on MAC failures and replays) is protocol/session's; this package executes
// the L5 commands against the cell model, sends telemetry to the pack, raises the temperature
// and voltage step triggers of docs/protocol.md 8.1 (between consecutive 100 ms readings), and
// implements the fault hooks.
//
// The module's entity ID defaults to "module-<unique ID in hex>" and its access data is
// {type "can", chain "web4-local", device the entity ID, endpoint "0x<module ID>"}. Once the
// engine runs it sends the L1 image announce (version and SHA-256 of the running image) to the
// pack, and every TelemetryPeriod (1 s) a telemetry record the engine protects as the pairing's
// policy says (nothing before a pairing). L5 commands act on the model: charge/discharge
// enables and limits (refused with bad-args above the hardware's 0x501 limits), safety limits
// (cell voltage, temperature and current bounds that cut the current), cell balancing (a
// bleed current on the masked cells above the target), diagnostic mode (with its duration)
// and emergency isolate (Off, latched until the next 0x514). These operating settings live in
// RAM, as on the real module: after a reset they are the hardware defaults again, while keys,
// bindings, pairings and counter ceilings come back from NVM.
package module
