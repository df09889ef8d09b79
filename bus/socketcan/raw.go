package socketcan

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
)

// rawBackend is a CAN_RAW socket with CAN_RAW_FD_FRAMES and kernel receive timestamps
// (64-bit timespec layout).
type rawBackend struct {
	f     *os.File
	rc    syscall.RawConn
	clk   clock.Clock
	buf   [FDRecordLen]byte // read state: only the endpoint's reader goroutine reads
	oob   [128]byte
	drops uint32 // last SO_RXQ_OVFL count seen
}

func openRaw(name string, index int, clk clock.Clock) (*rawBackend, error) {
	s, err := unix.Socket(unix.AF_CAN, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.CAN_RAW)
	if err != nil {
		return nil, fmt.Errorf("socketcan: open %s: %w", name, err)
	}
	fail := func(what string, err error) (*rawBackend, error) {
		unix.Close(s)
		return nil, fmt.Errorf("socketcan: open %s: %s: %w", name, what, err)
	}
	if err := unix.SetsockoptInt(s, unix.SOL_CAN_RAW, unix.CAN_RAW_FD_FRAMES, 1); err != nil {
		return fail("enable FD frames", errors.Join(bus.ErrNoFD, err))
	}
	if err := unix.SetsockoptInt(s, unix.SOL_CAN_RAW, unix.CAN_RAW_ERR_FILTER, unix.CAN_ERR_MASK); err != nil {
		return fail("error filter", err)
	}
	if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fail("timestamps", err)
	}
	if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1); err != nil {
		return fail("drop counter", err)
	}
	if err := unix.Bind(s, &unix.SockaddrCAN{Ifindex: index}); err != nil {
		return fail("bind", err)
	}
	f := os.NewFile(uintptr(s), "can:"+name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("socketcan: open %s: %w", name, err)
	}
	return &rawBackend{f: f, rc: rc, clk: clk}, nil
}

func (b *rawBackend) read() (Record, time.Time, error) {
	var n, oobn int
	var rerr error
	err := b.rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), b.buf[:], b.oob[:], 0)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return Record{}, time.Time{}, err
	}
	t, drops, ok := control(b.oob[:oobn])
	if !ok {
		t = b.clk.Now()
	}
	r, err := UnmarshalRecord(b.buf[:n])
	if drops != b.drops {
		r.Lost = drops - b.drops // the counter wraps; so does the difference
		b.drops = drops
	}
	return r, t, err
}

// control reads a message's control data: the SCM_TIMESTAMPNS receive time, and the socket's
// running count of frames the kernel dropped for want of buffer space (SO_RXQ_OVFL).
func control(oob []byte) (t time.Time, drops uint32, stamped bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, 0, false
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET {
			continue
		}
		switch {
		case m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16:
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
			t, stamped = time.Unix(sec, nsec), true
		case m.Header.Type == unix.SO_RXQ_OVFL && len(m.Data) >= 4:
			drops = binary.NativeEndian.Uint32(m.Data[0:4])
		}
	}
	return t, drops, stamped
}

func (b *rawBackend) write(ctx context.Context, f *bus.Frame) error {
	var out [FDRecordLen]byte
	n, err := MarshalRecord(out[:], f)
	if err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok {
		if err := b.f.SetWriteDeadline(d); err != nil {
			return err
		}
		defer b.f.SetWriteDeadline(time.Time{})
	}
	_, err = b.f.Write(out[:n])
	return mapWriteError(err)
}

func (b *rawBackend) close() error { return b.f.Close() }

// mapWriteError turns the kernel's "queue full" into bus.ErrTxFull.
func mapWriteError(err error) error {
	if errors.Is(err, unix.ENOBUFS) {
		return errors.Join(bus.ErrTxFull, err)
	}
	return err
}
