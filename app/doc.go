// Package app is the host app role the bench plays: the Modbatt app's Web4 side on CAN1. It
// runs a protocol/session engine towards the pack controller over any bus.Endpoint (emulated,
// slcan, SocketCAN), serves its own POST /api/binding/generate-keys (for its own key, and as the
// CAN relay through which the authority reaches the pack and the modules), and drives the
// flows the suites need: binding the pack and the modules through the authority, pairing in a
// context, L5 commands to the pack or a module behind it, telemetry and escalation
// subscriptions, and key-loss recovery (revocation, re-binding, re-pairing).
package app
