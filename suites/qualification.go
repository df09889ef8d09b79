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

	It("has every module report the firmware image that was built", func() {
		b := built("firmware")
		Expect(sys().Modules).NotTo(BeEmpty())
		for _, m := range sys().Modules {
			rep, err := m.BootReport()
			Expect(err).NotTo(HaveOccurred())
			Expect(image.Match(rep, b.Image)).To(Succeed(), "%s", m.Name())
		}
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
