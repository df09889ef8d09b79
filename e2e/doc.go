// Package e2e holds the end-to-end tests of the Web4 system: the authority, the host app, the pack
// controller and its modules on two emulated buses, taken through binding, pairing, L5 commands,
// protected telemetry and key-loss recovery. The flow runs three ways: with the protocol engines
// alone, with the gateway and firmware device packages in one process (with zero and with modelled
// MCU costs), and with the built gateway and firmware images as separate programs on emulated buses
// served over Unix sockets (skipped under -short).
package e2e
