// Package e2e holds the end-to-end tests of the Web4 system in one process: the authority, the
// host app, the pack controller and its modules on two emulated buses, taken through binding,
// pairing, L5 commands, protected telemetry and key-loss recovery.
package e2e
