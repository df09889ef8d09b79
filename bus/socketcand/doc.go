// Package socketcand speaks the socketcand protocol, the ASCII-over-TCP way tools such as
// python-can's socketcand interface and Kayak reach a CAN bus on another machine: a codec for
// its elements (Parse, Append, Splitter), a server (NewServer) that gives every TCP client its
// own bus.Endpoint, and a client (Dial) that joins a socketcand server as a bus.Endpoint.
//
// # Protocol (the raw-mode subset)
//
// Every message is one element, "< word args… >", with single spaces between tokens and no
// separator between elements. On connect the server sends "< hi >". The client opens a bus with
// "< open NAME >" and the server answers "< ok >" (or "< error could not open bus >" and hangs up);
// the connection is then in BCM mode, where only echo and the send commands work here.
// "< rawmode >" (answered "< ok >") switches to raw mode, in which every frame on the bus is sent
// to the client as it is received; "< bcmmode >" switches back. "< echo >" is answered with
// "< echo >" in every mode. Unknown commands are answered "< error unknown command >".
//
//	< frame ID SECS.USECS DATA >           received classic data frame
//	< rtr ID SECS.USECS DLC >              received remote frame
//	< fdframe ID FLAGS SECS.USECS DATA >   received CAN FD frame
//	< send ID LEN B0 B1 … >                transmit a classic data frame
//	< sendrtr ID DLC >                     transmit a remote frame
//	< fdsend ID FLAGS LEN B0 B1 … >        transmit a CAN FD frame
//
// ID is hex: three digits for a standard identifier, eight for an extended one. A client that
// writes an identifier with another number of digits gets an extended identifier when the value
// does not fit in 11 bits (python-can writes identifiers without leading zeros). LEN and DLC are
// decimal; each transmitted byte Bn is one or two hex digits; a received frame's DATA is two hex
// digits per byte with no spaces (nothing at all for an empty frame, leaving two spaces before
// ">"). FLAGS is hex: 0x01 bit-rate switch, 0x02 error state indicator (0x04, FD format, may be
// set). The time is the frame's bus time in seconds and microseconds since the Unix epoch.
package socketcand
