package suites

import (
	"errors"
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/image"
)

// Release qualification: the image a device runs is the image that was built.
var _ = Describe("Qualification of the flashed images", Ordered, Label("qualification"), func() {
	sys := rigUp("qualification")

	built := func(name string) framework.Built {
		b, ok := sys().Images[name]
		if !ok {
			Skip("image " + name + " was not built: " + errors.Join(sys().Missing["image "+name]).Error())
		}
		return b
	}

	It("stamps the firmware image with its version and commit", func() {
		b := built("firmware")
		Expect(b.Version).NotTo(BeEmpty())
		Expect(b.Commit).NotTo(BeEmpty())
		h, err := image.HashFile(b.Path)
		Expect(err).NotTo(HaveOccurred())
		Expect(h).To(Equal(b.Hash), "the image's hash is that of the file built")
	})

	It("has every module report, over the bus, the firmware image that was built", func() {
		b := built("firmware")
		Expect(sys().Modules).NotTo(BeEmpty())
		for _, m := range sys().Modules {
			rep, ok := sys().Reports[m.EntityID()]
			Expect(ok).To(BeTrue(), "no boot report of %s reached the app", m.Name())
			Expect(image.Match(rep, b.Image)).To(Succeed(), "%s", m.Name())
			Expect(rep.ImageHash).To(Equal(b.Hash[:]))
		}
	})

	It("has the pack report, over the bus, the gateway image that was built", func() {
		b := built("gateway")
		Expect(sys().Pack).NotTo(BeNil(), "the rig has no pack")
		rep, ok := sys().Reports[sys().Pack.EntityID()]
		Expect(ok).To(BeTrue(), "no boot report of the pack reached the app")
		Expect(image.Match(rep, b.Image)).To(Succeed())
	})

	It("has the emulated boot loader refuse a corrupted image", func() {
		b := built("firmware")
		data, err := os.ReadFile(b.Path)
		Expect(err).NotTo(HaveOccurred())
		data[len(data)/2] ^= 0x01
		_, err = framework.FlashEmulated(b.Image, data)
		Expect(err).To(MatchError(image.ErrMismatch))
		_, err = framework.FlashEmulated(b.Image, data[:len(data)-1])
		Expect(err).To(MatchError(image.ErrMismatch), "a truncated image")
	})
})
