package suites

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
)

// lostMessage names one handshake message by its bus (0 the app bus, 1 the module bus), type,
// sender and receiver (0 stands for the module under test).
type lostMessage struct {
	bus      int
	typ      canid.Type
	src, dst uint8
}

// One handshake message lost on the bus (as an ISO-TP timeout under load loses it) must not
// fail the pairing: the app delivers the certificate again and the entities send again what
// they had sent (docs/protocol.md 8, retries inside the 30 s window of R5). Only the bus is
// touched, so the spec runs as well when the devices are separate programs.
var _ = Describe("A pairing that loses one handshake message", Ordered, Label("robustness", "pairing"), func() {
	sys := rigUp("handshake-loss", emulatedBuses, functional)
	BeforeAll(func(ctx SpecContext) { bindAll(ctx, sys()) }, NodeTimeout(flowTimeout))

	DescribeTable("completes after the app's retry", func(ctx SpecContext, module bool, lost lostMessage) {
		s := sys()
		m := s.Modules[0]
		if lost.src == 0 {
			lost.src = m.Rig.ModuleID
		}
		if lost.dst == 0 {
			lost.dst = m.Rig.ModuleID
		}
		b, ok := s.Bus(s.Pack.Rig.Buses[lost.bus])
		if !ok {
			Skip("the bus is not emulated in this process: no fault injection")
		}
		drop, err := b.AddFault(emu.Fault{Kind: emu.Drop, Fmt: emu.ExtendedOnly, Count: 1,
			Mask:  0x3F<<20 | 0xFFFF,
			Value: uint32(lost.typ)<<20 | uint32(lost.dst)<<8 | uint32(lost.src)})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { b.RemoveFault(drop) })
		retries := s.App.HandshakeRetries()

		var pid string
		if module {
			pid, err = s.App.PairModule(ctx, pairingContext, m.EntityID())
		} else {
			pid, err = s.App.PairPack(ctx, pairingContext)
		}
		Expect(err).NotTo(HaveOccurred(), "the pairing completes")
		fired, _ := b.Fired(drop)
		Expect(fired).To(Equal(1), "exactly that message was lost once")
		Expect(s.App.HandshakeRetries()).To(BeNumerically(">", retries), "the app delivered the certificate again")
		p, err := s.Authority.Pairing(pid)
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Status).To(Equal("completed"), "the authority accepted the completion")

		target := s.Pack.Addr()
		if module {
			target = m.Rig.ModuleID
		}
		ack, err := s.App.Command(ctx, target, chargeEnable())
		Expect(err).NotTo(HaveOccurred(), "L5 under the new pairing")
		Expect(ack.Status).To(Equal(message.StatusOK))
	},
		lossEntry("app × pack: the pack's certificate", false,
			lostMessage{0, canid.TypePairingCert, canid.AddrApp, canid.AddrPack}),
		lossEntry("app × pack: the app's key half", false,
			lostMessage{0, canid.TypeKeyHalf, canid.AddrApp, canid.AddrPack}),
		lossEntry("app × pack: the pack's completion", false,
			lostMessage{0, canid.TypeCompletion, canid.AddrPack, canid.AddrApp}),
		lossEntry("pack × module: the pack's forward of the module's certificate", true,
			lostMessage{1, canid.TypePairingCert, canid.AddrPack, 0}),
		lossEntry("pack × module: the module's key half", true,
			lostMessage{1, canid.TypeKeyHalf, 0, canid.AddrPack}),
		lossEntry("pack × module: the module's completion", true,
			lostMessage{1, canid.TypeCompletion, 0, canid.AddrPack}),
		lossEntry("pack × module: the completion the pack relays to the app", true,
			lostMessage{0, canid.TypeCompletion, canid.AddrPack, canid.AddrApp}),
	)
})

func lossEntry(what string, module bool, lost lostMessage) TableEntry {
	return Entry(what, NodeTimeout(flowTimeout), module, lost)
}
