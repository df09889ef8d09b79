package suites

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/legacy"
)

// The module side of the legacy Modbatt protocol, driven from the bench's end of the module
// bus exactly as the pack's legacy logic drives it.
var _ = Describe("A module on the legacy module bus", Ordered, Label("legacy"), func() {
	sys := rigUp("legacy-module", inProcessOnly, packOff)
	var (
		bus *moduleBus
		m   *framework.Module
		id  uint8
	)
	BeforeAll(func() {
		Expect(sys().Modules).NotTo(BeEmpty(), "the rig has no modules")
		m = sys().Modules[0]
		id = m.Rig.ModuleID
		bus = newModuleBus(sys(), m.Rig.Buses[0])
	})

	It("takes the module ID of a registration that names its own identity", func(ctx SpecContext) {
		c := m.Config()
		mark := bus.mark()
		bus.send(ctx, &legacy.Registration{ModuleID: id, Manufacturer: c.Manufacturer, Part: c.Part, UniqueID: c.UniqueID}, legacy.ModuleUnregistered)
		Eventually(m.ModuleID).WithTimeout(2 * time.Second).Should(Equal(id))
		bus.send(ctx, &legacy.HardwareRequest{ModuleID: id}, id)
		msg, _ := bus.await(ctx, mark, legacy.IDHardware, id)
		hw := msg.(*legacy.Hardware)
		Expect(hw.HWVersion).To(Equal(c.HWVersion))
		Expect(hw.MaxChargeA).To(BeNumerically("~", c.MaxChargeA, 0.1))
	})

	It("refuses a registration for another module's identity and keeps its ID", func(ctx SpecContext) {
		c := m.Config()
		before := m.Stats().Registrations.Refused
		bus.send(ctx, &legacy.Registration{ModuleID: id + 1, Manufacturer: c.Manufacturer, Part: c.Part, UniqueID: c.UniqueID ^ 0xFFFF}, id)
		Eventually(func() uint64 { return m.Stats().Registrations.Refused }).Should(BeNumerically(">", before))
		Expect(m.ModuleID()).To(Equal(id))
	})

	It("answers a status request with 0x502, 0x503, 0x504 and 0x507, in that order", func(ctx SpecContext) {
		mark := bus.mark()
		bus.send(ctx, &legacy.StatusRequest{ModuleID: id}, id)
		s1, a := bus.await(ctx, mark, legacy.IDStatus1, id)
		_, b := bus.await(ctx, mark, legacy.IDStatus2, id)
		_, c := bus.await(ctx, mark, legacy.IDStatus3, id)
		_, d := bus.await(ctx, mark, legacy.IDCellComm1, id)
		Expect(a < b && b < c && c < d).To(BeTrue(), "answer order %d %d %d %d", a, b, c, d)
		Expect(s1.(*legacy.Status1).CellCount).To(BeEquivalentTo(m.Config().Cells))
	})

	It("never goes above the max state the pack's heartbeat allows", func(ctx SpecContext) {
		bus.send(ctx, &legacy.MaxState{State: legacy.StateStandby}, legacy.ModuleBroadcast)
		bus.send(ctx, &legacy.StateChange{ModuleID: id, State: legacy.StateOn, HVBusV: 48}, id)
		Eventually(m.State).Should(Equal(legacy.StateStandby))
		Consistently(m.State).WithTimeout(200 * time.Millisecond).Should(Equal(legacy.StateStandby))
		bus.send(ctx, &legacy.MaxState{State: legacy.StateOn}, legacy.ModuleBroadcast)
		bus.send(ctx, &legacy.StateChange{ModuleID: id, State: legacy.StateOn, HVBusV: 48}, id)
		Eventually(m.State).Should(Equal(legacy.StateOn))
		bus.send(ctx, &legacy.MaxState{State: legacy.StateOff}, legacy.ModuleBroadcast)
		Eventually(m.State).Should(Equal(legacy.StateOff), "a lower heartbeat pulls the state down at once")
	})

	It("opens its relays on an isolate-all and keeps its ID", func(ctx SpecContext) {
		bus.send(ctx, &legacy.MaxState{State: legacy.StateOn}, legacy.ModuleBroadcast)
		bus.send(ctx, &legacy.StateChange{ModuleID: id, State: legacy.StateStandby, HVBusV: 48}, id)
		Eventually(m.State).Should(Equal(legacy.StateStandby))
		bus.send(ctx, &legacy.AllIsolate{}, legacy.ModuleBroadcast)
		Eventually(m.State).Should(Equal(legacy.StateOff))
		Expect(m.ModuleID()).To(Equal(id))
	})

	It("drops its ID when deregistered and announces again when asked", func(ctx SpecContext) {
		bus.send(ctx, &legacy.Deregister{ModuleID: id, Reason: 1}, id)
		Eventually(m.ModuleID).Should(Equal(legacy.ModuleUnregistered))
		mark := bus.mark()
		bus.send(ctx, &legacy.AnnounceRequest{}, legacy.ModuleUnregistered)
		for { // every unregistered module answers; find this one's
			msg, at := bus.await(ctx, mark, legacy.IDAnnouncement, legacy.ModuleUnregistered)
			if msg.(*legacy.Announcement).UniqueID == m.Config().UniqueID {
				break
			}
			mark = at + 1
		}
	})
})
