package session

import (
	"testing"

	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
)

// BenchmarkCommandAck is one L5 command and its ACK between two engines over the emulated bus
// (delivered as fast as possible): the engines' software cost per command, no wire time.
func BenchmarkCommandAck(b *testing.B) {
	w := newWorld(b, nil)
	pack := w.start(w.identity("PC-0001", message.RolePack, canid.AddrPack), nil, nil)
	module := w.start(w.identity("BM-0001", message.RoleModule, 0x01), nil, nil)
	w.bind(pack, module)
	w.pair(pack, module, nil)
	cmd := chargeCmd()
	b.ResetTimer()
	for b.Loop() {
		if _, err := pack.eng.Command(w.ctx, 0x01, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTelemetry is one AEAD telemetry record from a module to the pack.
func BenchmarkTelemetry(b *testing.B) {
	w := newWorld(b, nil)
	pack := w.start(w.identity("PC-0001", message.RolePack, canid.AddrPack), nil, nil)
	module := w.start(w.identity("BM-0001", message.RoleModule, 0x01), nil, nil)
	w.bind(pack, module)
	w.pair(pack, module, nil)
	tel := &message.Telemetry{Seq: 1, Addr: 1, State: 3, SOC: 150, VoltageMV: 51200, CurrentMA: 12500,
		CellMinMV: 3190, CellMaxMV: 3210, TempMinDC: 215, TempMaxDC: 250}
	b.ResetTimer()
	for b.Loop() {
		if err := module.eng.SendTelemetry(w.ctx, canid.AddrPack, tel); err != nil {
			b.Fatal(err)
		}
		<-pack.ev
	}
}
