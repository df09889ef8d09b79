package isotp

import (
	"fmt"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
)

// BenchmarkSegment measures a sender producing every frame of a message (FF, the receiver's
// one CTS with BS 0, all CFs).
func BenchmarkSegment(b *testing.B) {
	fc := ProfileV1().FlowControl(cmdID.Reply().Encode(), ContinueToSend, 0, 0)
	for _, cfg := range []struct {
		name string
		c    Config
	}{{"classic", ProfileV1()}, {"fd", ProfileV1FD()}} {
		for _, size := range []int{16, 210, 4096} {
			b.Run(fmt.Sprintf("%s/%dB", cfg.name, size), func(b *testing.B) {
				c := cfg.c
				c.MaxMessage = 4096
				n := mustNode(b, modAddr, c)
				msg := Message{ID: cmdID, Data: seq(size)}
				fcf := fc
				fcf.FD = c.FD
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					o, err := n.Send(msg, t0)
					if err != nil {
						b.Fatal(err)
					}
					if len(o.Done) == 0 {
						o, _ = n.HandleFrame(fcf, t0)
						if len(o.Done) != 1 {
							b.Fatal("not done")
						}
					}
				}
			})
		}
	}
}

// BenchmarkReassemble measures a receiver taking every frame of a message.
func BenchmarkReassemble(b *testing.B) {
	for _, cfg := range []struct {
		name string
		c    Config
	}{{"classic", ProfileV1()}, {"fd", ProfileV1FD()}} {
		for _, size := range []int{16, 210, 4096} {
			b.Run(fmt.Sprintf("%s/%dB", cfg.name, size), func(b *testing.B) {
				c := cfg.c
				c.MaxMessage = 4096
				frames := segment(b, c, size)
				n := mustNode(b, packAddr, c)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					var got int
					for _, f := range frames {
						o, err := n.HandleFrame(f, t0)
						if err != nil {
							b.Fatal(err)
						}
						got += len(o.Messages)
					}
					if got != 1 {
						b.Fatal("no message")
					}
				}
			})
		}
	}
}

// segment returns the data frames of a size-byte message.
func segment(tb testing.TB, c Config, size int) []bus.Frame {
	s := mustNode(tb, modAddr, c)
	o, err := s.Send(Message{ID: cmdID, Data: seq(size)}, t0)
	if err != nil {
		tb.Fatal(err)
	}
	frames := o.Frames
	if len(o.Done) == 0 {
		fc := c.FlowControl(cmdID.Reply().Encode(), ContinueToSend, 0, 0)
		o, _ = s.HandleFrame(fc, t0.Add(time.Millisecond))
		frames = append(frames, o.Frames...)
	}
	return frames
}
