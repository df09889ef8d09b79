// Package framework owns the bring-up and teardown of the system under test on a rig, so
// that the suites only describe behaviour as a user sees it.
//
// Up brings a rig up in order: build the firmware and gateway images with version, commit and
// hash stamped in (image.Build, once per Images cache), flash each device (the emulated
// method hands the built bytes to the device's boot loader, which refuses bytes that do not
// hash to the built image), start the buses (in-process bus/emu buses, or the same buses
// served on Unix sockets for devices that run as separate programs), start the authority on
// loopback with a temporary state directory, power the devices on, wait for every device to
// report the expected image, and start the app role the suites drive. Down always leaves a
// candump log and a pcap file of every bus in the report directory, whatever happened before.
//
// Devices that have not landed in the tree are reported by System.Missing rather than faked,
// so that no spec passes without the code it is about.
package framework
