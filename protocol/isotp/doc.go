// Package isotp is the ISO 15765-2:2016 transport layer (ISO-TP) of Web4 profile v1: it segments
// messages into single, first and consecutive frames, reassembles them, and runs flow control,
// over classic 8-byte and CAN FD frames up to 64 bytes.
//
// Addressing is normal fixed addressing on the Web4 identifiers of package canid: a message's
// identifier carries its type, source and destination, and flow control for it travels on
// ID.Reply() (same type, source and destination swapped). One reception runs per
// (source, message type) and one transmission per (destination, message type).
//
// The engine (Node) does no I/O and reads no clock: callers feed it frames and the current time
// and send the frames it returns. Conn runs a Node over a bus.Endpoint and a clock.Clock.
// Format is the frame codec on its own; Parse decodes any frame's protocol control information.
package isotp
