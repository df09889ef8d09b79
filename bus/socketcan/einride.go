package socketcan

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"go.einride.tech/can"
	"go.einride.tech/can/pkg/socketcan"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/clock"
)

// einrideBackend is a classic CAN_RAW socket through go.einride.tech/can.
type einrideBackend struct {
	conn net.Conn
	rx   *socketcan.Receiver
	tx   *socketcan.Transmitter
	clk  clock.Clock
}

func openEinride(ctx context.Context, name string, clk clock.Clock) (*einrideBackend, error) {
	conn, err := socketcan.DialContext(ctx, "can", name, socketcan.WithReceiveErrorFrames())
	if err != nil {
		return nil, fmt.Errorf("socketcan: open %s: %w", name, err)
	}
	return &einrideBackend{
		conn: conn,
		rx:   socketcan.NewReceiver(conn),
		tx:   socketcan.NewTransmitter(conn),
		clk:  clk,
	}, nil
}

func (b *einrideBackend) read() (Record, time.Time, error) {
	if !b.rx.Receive() {
		err := b.rx.Err()
		if err == nil {
			err = io.EOF
		}
		return Record{}, time.Time{}, err
	}
	now := b.clk.Now()
	if b.rx.HasErrorFrame() {
		ef := b.rx.ErrorFrame()
		r := Record{IsError: true}
		r.Error.Class = uint32(ef.ErrorClass)
		r.Error.Data = [8]byte{
			ef.LostArbitrationBit, uint8(ef.ControllerError), uint8(ef.ProtocolError),
			uint8(ef.ProtocolViolationErrorLocation), uint8(ef.TransceiverError),
			ef.ControllerSpecificInformation[0], ef.ControllerSpecificInformation[1], ef.ControllerSpecificInformation[2],
		}
		return r, now, nil
	}
	f, err := fromEinride(b.rx.Frame())
	return Record{Frame: f}, now, err
}

func fromEinride(cf can.Frame) (bus.Frame, error) {
	f := bus.Frame{ID: cf.ID, Extended: cf.IsExtended, Remote: cf.IsRemote, Len: cf.Length}
	if f.Len > bus.MaxClassicLen {
		return bus.Frame{}, &RecordError{Len: ClassicRecordLen, Reason: fmt.Sprintf("classic length %d", f.Len)}
	}
	if !f.Remote {
		copy(f.Data[:], cf.Data[:f.Len])
	}
	return f, nil
}

func (b *einrideBackend) write(ctx context.Context, f *bus.Frame) error {
	cf := can.Frame{ID: f.ID, Length: f.Len, IsExtended: f.Extended, IsRemote: f.Remote}
	copy(cf.Data[:], f.Data[:bus.MaxClassicLen])
	if f.Remote {
		cf.Data = can.Data{}
	}
	return mapWriteError(b.tx.TransmitFrame(ctx, cf))
}

func (b *einrideBackend) close() error { return b.conn.Close() }
