// Package slcan speaks the Lawicel ASCII protocol ("slcan") that serial USB-CAN adapters such as
// the CANable, USBtin and Lawicel CANUSB use: a pure codec for the lines both sides send
// (ParseCommand, ParseReply, AppendCommand, AppendReply, Splitter), and a transport, Open, that
// drives an adapter on a serial port and presents it as a bus.Endpoint.
//
// # Lines
//
// Every host command ends with CR (0x0D). The device answers each command with exactly one
// reply: a bare CR for success (or a payload line ending in CR for queries), or BEL (0x07) for an
// error. A transmit command is acknowledged with "z\r" (standard) or "Z\r" (extended) by
// Lawicel devices and with a bare CR by others; both are accepted. Received frames arrive
// unsolicited, interleaved with replies, in the same syntax the host uses to transmit:
//
//	tIIIL[DD…][SSSS]       classic data frame, 11-bit ID, L = 0–8
//	TIIIIIIIIL[DD…][SSSS]  classic data frame, 29-bit ID
//	rIIIL[SSSS]            remote frame, 11-bit ID, L = requested length
//	RIIIIIIIIL[SSSS]       remote frame, 29-bit ID
//	dIIIL… DIIIIIIIIL…     CAN FD frame without bit-rate switch, L = DLC 0–F
//	bIIIL… BIIIIIIIIL…     CAN FD frame with bit-rate switch
//
// SSSS is the optional timestamp a device adds after "Z1": milliseconds, four hex digits,
// wrapping at 60000. Hex digits are accepted in either case and written in upper case.
//
// Configuration commands, valid while the channel is closed: Sn (nominal bitrate, see
// Bitrates), sXXXX… (controller-specific bit timing), Yn (FD data bitrate, see DataBitrates),
// yXXXX…, Zn (timestamps off/on), Mxxxxxxxx / mxxxxxxxx (acceptance code/mask). O opens the
// channel, L opens it listen-only, C closes it. V, v and N query the hardware/firmware version,
// the firmware version and the serial number; F reads (and clears) the status flags.
package slcan
