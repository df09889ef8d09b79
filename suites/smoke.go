package suites

import (
	"net/url"
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/legacy"
)

var _ = Describe("A rig that has come up", Ordered, Label("smoke"), func() {
	sys := rigUp("smoke", functional)

	It("has every bus of the rig running and captured", func() {
		for _, b := range sys().Rig.Buses {
			_, ok := sys().Probe(b.Name)
			Expect(ok).To(BeTrue(), "the bench listens on bus %s", b.Name)
		}
		Expect(sys().Captures()).To(HaveLen(2*len(sys().Rig.Buses)), "a candump log and a pcap file per bus")
		for _, p := range sys().Captures() {
			_, err := os.Stat(p)
			Expect(err).NotTo(HaveOccurred())
		}
	})

	It("has the authority answering on loopback with its signing key", func(ctx SpecContext) {
		u, err := url.Parse(sys().Authority.URL)
		Expect(err).NotTo(HaveOccurred())
		Expect(u.Hostname()).To(Equal("127.0.0.1"))
		key, _, err := sys().Authority.Client.Authority(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(key.Bytes()).To(Equal(sys().Authority.PublicKey().Bytes()))
	})

	It("has every module announce itself, unregistered, at power-on", func() {
		Expect(sys().Modules).NotTo(BeEmpty(), "the rig has no modules")
		for _, m := range sys().Modules {
			p, ok := sys().Probe(m.Rig.Buses[0])
			Expect(ok).To(BeTrue())
			var seen bool
			for _, r := range p.Frames(0) {
				d, err := legacy.Decode(r.Frame)
				if err != nil {
					continue
				}
				if a, ok := d.Msg.(*legacy.Announcement); ok && a.UniqueID == m.Rig.UniqueID {
					Expect(d.ModuleID).To(Equal(legacy.ModuleUnregistered), "%s announces from EID module 0xFF", m.Name())
					seen = true
				}
			}
			Expect(seen).To(BeTrue(), "no 0x500 announcement from %s (unique ID %08x)", m.Name(), m.Rig.UniqueID)
		}
	})

	It("has the pack register every module at the module ID the rig gives it", func() {
		Expect(sys().Pack).NotTo(BeNil(), "the rig has no pack")
		got := map[uint32]uint8{}
		for _, m := range sys().Modules {
			p, _ := sys().Probe(m.Rig.Buses[0])
			for _, r := range p.Frames(0) {
				if d, err := legacy.Decode(r.Frame); err == nil {
					if reg, ok := d.Msg.(*legacy.Registration); ok {
						got[reg.UniqueID] = reg.ModuleID
					}
				}
			}
		}
		for _, m := range sys().Modules {
			Expect(got).To(HaveKeyWithValue(m.Rig.UniqueID, m.Rig.ModuleID), "the pack's 0x510 for %s", m.Name())
		}
	})

	It("has the app holding the authority's key and its own API", func() {
		Expect(sys().App).NotTo(BeNil(), "the rig has no app device")
		Expect(sys().App.Access().Type).To(Equal("http"))
	})

	It("carries only well-formed frames on every bus", func() {
		for _, b := range sys().Rig.Buses {
			p, _ := sys().Probe(b.Name)
			for _, r := range p.Frames(0) {
				Expect(r.Frame.Validate()).To(Succeed(), "frame %s on %s", r.Frame.String(), b.Name)
				Expect(r.Frame.FD && !b.FD).To(BeFalse(), "CAN FD frame on classic bus %s", b.Name)
			}
		}
	})
})
