// Package emu is the emulated CAN bus: a user-space bus that endpoints in one process, and
// clients in other processes over a local socket, join as if they shared a wire.
//
// # Timing model
//
// Every frame occupies the bus for its bit-accurate wire time, bus.Timing.Duration under the
// configured stuffing model (worst case by default). The bus keeps an ideal schedule: a frame
// starts when the bus goes idle or when it was queued, whichever is later, and ends its duration
// later; a receiver sees the end-of-frame time as bus.Received.Time. With RealTime pacing the bus
// waits on its clock.Clock until each frame's end before delivering it (a clock.Sim makes that
// simulated time); with AsFastAsPossible it delivers at once and its timestamps run ahead of the
// wall clock while it is loaded.
//
// # Arbitration
//
// Each endpoint has a FIFO transmit queue whose head contends. The heads that are ready within
// one nominal bit time of the earliest start contend together and the lowest arbitration field
// wins: the 11-bit base identifier first, then SRR/IDE (a standard frame beats an extended one
// with the same base), then the 18-bit extension, then RTR (a data frame beats a remote frame).
//
// # Faults
//
// Rules (Fault) filter frames by identifier mask/value, format and sender, fire with a
// probability drawn from a seeded generator, and may be limited to a number of firings. The
// first rule that matches and fires decides the frame's fate: drop, corrupt (delivered with
// flipped data bits), error (destroyed by an error frame and retransmitted, charging the
// sender's transmit error counter), delay, duplicate, or bus-off of the sender. ParseFaults reads
// the textual rule syntax of `hilrun bus serve --faults`.
//
// # Wire protocol
//
// A Server exposes a bus on stream sockets. A connection carries SocketCAN records in host
// (little-endian) order: a 16-byte struct can_frame for a classic frame, a 72-byte struct
// canfd_frame, marked by CANFD_FDF (0x04) in its flags byte, for an FD frame, and error records
// (CAN_ERR_FLAG with CAN_ERR_BUSOFF or CAN_ERR_RESTARTED) for controller state. In the framed
// mode (addresses "unix:PATH", "tcp:HOST:PORT") the client first sends a hello, the server
// answers with the bus parameters, and every record the server sends is preceded by an 8-byte
// little-endian timestamp (nanoseconds since the Unix epoch, on the bus's clock); the client's
// records carry the same 8-byte prefix, which the server ignores. In the raw mode
// ("raw+unix:PATH", "raw+tcp:HOST:PORT") there is no hello and no prefix, so einride's
// socketcan.NewReceiver and NewTransmitter can use the connection as they would a kernel
// socket. docs/emulated-bus.md has the byte-level tables.
package emu
