// Package rig reads rig files: the YAML description of a bench (its CAN buses and their
// transports, the devices with their roles, images, flashing methods and node addresses, power
// control, the authority, the budget sheet and capture settings).
//
// Load and Parse decode strictly (an unknown field is an error) and validate the whole file,
// collecting every problem as a Problem named by its YAML path, e.g.
// "devices[3].flash.port: required for method stm32-uart". Rig.CanRunHere asks an Env whether
// this machine has what the rig needs (interfaces, serial ports, tools). docs/rigs.md describes
// the format field by field.
package rig
