package isotp

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/protocol/canid"
)

// Message is one ISO-TP message: its identifier (type, source, destination, protection bits)
// and its bytes.
type Message struct {
	ID   canid.ID
	Data []byte
	FD   bool // received in CAN FD frames
}

// Done reports the end of a transmission: Err is nil when the last frame was handed out.
type Done struct {
	ID  canid.ID
	Err error
}

// Output is what a Node asks its caller to do: send Frames in order, deliver Messages, and
// learn which transmissions ended (Done) and which receptions failed (Errors).
type Output struct {
	Frames   []bus.Frame
	Messages []Message
	Done     []Done
	Errors   []error
}

func (o *Output) add(p Output) {
	o.Frames = append(o.Frames, p.Frames...)
	o.Messages = append(o.Messages, p.Messages...)
	o.Done = append(o.Done, p.Done...)
	o.Errors = append(o.Errors, p.Errors...)
}

// Stats are a node's counters.
type Stats struct {
	RxMessages     uint64 // messages reassembled
	TxMessages     uint64 // messages fully sent
	RxAborted      uint64 // receptions ended without a message
	TxAborted      uint64 // transmissions ended with an error
	Invalid        uint64 // malformed frames ignored
	Unexpected     uint64 // CF or FC with no session for it
	SequenceErrors uint64 // receptions ended by a wrong SN
	Timeouts       uint64 // N_Bs and N_Cr expiries
	Replaced       uint64 // receptions replaced by a new SF or FF
	TooLarge       uint64 // first frames refused for size
	SessionLimit   uint64 // first frames or sends refused because MaxSessions were running
	WaitsReceived  uint64 // WAIT flow controls received
}

type key struct {
	peer uint8
	typ  canid.Type
}

func less(a, b key) bool { return a.peer < b.peer || a.peer == b.peer && a.typ < b.typ }

type reception struct {
	id       canid.ID
	raw      uint32
	fd, brs  bool
	rxDL     int // CAN_DL of the first frame: every CF but the last has this length
	size     int
	buf      []byte
	sn       uint8
	inBlock  int
	deadline time.Time // N_Cr, or when the next WAIT or CTS is due while withholding CTS
	waits    int       // WAITs still to send before the CTS (Config.RxWaits)
}

type txState int

const (
	waitFC txState = iota
	sending
)

type transmission struct {
	id       canid.ID
	raw      uint32
	data     []byte
	off      int
	sn       uint8
	state    txState
	deadline time.Time // N_Bs while waiting for flow control
	bs       int       // block size granted, 0 = unlimited
	left     int       // CFs left in the current block
	stmin    time.Duration
	next     time.Time // earliest time of the next CF
	waits    int
}

// Node is the ISO-TP engine of one node address: it reassembles messages addressed to it and
// segments messages it sends. It is not safe for concurrent use; one loop owns it.
type Node struct {
	addr  uint8
	cfg   Config
	rx    map[key]*reception
	tx    map[key]*transmission
	stats Stats
}

// NewNode makes the engine of node address addr.
func NewNode(addr uint8, cfg Config) (*Node, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Node{addr: addr, cfg: c, rx: map[key]*reception{}, tx: map[key]*transmission{}}, nil
}

// Addr returns the node's address.
func (n *Node) Addr() uint8 { return n.addr }

// Config returns the node's parameters, defaults filled in.
func (n *Node) Config() Config { return n.cfg }

// Stats returns the node's counters.
func (n *Node) Stats() Stats { return n.stats }

// Sessions returns the number of receptions and transmissions in progress.
func (n *Node) Sessions() (rx, tx int) { return len(n.rx), len(n.tx) }

// Accepts reports whether HandleFrame would take the frame: an extended data frame with a
// Web4 identifier of ISO-TP framing, addressed to this node or broadcast.
func (n *Node) Accepts(f *bus.Frame) bool {
	_, err := n.address(f)
	return err == nil
}

func (n *Node) address(f *bus.Frame) (canid.ID, error) {
	if !f.Extended || f.Remote {
		return canid.ID{}, fmt.Errorf("%w: not an extended data frame", ErrNotAddressed)
	}
	id, err := canid.Decode(f.ID, true)
	if err != nil {
		return canid.ID{}, fmt.Errorf("%w: %w", ErrNotAddressed, err)
	}
	if id.Type.Framing() != canid.ISOTP {
		return id, fmt.Errorf("%w: %v is not ISO-TP framed", ErrNotAddressed, id.Type)
	}
	if id.Dst != n.addr && id.Dst != canid.AddrBroadcast {
		return id, fmt.Errorf("%w: destination 0x%02X", ErrNotAddressed, id.Dst)
	}
	return id, nil
}

// Send starts a transmission. A message that fits one frame is sent at once and reported in
// Output.Done; a longer one sends its first frame and waits for flow control.
func (n *Node) Send(msg Message, now time.Time) (Output, error) {
	id := msg.ID
	switch {
	case id.Src != n.addr:
		return Output{}, fmt.Errorf("%w: source 0x%02X, node 0x%02X", ErrAddress, id.Src, n.addr)
	case len(msg.Data) == 0:
		return Output{}, ErrEmpty
	case len(msg.Data) > n.cfg.MaxMessage:
		return Output{}, &Error{ID: id, Err: ErrTooLarge, Detail: fmt.Sprintf("%d > %d bytes", len(msg.Data), n.cfg.MaxMessage)}
	}
	if err := id.Validate(); err != nil {
		return Output{}, err
	}
	if id.Type.Framing() != canid.ISOTP {
		return Output{}, fmt.Errorf("isotp: %v is not ISO-TP framed", id.Type)
	}
	raw := id.Encode()
	k := key{id.Dst, id.Type}
	if _, busy := n.tx[k]; busy {
		return Output{}, &Error{ID: id, Err: ErrBusy}
	}
	if len(msg.Data) <= n.cfg.SFCapacity() {
		f, err := n.cfg.Single(raw, msg.Data)
		if err != nil {
			return Output{}, err
		}
		n.stats.TxMessages++
		return Output{Frames: []bus.Frame{f}, Done: []Done{{ID: id}}}, nil
	}
	if id.Dst == canid.AddrBroadcast {
		return Output{}, &Error{ID: id, Err: ErrFunctional}
	}
	if len(n.tx) >= n.cfg.MaxSessions {
		n.stats.SessionLimit++
		return Output{}, &Error{ID: id, Err: ErrTooManySessions, Detail: "transmissions"}
	}
	data := append([]byte(nil), msg.Data...)
	f, used := n.cfg.First(raw, len(data), data)
	n.tx[k] = &transmission{id: id, raw: raw, data: data, off: used, sn: 1, state: waitFC,
		deadline: now.Add(n.cfg.NBs)}
	return Output{Frames: []bus.Frame{f}}, nil
}

// HandleFrame feeds one received frame. The error says what was wrong with this frame (it
// wraps ErrNotAddressed for frames that are not for this node's ISO-TP layer); the Output still
// carries whatever the frame caused, such as a flow control refusing an oversize message.
func (n *Node) HandleFrame(f bus.Frame, now time.Time) (Output, error) {
	id, err := n.address(&f)
	if err != nil {
		return Output{}, err
	}
	p, err := Parse(&f)
	if err != nil {
		n.stats.Invalid++
		return Output{}, &Error{ID: id, Err: err}
	}
	switch p.Type {
	case Single:
		return n.single(id, &f, p), nil
	case First:
		return n.first(id, &f, p, now)
	case Consecutive:
		return n.consecutive(id, &f, p, now)
	default:
		return n.flowControl(id, p, now)
	}
}

// replace ends a reception that a new SF or FF from the same sender supersedes.
func (n *Node) replace(k key, out *Output) {
	if r, ok := n.rx[k]; ok {
		delete(n.rx, k)
		n.stats.Replaced++
		n.stats.RxAborted++
		out.Errors = append(out.Errors, &Error{ID: r.id, Err: ErrReplaced,
			Detail: fmt.Sprintf("%d of %d bytes received", len(r.buf), r.size)})
	}
}

func (n *Node) single(id canid.ID, f *bus.Frame, p PDU) Output {
	var out Output
	if id.Dst != canid.AddrBroadcast {
		n.replace(key{id.Src, id.Type}, &out)
	}
	n.stats.RxMessages++
	out.Messages = append(out.Messages, Message{ID: id, Data: append([]byte(nil), p.Data...), FD: f.FD})
	return out
}

func (n *Node) first(id canid.ID, f *bus.Frame, p PDU, now time.Time) (Output, error) {
	if id.Dst == canid.AddrBroadcast {
		n.stats.Invalid++
		return Output{}, &Error{ID: id, Err: ErrFunctional, Detail: "first frame to broadcast ignored"}
	}
	var out Output
	k := key{id.Src, id.Type}
	n.replace(k, &out)
	fc := n.fcFormat(f)
	reply := id.Reply().Encode()
	if int64(p.Length) > int64(n.cfg.MaxMessage) {
		n.stats.TooLarge++
		out.Frames = append(out.Frames, fc.FlowControl(reply, Overflow, 0, 0))
		return out, &Error{ID: id, Err: ErrTooLarge, Detail: fmt.Sprintf("first frame announces %d > %d bytes", p.Length, n.cfg.MaxMessage)}
	}
	if len(n.rx) >= n.cfg.MaxSessions {
		n.stats.SessionLimit++
		out.Frames = append(out.Frames, fc.FlowControl(reply, Overflow, 0, 0))
		return out, &Error{ID: id, Err: ErrTooManySessions, Detail: "receptions"}
	}
	r := &reception{id: id, raw: f.ID, fd: f.FD, brs: f.BRS, rxDL: int(f.Len), size: int(p.Length),
		buf: make([]byte, 0, p.Length), sn: 1}
	r.buf = append(r.buf, p.Data...)
	n.rx[k] = r
	n.startFC(r, now, &out)
	return out, nil
}

// startFC answers a first frame or a completed block: CTS at once, or first the configured WAITs.
func (n *Node) startFC(r *reception, now time.Time, out *Output) {
	r.waits = n.cfg.RxWaits
	n.nextFC(r, now, out)
}

// nextFC sends the next flow control of a reception: a WAIT while some are left, else the CTS.
func (n *Node) nextFC(r *reception, now time.Time, out *Output) {
	fc := Format{FD: r.fd, BRS: r.brs, Pad: n.cfg.Pad, PadByte: n.cfg.PadByte}
	reply := r.id.Reply().Encode()
	if r.waits > 0 {
		r.waits--
		out.Frames = append(out.Frames, fc.FlowControl(reply, Wait, 0, 0))
		r.deadline = now.Add(n.cfg.RxWaitGap)
		return
	}
	r.waits = -1 // CTS sent: CFs may come
	out.Frames = append(out.Frames, fc.FlowControl(reply, ContinueToSend, n.cfg.BlockSize, EncodeSTmin(n.cfg.STmin)))
	r.deadline = now.Add(n.cfg.NCr)
}

// fcFormat answers in the frame format the sender used.
func (n *Node) fcFormat(f *bus.Frame) Format {
	return Format{FD: f.FD, BRS: f.BRS, Pad: n.cfg.Pad, PadByte: n.cfg.PadByte}
}

func (n *Node) consecutive(id canid.ID, f *bus.Frame, p PDU, now time.Time) (Output, error) {
	k := key{id.Src, id.Type}
	r, ok := n.rx[k]
	if !ok || r.raw != f.ID || r.fd != f.FD || r.waits >= 0 {
		n.stats.Unexpected++
		return Output{}, &Error{ID: id, Err: ErrUnexpectedCF}
	}
	remaining := r.size - len(r.buf)
	l := int(f.Len)
	switch {
	case l > r.rxDL:
		n.stats.Invalid++
		return Output{}, &Error{ID: id, Err: ErrInvalidFrame, Detail: fmt.Sprintf("CF of %d bytes after a %d-byte FF", l, r.rxDL)}
	case l < r.rxDL && remaining > r.rxDL-cfPCILen:
		n.stats.Invalid++
		return Output{}, &Error{ID: id, Err: ErrInvalidFrame, Detail: fmt.Sprintf("short CF (%d bytes) before the last", l)}
	case len(p.Data) < min(remaining, r.rxDL-cfPCILen):
		n.stats.Invalid++
		return Output{}, &Error{ID: id, Err: ErrInvalidFrame, Detail: fmt.Sprintf("CF carries %d bytes, %d expected", len(p.Data), min(remaining, r.rxDL-cfPCILen))}
	}
	if p.SN != r.sn {
		delete(n.rx, k)
		n.stats.SequenceErrors++
		n.stats.RxAborted++
		return Output{}, &SequenceError{ID: id, Want: r.sn, Got: p.SN}
	}
	r.buf = append(r.buf, p.Data[:min(remaining, len(p.Data))]...)
	r.sn = (r.sn + 1) & 0x0F
	r.deadline = now.Add(n.cfg.NCr)
	var out Output
	if len(r.buf) == r.size {
		delete(n.rx, k)
		n.stats.RxMessages++
		out.Messages = append(out.Messages, Message{ID: r.id, Data: r.buf, FD: r.fd})
		return out, nil
	}
	if n.cfg.BlockSize > 0 {
		r.inBlock++
		if r.inBlock == int(n.cfg.BlockSize) {
			r.inBlock = 0
			n.startFC(r, now, &out)
		}
	}
	return out, nil
}

func (n *Node) flowControl(id canid.ID, p PDU, now time.Time) (Output, error) {
	k := key{id.Src, id.Type}
	t, ok := n.tx[k]
	if !ok || t.state != waitFC || t.raw != id.Reply().Encode() {
		n.stats.Unexpected++
		return Output{}, &Error{ID: id, Err: ErrUnexpectedFC}
	}
	var out Output
	switch p.Status {
	case ContinueToSend:
		t.state, t.waits = sending, 0
		t.bs, t.left = int(p.BS), int(p.BS)
		t.stmin = DecodeSTmin(p.STmin)
		n.emit(k, t, now, &out)
	case Wait:
		n.stats.WaitsReceived++
		t.waits++
		if t.waits > n.cfg.WFTmax {
			n.endTx(k, t, &Error{ID: t.id, Err: ErrWaitLimit, Detail: fmt.Sprintf("%d WAITs, N_WFTmax %d", t.waits, n.cfg.WFTmax)}, &out)
			break
		}
		t.deadline = now.Add(n.cfg.NBs)
	case Overflow:
		n.endTx(k, t, &Error{ID: t.id, Err: ErrOverflow, Detail: fmt.Sprintf("%d bytes", len(t.data))}, &out)
	default:
		n.endTx(k, t, &Error{ID: t.id, Err: ErrInvalidFlowStatus, Detail: p.Status.String()}, &out)
	}
	return out, nil
}

// emit sends the CFs that are due: one when STmin > 0, else the rest of the block.
func (n *Node) emit(k key, t *transmission, now time.Time, out *Output) {
	per := n.cfg.txDL() - cfPCILen
	burst := (len(t.data) - t.off + per - 1) / per
	switch {
	case t.stmin > 0:
		burst = 1
	case t.bs > 0:
		burst = min(burst, t.left)
	}
	out.Frames = slices.Grow(out.Frames, burst)
	for {
		f, used := n.cfg.Consecutive(t.raw, t.sn, t.data[t.off:])
		out.Frames = append(out.Frames, f)
		t.off += used
		t.sn = (t.sn + 1) & 0x0F
		if t.off >= len(t.data) {
			n.endTx(k, t, nil, out)
			return
		}
		if t.bs > 0 {
			t.left--
			if t.left == 0 {
				t.state, t.deadline = waitFC, now.Add(n.cfg.NBs)
				return
			}
		}
		if t.stmin > 0 {
			t.next = now.Add(t.stmin)
			return
		}
	}
}

func (n *Node) endTx(k key, t *transmission, err error, out *Output) {
	delete(n.tx, k)
	if err != nil {
		n.stats.TxAborted++
	} else {
		n.stats.TxMessages++
	}
	out.Done = append(out.Done, Done{ID: t.id, Err: err})
}

// Tick runs the timers: it ends sessions whose N_Bs or N_Cr expired and sends consecutive
// frames whose STmin has passed. Call it at NextDeadline (calling it more often is harmless).
func (n *Node) Tick(now time.Time) Output {
	var out Output
	for _, k := range sortedKeys(n.rx) {
		r := n.rx[k]
		if r.waits >= 0 && !now.Before(r.deadline) { // withholding CTS: the next FC is due
			n.nextFC(r, now, &out)
			continue
		}
		if !now.Before(r.deadline) {
			delete(n.rx, k)
			n.stats.Timeouts++
			n.stats.RxAborted++
			out.Errors = append(out.Errors, &Error{ID: r.id, Err: ErrTimeoutCr,
				Detail: fmt.Sprintf("%d of %d bytes received", len(r.buf), r.size)})
		}
	}
	for _, k := range sortedKeys(n.tx) {
		t := n.tx[k]
		switch {
		case t.state == waitFC && !now.Before(t.deadline):
			n.stats.Timeouts++
			n.endTx(k, t, &Error{ID: t.id, Err: ErrTimeoutBs, Detail: fmt.Sprintf("%d of %d bytes sent", t.off, len(t.data))}, &out)
		case t.state == sending && !now.Before(t.next):
			n.emit(k, t, now, &out)
		}
	}
	return out
}

// NextDeadline returns when Tick next has work to do, and false when no session is running.
func (n *Node) NextDeadline() (time.Time, bool) {
	var next time.Time
	ok := false
	take := func(t time.Time) {
		if !ok || t.Before(next) {
			next, ok = t, true
		}
	}
	for _, r := range n.rx {
		take(r.deadline)
	}
	for _, t := range n.tx {
		if t.state == waitFC {
			take(t.deadline)
		} else {
			take(t.next)
		}
	}
	return next, ok
}

// Abort ends the session a frame returned by this node belongs to, because the frame could not
// be sent (cause is the transport's error). A lost flow control ends the reception with N_Ar,
// a lost data frame the transmission with N_As.
func (n *Node) Abort(f bus.Frame, cause error) Output {
	var out Output
	id, err := canid.Decode(f.ID, f.Extended)
	if err != nil || f.Len == 0 {
		return out
	}
	if PCIType(f.Data[0]>>4) == FlowControl {
		k := key{id.Dst, id.Type}
		if r, ok := n.rx[k]; ok && r.raw == id.Reply().Encode() {
			delete(n.rx, k)
			n.stats.RxAborted++
			out.Errors = append(out.Errors, &Error{ID: r.id, Err: ErrTimeoutAr, Cause: cause})
		}
		return out
	}
	k := key{id.Dst, id.Type}
	if t, ok := n.tx[k]; ok && t.raw == f.ID {
		n.endTx(k, t, &Error{ID: t.id, Err: ErrTimeoutAs, Cause: cause}, &out)
	}
	return out
}

func sortedKeys[V any](m map[key]V) []key {
	ks := make([]key, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return less(ks[i], ks[j]) })
	return ks
}
