package fwxfer_test

import (
	"context"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bench/flash/fwxfer"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/isotp"
)

// BenchmarkTransfer64K sends a 64 KiB image (the ATmega64M1's flash) pack → module and reports
// the bus time it occupies at 500 kbit/s (classic) or 500 kbit/s / 2 Mbit/s (FD), worst-case
// stuffing: the wire-time floor of a module update, before any flash-programming time.
func BenchmarkTransfer64K(b *testing.B) {
	for _, fd := range []bool{false, true} {
		name := "classic"
		cfg := isotp.ProfileV1()
		timing := bus.Timing{Nominal: 500_000}
		if fd {
			name, cfg, timing = "fd", isotp.ProfileV1FD(), bus.Timing{Nominal: 500_000, Data: 2_000_000}
		}
		b.Run(name, func(b *testing.B) {
			eb, err := emu.New(emu.Config{Pacing: emu.AsFastAsPossible, FD: fd, Timing: timing})
			if err != nil {
				b.Fatal(err)
			}
			defer eb.Close()
			pn, _ := isotp.NewNode(canid.AddrPack, cfg)
			mn, _ := isotp.NewNode(module, cfg)
			pc := isotp.NewConn(eb.Join("pack"), clock.Real{}, pn)
			mc := isotp.NewConn(eb.Join("module"), clock.Real{}, mn)
			defer pc.Close()
			defer mc.Close()
			r := &fwxfer.Receiver{Conn: mc, Addr: module, MaxSize: 1 << 20}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go r.Serve(ctx)
			img := make([]byte, 64<<10)
			s := &fwxfer.Sender{Conn: pc, Src: canid.AddrPack, Dst: module, Timeout: 5 * time.Second}
			b.SetBytes(int64(len(img)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := s.Send(ctx, img, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			l := eb.Load()
			b.ReportMetric(l.Busy.Seconds()/float64(b.N), "bus-s/op")
			b.ReportMetric(float64(l.Frames)/float64(b.N), "frames/op")
		})
	}
}
