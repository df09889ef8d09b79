package fwxfer

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/isotp"
)

// Conn carries ISO-TP messages; *isotp.Conn is one.
type Conn interface {
	Send(ctx context.Context, m isotp.Message) error
	Receive(ctx context.Context) (isotp.Message, error)
}

// Protect seals a message before it goes out and opens one that came in. Seal may change the
// identifier (the encrypted bit and key level).
type Protect interface {
	Seal(id canid.ID, plain []byte) (canid.ID, []byte, error)
	Open(id canid.ID, wire []byte) ([]byte, error)
}

// Clear is the Protect of an unprotected transfer: messages pass unchanged (tests of the
// transfer alone; on the buses session.PairingProtect seals under the firmware_update pairing).
type Clear struct{}

// Seal returns the message unchanged.
func (Clear) Seal(id canid.ID, b []byte) (canid.ID, []byte, error) { return id, b, nil }

// Open returns the message unchanged.
func (Clear) Open(_ canid.ID, b []byte) ([]byte, error) { return b, nil }

// Sink takes a complete image and its signature: a device's boot loader (flash.BootLoader has
// this method).
type Sink interface {
	Receive(ctx context.Context, img, sig []byte) error
}

// OfferChecker is a Sink that can refuse an image at its offer, from the size, hash and
// signature the offer carries, before any chunk goes over (a boot loader that checks the
// authority's signature over the image's identity). The receiver answers such an offer
// with StatusRejected.
type OfferChecker interface {
	CheckOffer(ctx context.Context, size int, hash [32]byte, sig []byte) error
}

// Errors of a transfer.
var (
	ErrTimeout = errors.New("fwxfer: no acknowledgement")
	ErrRefused = errors.New("fwxfer: receiver refused")
)

// RefusedError is a receiver's refusal, by status.
type RefusedError struct {
	Phase  string // offer, chunk, commit
	Status Status
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("fwxfer: receiver refused the %s: %s", e.Phase, e.Status)
}

func (e *RefusedError) Unwrap() error { return ErrRefused }

// Sender sends images to one receiver.
type Sender struct {
	Conn     Conn
	Src, Dst uint8         // node addresses of the sender and the receiving module
	Chunk    int           // bytes per chunk; 0 means DefaultChunk
	Timeout  time.Duration // wait for each acknowledgement; 0 means 2 s
	Retries  int           // resends of an unacknowledged message; 0 means 3
	Clock    clock.Clock   // nil means clock.Real{}
	Protect  Protect       // nil means Clear{}

	mu   sync.Mutex
	xfer uint16
}

func (s *Sender) defaults() (chunk int, timeout time.Duration, retries int, clk clock.Clock, p Protect) {
	chunk, timeout, retries, clk, p = s.Chunk, s.Timeout, s.Retries, s.Clock, s.Protect
	if chunk <= 0 || chunk > MaxChunk {
		chunk = DefaultChunk
	}
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	if retries <= 0 {
		retries = 3
	}
	if clk == nil {
		clk = clock.Real{}
	}
	if p == nil {
		p = Clear{}
	}
	return
}

// Send offers img with its signature, sends it chunk by chunk and commits it. It returns nil
// once the receiver has accepted the image (its hash and signature checked).
func (s *Sender) Send(ctx context.Context, img, sig []byte, progress func(done, total int)) error {
	chunk, timeout, retries, clk, prot := s.defaults()
	if len(img) == 0 || uint64(len(img)) > 0xFFFFFFFF {
		return fmt.Errorf("fwxfer: image of %d bytes", len(img))
	}
	s.mu.Lock()
	s.xfer++
	xfer := s.xfer
	s.mu.Unlock()
	if progress == nil {
		progress = func(int, int) {}
	}
	total := len(img)

	// exchange sends m and waits for an acknowledgement of this transfer that accept takes,
	// resending on timeout.
	exchange := func(phase string, m *Msg, accept func(a Msg) (done bool, err error)) error {
		raw, err := Append(nil, m)
		if err != nil {
			return err
		}
		id := canid.New(canid.TypeFirmware, false, canid.LevelExchange, s.Dst, s.Src)
		for try := 0; try <= retries; try++ {
			wid, wire, err := prot.Seal(id, raw)
			if err != nil {
				return fmt.Errorf("fwxfer: seal: %w", err)
			}
			if err := s.Conn.Send(ctx, isotp.Message{ID: wid, Data: wire}); err != nil {
				return fmt.Errorf("fwxfer: %s: %w", phase, err)
			}
			done, err := s.awaitAck(ctx, clk, timeout, prot, xfer, accept)
			if err == nil && done {
				return nil
			}
			if err != nil && !errors.Is(err, ErrTimeout) {
				return err
			}
		}
		return fmt.Errorf("%w for the %s after %d tries", ErrTimeout, phase, retries+1)
	}

	offer := Msg{Kind: KindOffer, Xfer: xfer, Size: uint32(total), Chunk: uint16(chunk), Hash: sha256.Sum256(img), Sig: sig}
	if err := exchange("offer", &offer, func(a Msg) (bool, error) {
		if a.Status != StatusOK {
			return false, &RefusedError{Phase: "offer", Status: a.Status}
		}
		return true, nil
	}); err != nil {
		return err
	}
	progress(0, total)
	off := 0
	for off < total {
		end := min(off+chunk, total)
		m := Msg{Kind: KindChunk, Xfer: xfer, Offset: uint32(off), Data: img[off:end]}
		next := off
		err := exchange("chunk", &m, func(a Msg) (bool, error) {
			switch {
			case a.Status == StatusOK && int(a.Next) == end:
				next = end
				return true, nil
			case a.Status == StatusOK && int(a.Next) < end:
				return false, nil // a late answer to an earlier chunk
			case a.Status == StatusOutOfOrder && int(a.Next) <= total:
				next = int(a.Next)
				return true, nil
			}
			return false, &RefusedError{Phase: "chunk", Status: a.Status}
		})
		if err != nil {
			return err
		}
		off = next
		progress(off, total)
	}
	return exchange("commit", &Msg{Kind: KindCommit, Xfer: xfer}, func(a Msg) (bool, error) {
		switch {
		case a.Status == StatusOK && int(a.Next) == total:
			return true, nil
		case a.Status == StatusOK:
			return false, nil
		}
		return false, &RefusedError{Phase: "commit", Status: a.Status}
	})
}

// awaitAck returns accept's verdict on the first acknowledgement of xfer from the receiver, or
// ErrTimeout.
func (s *Sender) awaitAck(ctx context.Context, clk clock.Clock, timeout time.Duration, prot Protect, xfer uint16, accept func(Msg) (bool, error)) (bool, error) {
	t := clk.NewTimer(timeout)
	defer t.Stop()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fired := make(chan struct{})
	go func() {
		select {
		case <-t.C():
			close(fired)
			cancel()
		case <-rctx.Done():
		}
	}()
	for {
		m, err := s.Conn.Receive(rctx)
		if err != nil {
			select {
			case <-fired:
				return false, ErrTimeout
			default:
			}
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return false, fmt.Errorf("fwxfer: receive: %w", err)
		}
		if m.ID.Type != canid.TypeBulkAck || m.ID.Src != s.Dst || m.ID.Dst != s.Src {
			continue
		}
		plain, err := prot.Open(m.ID, m.Data)
		if err != nil {
			continue // not ours or forged: the timeout decides
		}
		a, err := Parse(plain)
		if err != nil || a.Kind != KindAck || a.Xfer != xfer {
			continue
		}
		done, err := accept(a)
		if done || err != nil {
			return done, err
		}
	}
}

// Receiver is a module's side of the transfer.
type Receiver struct {
	Conn    Conn
	Addr    uint8 // this module's node address
	Sink    Sink
	MaxSize int     // largest image accepted; 0 means 1 MiB
	Protect Protect // nil means Clear{}
	Log     *slog.Logger
	// Committed, if set, is called after the acknowledgement of an accepted image went out:
	// the device reboots into it there (a BootLoader's Boot).
	Committed func(ctx context.Context)

	mu        sync.Mutex
	active    bool
	from      uint8
	offer     Msg
	buf       []byte
	next      uint32
	committed struct {
		ok   bool
		from uint8
		xfer uint16
		size uint32
	}
	stats ReceiverStats
}

// ReceiverStats counts what a receiver saw.
type ReceiverStats struct {
	Offers, Chunks, Duplicates, OutOfOrder, Commits, Rejected, Malformed int
}

// Stats returns the counters.
func (r *Receiver) Stats() ReceiverStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Serve handles messages until ctx ends or Conn fails.
func (r *Receiver) Serve(ctx context.Context) error {
	for {
		m, err := r.Conn.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fwxfer: receive: %w", err)
		}
		if err := r.Handle(ctx, m); err != nil && r.Log != nil {
			r.Log.Debug("fwxfer: message dropped", "id", m.ID, "err", err)
		}
	}
}

// Handle processes one message (a device that reads its own Conn passes firmware messages
// here). Messages of other types or for other nodes are ignored. It returns an error for a
// message it could not use; acknowledgements are sent for every transfer message.
func (r *Receiver) Handle(ctx context.Context, m isotp.Message) error {
	if m.ID.Type != canid.TypeFirmware || m.ID.Dst != r.Addr {
		return nil
	}
	prot := r.Protect
	if prot == nil {
		prot = Clear{}
	}
	plain, err := prot.Open(m.ID, m.Data)
	if err != nil {
		return fmt.Errorf("fwxfer: open: %w", err)
	}
	msg, err := Parse(plain)
	if err != nil {
		r.mu.Lock()
		r.stats.Malformed++
		r.mu.Unlock()
		return err
	}
	status, next, fresh := r.step(ctx, m.ID.Src, &msg)
	if msg.Kind == KindAbort {
		return nil
	}
	ack, _ := Append(nil, &Msg{Kind: KindAck, Xfer: msg.Xfer, Status: status, Next: next})
	id, wire, err := prot.Seal(canid.New(canid.TypeBulkAck, false, canid.LevelExchange, m.ID.Src, r.Addr), ack)
	if err != nil {
		return fmt.Errorf("fwxfer: seal: %w", err)
	}
	err = r.Conn.Send(ctx, isotp.Message{ID: id, Data: wire})
	if msg.Kind == KindCommit && status == StatusOK && fresh && r.Committed != nil {
		r.Committed(ctx)
	}
	return err
}

func (r *Receiver) step(ctx context.Context, from uint8, m *Msg) (st Status, next uint32, fresh bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	max := r.MaxSize
	if max <= 0 {
		max = 1 << 20
	}
	ours := r.active && r.from == from && r.offer.Xfer == m.Xfer
	switch m.Kind {
	case KindOffer:
		r.stats.Offers++
		if m.Size == 0 || uint64(m.Size) > uint64(max) {
			return StatusTooLarge, 0, false
		}
		if oc, ok := r.Sink.(OfferChecker); ok {
			if err := oc.CheckOffer(ctx, int(m.Size), m.Hash, m.Sig); err != nil {
				r.stats.Rejected++
				if r.Log != nil {
					r.Log.Info("fwxfer: offer refused", "from", from, "err", err)
				}
				return StatusRejected, 0, false
			}
		}
		// A new offer replaces whatever transfer was running: its sender started over.
		r.active, r.from, r.next = true, from, 0
		r.offer = *m
		r.offer.Sig = append([]byte(nil), m.Sig...)
		r.buf = make([]byte, m.Size)
		r.committed.ok = false
		return StatusOK, 0, false
	case KindChunk:
		if !ours {
			return StatusUnknown, 0, false
		}
		end := uint64(m.Offset) + uint64(len(m.Data))
		switch {
		case m.Offset == r.next && len(m.Data) <= int(r.offer.Chunk) && end <= uint64(r.offer.Size):
			copy(r.buf[m.Offset:], m.Data)
			r.next = uint32(end)
			r.stats.Chunks++
		case end <= uint64(r.next):
			r.stats.Duplicates++ // our acknowledgement was lost; say again where we are
		default:
			r.stats.OutOfOrder++
			return StatusOutOfOrder, r.next, false
		}
		return StatusOK, r.next, false
	case KindCommit:
		if !ours {
			c := r.committed
			if c.ok && c.from == from && c.xfer == m.Xfer {
				return StatusOK, c.size, false // the first commit's answer was lost
			}
			return StatusUnknown, 0, false
		}
		if r.next != r.offer.Size {
			return StatusIncomplete, r.next, false
		}
		r.stats.Commits++
		img, sig := r.buf, r.offer.Sig
		if sha256.Sum256(img) != r.offer.Hash {
			r.stats.Rejected++
			r.active = false
			return StatusRejected, 0, false
		}
		if r.Sink != nil {
			if err := r.Sink.Receive(ctx, img, sig); err != nil {
				r.stats.Rejected++
				r.active = false
				if r.Log != nil {
					r.Log.Info("fwxfer: image refused", "err", err)
				}
				return StatusRejected, 0, false
			}
		}
		r.active, r.buf = false, nil
		r.committed.ok, r.committed.from, r.committed.xfer, r.committed.size = true, from, m.Xfer, r.offer.Size
		return StatusOK, r.offer.Size, true
	case KindAbort:
		if ours {
			r.active, r.buf = false, nil
		}
		return StatusOK, 0, false
	}
	return StatusUnknown, 0, false
}
