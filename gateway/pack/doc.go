// Package pack is the pack controller device: the legacy Modbatt pack firmware on its two
// buses and the Web4 security gateway between them. CAN1 faces the app (legacy 11-bit app bus
// and Web4 extended frames), CAN2 the modules (legacy 29-bit module bus and Web4). Clock, buses,
// NVM store, MCU cost profile and image are parameters (Config); Run runs the device until its
// context ends and no goroutine outlives it.
//
// # Legacy behaviour
//
// The firmware logic is a state machine without I/O (frames and time in, frames and events
// out) driven by Device's loop, so its timing is tested to the millisecond on a simulated clock:
//
//   - registration: a 0x500 announcement gets the lowest free module ID 0x01–0x1F in a 0x510
//     to EID 0xFF (controller ID = Config.ControllerID, manufacturer, part and unique ID echoed),
//     followed by a 0x511 hardware request and, if the pack is above Off, its 0x514; a unique ID
//     already registered gets its old ID again;
//   - polling: a 100 ms slot timer; each slot first handles silence (a module silent for 4 s
//     has timed out: counted, inactive, its silence clock restarted; at the third timeout in a
//     row it is deregistered with 0x518 reason 0x01), then sends one 0x512: to a module that has
//     been silent for more than 2 s and not yet polled again (the re-poll), otherwise to the next
//     module in round-robin order that is not still waiting to answer its last request. Any
//     frame from a module clears its silence, its wait and its timeouts;
//   - every 10 s a 0x51D (request type 0) to EID 0xFF, every 200 ms a 0x517 to EID 0x00 with
//     the max state, both from boot;
//   - every 500 ms the app-bus block 0x410, 0x421, 0x422, 0x423, 0x425, then 0x411–0x416 of
//     Config.ModuleFramesPerBlock modules (default one per block, round robin): pack voltage is
//     the sum of the active modules' voltages (or Config.HVSense), current, SOC and mean
//     temperature are means, SOH the lowest, cell and temperature extremes the extremes, the
//     average cell voltage weighted by cell count, current limits the lowest module limits and
//     the charge-end voltage their sum;
//   - the app link: any app-to-pack frame of this pack refreshes it; no such frame for 600 ms
//     limits the pack to Standby, for 1.2 s to Off (and forgets the app's request, so only a new
//     0x400 raises the pack again). Before the first app frame the limit is Off;
//   - 0x400 sets the requested state; the pack requests min(request, max state) of every
//     module with 0x514 whenever that changes (max state = min(Config.MaxState, link limit));
//     0x404 sends one module (or, with module 0, every module) its 0x514 under the max state;
//     0x401 sets the pack's time and broadcasts 0x516; a module's 0x506 is answered with 0x516;
//     0x406 is answered with the 0x41F bitmap.
//
// With a Config.Store the module registry is kept in the record RegistryRecord, so a pack
// that restarts polls its modules under the IDs they still hold instead of losing them.
//
// Bad input (undecodable or unknown identifiers, the wrong bus, messages only a pack sends,
// traffic from unassigned module IDs) is counted in Stats.Rejected by cause and dropped; the
// pack keeps serving.
//
// # Web4 gateway
//
// With Config.Authority set, the pack runs two protocol/session engines fed by its own bus
// readers: CAN1's holds the app binding and pairing and proxies the module addresses, CAN2's
// one link per module. Commands verified under the app pairing are executed (target the pack:
// acknowledged with the pack's state; an emergency isolate also sends 0x51F to every module
// and drops the request to Off) or forwarded re-protected under each module's pairing, and the module's ACK returns under
// the app pairing; announces, keys answers, completions, telemetry and escalations from the
// modules are relayed to the app (escalations through the CAN1 engine's rate limit; a
// module's single-frame telemetry, once verified, as a single frame under the app pairing with
// the module's address as source, docs/protocol.md 6.5). Crypto is
// charged on the MCU profile (STM32WB55 by default). ISO-TP allows MinISOTPSessions concurrent
// receptions per engine. Records live in Config.Store under "can1/" and "can2/", so bindings,
// pairings and counter reservations survive a power cycle. At start the pack logs its image
// (version, commit, SHA-256) and sends the app its boot report, an L1 image announce.
//
// Module updates (docs/protocol.md 4.14) are relayed message by message: a firmware message
// from the app for a module is opened under the app's firmware_update pairing and sealed again
// under the module's; the module's bulk-ack goes back the same way (transfer.go).
//
// A bus-off of either controller is counted; with Web4 the engine of that bus asks its
// upstream for an L4 re-handshake once the controller hears the bus again (docs/protocol.md 8.1).
//
// Module state changes seen in 0x502 are witnessed (L2) towards the app: a witness statement
// signed with the pack's binding key towards the app (state after the change, the hash of what
// was observed), sent at binding level once the app is bound.
package pack
