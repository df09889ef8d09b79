package fwxfer

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/isotp"
)

type sinkConn struct{ sent []isotp.Message }

func (c *sinkConn) Send(_ context.Context, m isotp.Message) error {
	c.sent = append(c.sent, m)
	return nil
}

func (c *sinkConn) Receive(ctx context.Context) (isotp.Message, error) {
	<-ctx.Done()
	return isotp.Message{}, ctx.Err()
}

type countSink struct{ n int }

func (s *countSink) Receive(_ context.Context, img, _ []byte) error { s.n++; return nil }

// FuzzReceiver drives a receiver with a sequence of messages (each prefixed by a 2-byte length
// in the fuzz input): it must never panic, never hold more than it was offered, and answer every
// transfer message except abort with exactly one well-formed acknowledgement.
func FuzzReceiver(f *testing.F) {
	frame := func(msgs ...[]byte) []byte {
		var b []byte
		for _, m := range msgs {
			b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
			b = append(b, m...)
		}
		return b
	}
	data := []byte{1, 2, 3, 4}
	offer, _ := Append(nil, &Msg{Kind: KindOffer, Xfer: 1, Size: 4, Chunk: 2, Hash: sha(data)})
	c1, _ := Append(nil, &Msg{Kind: KindChunk, Xfer: 1, Offset: 0, Data: data[:2]})
	c2, _ := Append(nil, &Msg{Kind: KindChunk, Xfer: 1, Offset: 2, Data: data[2:]})
	commit, _ := Append(nil, &Msg{Kind: KindCommit, Xfer: 1})
	f.Add(frame(offer, c1, c2, commit))
	f.Add(frame(offer, c2, c1, c1, c2, commit, commit))
	f.Add(frame(commit, c1, offer))
	f.Fuzz(func(t *testing.T, in []byte) {
		conn := &sinkConn{}
		sink := &countSink{}
		r := &Receiver{Conn: conn, Addr: 0x05, Sink: sink, MaxSize: 1 << 16}
		id := canid.New(canid.TypeFirmware, false, canid.LevelExchange, 0x05, canid.AddrPack)
		for len(in) >= 2 {
			n := int(binary.BigEndian.Uint16(in))
			in = in[2:]
			if n > len(in) {
				n = len(in)
			}
			msg := in[:n]
			in = in[n:]
			before := len(conn.sent)
			err := r.Handle(context.Background(), isotp.Message{ID: id, Data: msg})
			m, perr := Parse(msg)
			want := 1
			if perr != nil || m.Kind == KindAbort {
				want = 0
			}
			if got := len(conn.sent) - before; got != want {
				t.Fatalf("%d answers to %x (err %v)", got, msg, err)
			}
			if want == 1 {
				a, err := Parse(conn.sent[len(conn.sent)-1].Data)
				if err != nil || a.Kind != KindAck {
					t.Fatalf("bad answer %v", err)
				}
			}
			if r.active && (int(r.next) > len(r.buf) || len(r.buf) != int(r.offer.Size)) {
				t.Fatalf("next %d, buffer %d, size %d", r.next, len(r.buf), r.offer.Size)
			}
		}
		if sink.n > r.Stats().Commits {
			t.Fatal("more images delivered than commits")
		}
	})
}
