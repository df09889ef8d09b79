package suites

import (
	"crypto/rand"
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bench/flash"
	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/bench/rig"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/protocol/suite"
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

	Context("flashing through the device's own method", func() {
		var (
			dev *rig.Device
			img flash.Image
		)
		BeforeEach(func() {
			built("firmware")
			for i := range sys().Rig.Devices {
				if d := &sys().Rig.Devices[i]; d.Image == "firmware" {
					dev = d
					break
				}
			}
			Expect(dev).NotTo(BeNil(), "the rig has no device running the firmware image")
			var err error
			img, err = sys().SignedImage("firmware")
			Expect(err).NotTo(HaveOccurred())
		})

		It("boots the signed release image and reports it", func(ctx SpecContext) {
			got, data, err := sys().Flash(ctx, dev, img)
			Expect(err).NotTo(HaveOccurred())
			Expect(got.Hash).To(Equal(img.ID.Hash))
			Expect(got.Version).To(Equal(img.ID.Version))
			Expect(data).To(Equal(img.Bytes))
		})

		It("refuses an unsigned image", func(ctx SpecContext) {
			img.Sig = nil
			_, _, err := sys().Flash(ctx, dev, img)
			Expect(err).To(MatchError(flash.ErrUnsigned))
		})

		It("refuses an image signed by another key", func(ctx SpecContext) {
			other, err := suite.GenerateKey(rand.Reader)
			Expect(err).NotTo(HaveOccurred())
			img, err = flash.SignImage(other, img)
			Expect(err).NotTo(HaveOccurred())
			_, _, err = sys().Flash(ctx, dev, img)
			Expect(err).To(MatchError(flash.ErrBadSignature))
		})

		It("refuses a corrupted image", func(ctx SpecContext) {
			img.Bytes = append([]byte(nil), img.Bytes...)
			img.Bytes[len(img.Bytes)/2] ^= 0x01
			_, _, err := sys().Flash(ctx, dev, img)
			Expect(err).To(MatchError(flash.ErrCorrupt))
		})

		It("refuses another device's image", func(ctx SpecContext) {
			gw, err := sys().SignedImage("gateway")
			if err != nil {
				Skip("the gateway image was not built: " + err.Error())
			}
			_, _, err = sys().Flash(ctx, dev, gw)
			Expect(err).To(MatchError(flash.ErrWrongImage))
		})
	})
})
