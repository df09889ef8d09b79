package suites

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/modbatt/hilrun/bench/flash/fwxfer"
	"github.com/modbatt/hilrun/bench/framework"
	"github.com/modbatt/hilrun/image"
)

// updateTimeout bounds one module update over CAN: a bench image is megabytes, and classic CAN
// carries it seven bytes a frame, twice (CAN1, then CAN2).
const updateTimeout = 4 * time.Minute

// Module update over CAN under a firmware_update pairing (docs/protocol.md 4.14): the image a
// module reports after the update is the image that was built.
var _ = Describe("Module update over CAN", Ordered, Label("qualification", "update"), func() {
	sys := rigUp("update", functional, inProcessOnly)
	const target = "module-2"
	var fresh framework.Built

	BeforeAll(func(ctx SpecContext) {
		if _, ok := sys().Images["firmware"]; !ok {
			Skip("image firmware was not built: " + errors.Join(sys().Missing["image firmware"]).Error())
		}
		_, ok := sys().Module(target)
		Expect(ok).To(BeTrue(), "the rig has no %s", target)
		// A fresh build with its own version stamp, so the update is visible in the report.
		im := &framework.Images{OutDir: filepath.Join(GinkgoT().TempDir(), "update"), Version: "0.0.1-update"}
		var err error
		fresh, err = im.Get(ctx, "firmware")
		Expect(err).NotTo(HaveOccurred(), "building the update image")
		Expect(fresh.Version).NotTo(Equal(sys().Images["firmware"].Version))
	}, NodeTimeout(5*time.Minute))

	It("updates module-2 over CAN to a freshly built image and the module reports exactly it", func(ctx SpecContext) {
		m, _ := sys().Module(target)
		var mu sync.Mutex
		var steps, last, total int
		err := sys().FlashOverCAN(ctx, target, fresh, func(sent, n int) {
			mu.Lock()
			steps, last, total = steps+1, sent, n
			mu.Unlock()
		})
		Expect(err).NotTo(HaveOccurred())
		st, err := os.Stat(fresh.Path)
		Expect(err).NotTo(HaveOccurred())
		mu.Lock()
		Expect(total).To(BeEquivalentTo(st.Size()), "progress total")
		Expect(last).To(Equal(total), "progress reaches the whole image")
		Expect(steps).To(BeNumerically(">", 2), "progress while the image goes over")
		mu.Unlock()

		rep, ok := sys().Reports[m.EntityID()]
		Expect(ok).To(BeTrue(), "no boot report of %s reached the app", target)
		Expect(image.Match(rep, fresh.Image)).To(Succeed())
		Expect(rep.ImageVersion).To(Equal(fresh.Version))
		Expect(rep.ImageHash).To(Equal(fresh.Hash[:]))
		own, err := m.BootReport()
		Expect(err).NotTo(HaveOccurred())
		Expect(image.Match(own, fresh.Image)).To(Succeed(), "the module's own boot report")
		Expect(m.Stats().Updates).To(BeEquivalentTo(1))
	}, NodeTimeout(updateTimeout))

	It("refuses a corrupted image over CAN and keeps running its image", func(ctx SpecContext) {
		m, _ := sys().Module(target)
		before := m.Image()
		data, err := os.ReadFile(fresh.Path)
		Expect(err).NotTo(HaveOccurred())
		data[len(data)/2] ^= 0x01
		bad := fresh
		bad.Version = "0.0.2-corrupted"
		bad.Path = filepath.Join(GinkgoT().TempDir(), "firmware-corrupted")
		Expect(os.WriteFile(bad.Path, data, 0o644)).To(Succeed())

		err = sys().FlashOverCAN(ctx, target, bad, nil)
		var refused *fwxfer.RefusedError
		Expect(errors.As(err, &refused)).To(BeTrue(), "the module's refusal, got %v", err)
		// The offer announces the corrupted bytes' hash, which the signature does not name.
		Expect(refused.Phase).To(Equal("offer"))
		Expect(refused.Status).To(Equal(fwxfer.StatusRejected))

		Expect(m.Image()).To(Equal(before), "the module still runs its image")
		own, err := m.BootReport()
		Expect(err).NotTo(HaveOccurred())
		Expect(image.Match(own, before)).To(Succeed())
		Expect(m.Stats().UpdatesRefused).To(BeEquivalentTo(1))
	}, NodeTimeout(updateTimeout))
})
