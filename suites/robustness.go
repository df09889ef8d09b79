package suites

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/firmware/module"
	"github.com/modbatt/hilrun/legacy"
	"github.com/modbatt/hilrun/protocol/canid"
)

// Bad input on the module bus: every frame is refused with its cause counted, and the module
// keeps serving.
var _ = Describe("A module given bad input on its bus", Ordered, Label("robustness"), func() {
	sys := rigUp("robustness-module", inProcessOnly, packOff)
	var (
		mb *moduleBus
		m  *framework.Module
		id uint8
	)
	BeforeAll(func(ctx SpecContext) {
		Expect(sys().Modules).NotTo(BeEmpty(), "the rig has no modules")
		m = sys().Modules[0]
		id = m.Rig.ModuleID
		mb = newModuleBus(sys(), m.Rig.Buses[0])
		c := m.Config()
		mb.send(ctx, &legacy.Registration{ModuleID: id, Manufacturer: c.Manufacturer, Part: c.Part, UniqueID: c.UniqueID}, legacy.ModuleUnregistered)
		Eventually(m.ModuleID).WithTimeout(2 * time.Second).Should(Equal(id))
	})

	// stillServes checks that the module answers a good status request afterwards.
	stillServes := func(ctx SpecContext) {
		mark := mb.mark()
		mb.send(ctx, &legacy.StatusRequest{ModuleID: id}, id)
		mb.await(ctx, mark, legacy.IDCellComm1, id)
	}
	rejected := func(c module.Cause) func() uint64 {
		return func() uint64 { return m.Stats().Rejected[c] }
	}

	It("counts a truncated request as malformed and keeps serving", func(ctx SpecContext) {
		before := m.Stats().Rejected[module.CauseMalformed]
		raw, err := legacy.ModuleBusID(legacy.IDStateChange, id, 0)
		Expect(err).NotTo(HaveOccurred())
		mb.sendRaw(ctx, bus.Frame{ID: raw, Extended: true, Len: 1, Data: [64]byte{id}})
		Eventually(rejected(module.CauseMalformed)).Should(BeNumerically(">", before))
		stillServes(ctx)
	})

	It("counts a legacy-range identifier without a message as unknown and keeps serving", func(ctx SpecContext) {
		before := m.Stats().Rejected[module.CauseUnknownID]
		raw, err := legacy.ModuleBusID(legacy.MsgID(0x50F), id, 0)
		if err != nil { // the identifier code refuses it already: build it by hand
			raw = uint32(0x50F)<<18 | uint32(id)
		}
		mb.sendRaw(ctx, bus.Frame{ID: raw, Extended: true, Len: 8})
		Eventually(rejected(module.CauseUnknownID)).Should(BeNumerically(">", before))
		stillServes(ctx)
	})

	It("refuses a request that names another module in its payload", func(ctx SpecContext) {
		before := m.Stats().Rejected[module.CauseBadRequest]
		mb.send(ctx, &legacy.CellDetailRequest{ModuleID: id, CellID: uint8(m.Config().Cells)}, id)
		Eventually(rejected(module.CauseBadRequest)).Should(BeNumerically(">", before), "a cell beyond the cell count")
		stillServes(ctx)
	})

	It("refuses a short-MAC Web4 frame from its pack that it holds no key for, and keeps serving", func(ctx SpecContext) {
		Eventually(func() bool { return m.Stats().Web4Running }).Should(BeTrue(), "the module runs its Web4 engine once registered")
		total := func() uint64 {
			var n uint64
			for _, v := range m.Stats().Session.Rejected {
				n += v
			}
			return n
		}
		before := total()
		wid := canid.New(canid.TypeTelemetryShort, true, canid.LevelExchange, id, canid.AddrPack).Encode()
		Expect(canid.Classify(wid, true)).To(Equal(canid.Web4))
		mb.sendRaw(ctx, bus.Frame{ID: wid, Extended: true, Len: 8, Data: [64]byte{1, 2, 3, 4, 5, 6, 7, 8}})
		Eventually(total).Should(BeNumerically(">", before), "the engine counts the refusal by cause")
		stillServes(ctx)
	})
})
