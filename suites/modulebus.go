package suites

import (
	"context"
	"fmt"

	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/legacy"
)

// moduleBus is the bench's side of a module bus: it sends what the pack's legacy logic sends
// and waits for what the modules answer.
type moduleBus struct {
	p   *framework.Probe
	seq uint16
}

func newModuleBus(s *framework.System, name string) *moduleBus {
	p, ok := s.Probe(name)
	Expect(ok).To(BeTrue(), "bus %s", name)
	return &moduleBus{p: p}
}

// send puts a legacy pack→module message on the bus, addressed to EID module to.
func (b *moduleBus) send(ctx context.Context, m legacy.Message, to uint8) {
	f, err := legacy.EncodeModule(m, to, b.seq)
	Expect(err).NotTo(HaveOccurred())
	b.seq = (b.seq + 1) & 0x3FF
	Expect(b.p.Send(ctx, f)).To(Succeed())
}

// sendRaw puts any frame on the bus.
func (b *moduleBus) sendRaw(ctx context.Context, f bus.Frame) {
	Expect(b.p.Send(ctx, f)).To(Succeed())
}

// await waits from mark for a legacy message of type id sent from EID module from.
func (b *moduleBus) await(ctx context.Context, mark int, id legacy.MsgID, from uint8) (legacy.Message, int) {
	ctx, cancel := wait(ctx)
	defer cancel()
	var msg legacy.Message
	_, at, err := b.p.Wait(ctx, mark, fmt.Sprintf("%s from module 0x%02X", id, from), func(f bus.Frame) bool {
		d, err := legacy.Decode(f)
		if err != nil || d.Msg.MsgID() != id || d.ModuleID != from {
			return false
		}
		msg = d.Msg
		return true
	})
	Expect(err).NotTo(HaveOccurred())
	return msg, at
}

func (b *moduleBus) mark() int { return b.p.Mark() }
