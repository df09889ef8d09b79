package pack_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/modbatt/hilrun/app"
	"github.com/modbatt/hilrun/authority"
	"github.com/modbatt/hilrun/bench/flash"
	"github.com/modbatt/hilrun/bench/flash/fwxfer"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/firmware/module"
	"github.com/modbatt/hilrun/gateway/pack"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
	"github.com/modbatt/hilrun/protocol/suite"
)

// updateRig is the app, the authority, the pack and one module, all in-process on two
// emulated buses, bound and paired in firmware_update.
type updateRig struct {
	app    *app.App
	mod    *module.Device
	pack   *pack.Device
	key    *suite.PrivateKey // release key the module's boot loader trusts
	loader *flash.Loader
}

func newUpdateRig(t *testing.T) *updateRig {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	can1, _ := emu.New(emu.Config{Pacing: emu.AsFastAsPossible})
	can2, _ := emu.New(emu.Config{Pacing: emu.AsFastAsPossible})
	t.Cleanup(func() { can1.Close(); can2.Close() })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	api := "http://" + ln.Addr().String() + "/api"
	relay := authority.HTTPKeyGenerator{Relay: api}
	auth, err := authority.Start(authority.Options{Dir: t.TempDir(), NoSync: true,
		KeyGenerators: map[message.Role]authority.KeyGenerator{message.RoleApp: authority.HTTPKeyGenerator{},
			message.RolePack: relay, message.RoleModule: relay}}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Close() })

	key, err := suite.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	old := image.FromBytes("firmware", "1.0.0", "0ld", []byte("the old module image"))
	r := &updateRig{key: key, loader: flash.NewLoader("firmware", key.Public())}
	done := make(chan struct{}, 3)
	t.Cleanup(func() {
		cancel()
		for range 3 {
			<-done
		}
	})
	r.pack, err = pack.New(pack.Config{CAN1: can1.Join("pack"), CAN2: can2.Join("pack"), Clock: clock.Real{}, Rand: rand.Reader,
		Profile: mcu.Zero(), Authority: auth.PublicKey(), Image: image.FromBytes("gateway", "1.0.0", "0ld", []byte("gateway"))})
	if err != nil {
		t.Fatal(err)
	}
	go func() { r.pack.Run(ctx); done <- struct{}{} }()
	r.mod, err = module.New(module.Config{Clock: clock.Real{}, Bus: can2.Join("module-2"), UniqueID: 0x4D420002, Seed: 2,
		Profile: mcu.Zero(), Image: old, EntityID: "module-2", Authority: auth.PublicKey(), BootLoader: r.loader})
	if err != nil {
		t.Fatal(err)
	}
	go func() { r.mod.Run(ctx); done <- struct{}{} }()

	r.app, err = app.New(ctx, app.Config{API: api, Endpoint: can1.Join("app"), Clock: clock.Real{}, Rand: rand.Reader,
		Store: session.NewMemStore(), Authority: auth.Client, Modules: []app.Device{{EntityID: "module-2", Addr: 0x01}},
		Timeout: 10 * time.Second, NoAutoRenew: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: r.app.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	go func() { r.app.Run(ctx); done <- struct{}{} }()

	// The pack registers the module as 0x01 as soon as it announces.
	deadline := time.Now().Add(5 * time.Second)
	for r.mod.ModuleID() != 0x01 || !r.mod.Stats().Web4Running {
		if time.Now().After(deadline) {
			t.Fatalf("module not registered: %+v", r.mod.Stats())
		}
		time.Sleep(2 * time.Millisecond)
	}
	fctx, fcancel := context.WithTimeout(ctx, 30*time.Second)
	defer fcancel()
	if err := r.app.Bind(fctx); err != nil {
		t.Fatal(err)
	}
	if err := r.app.PairForUpdate(fctx, "module-2"); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *updateRig) signed(t *testing.T, version string, n int) flash.Image {
	t.Helper()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>9)
	}
	img, err := flash.SignImage(r.key, flash.Image{Bytes: b, ID: image.FromBytes("firmware", version, "n3w", b)})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestUpdateThroughGateway: the app sends a signed image to a module over CAN1, the pack
// relays every message to CAN2 re-sealed under its own firmware_update pairing, the module
// checks and boots it and its boot report names the new image; corrupted and unsigned images
// are refused with the commit's status and the module keeps its image.
func TestUpdateThroughGateway(t *testing.T) {
	r := newUpdateRig(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	img := r.signed(t, "2.0.0", 10_000)
	var calls, last, total int
	rep, err := r.app.UpdateModule(ctx, "module-2", img.Bytes, img.Sig, func(sent, n int) { calls++; last, total = sent, n })
	if err != nil {
		t.Fatal(err)
	}
	if rep.Kind != message.AnnounceImage || rep.ImageVersion != "2.0.0" || string(rep.ImageHash) != string(img.ID.Hash[:]) {
		t.Fatalf("boot report %+v", rep)
	}
	if got := r.mod.Image(); got.Version != "2.0.0" || got.Hash != img.ID.Hash {
		t.Fatalf("module runs %s", got)
	}
	if last != len(img.Bytes) || total != len(img.Bytes) || calls < 10 {
		t.Fatalf("progress: %d calls, last %d of %d", calls, last, total)
	}
	if s := r.pack.Stats(); s.Transferred < 2*uint64(calls) {
		t.Fatalf("pack relayed %d transfer messages for %d progress steps", s.Transferred, calls)
	}
	if s := r.mod.Stats(); s.Updates != 1 {
		t.Fatalf("module stats %+v", s)
	}

	// The module restarted; it needs its engine back before the next transfer.
	waitWeb4(t, r.mod)
	for _, c := range []struct {
		name string
		img  func() flash.Image
	}{
		{"corrupted", func() flash.Image {
			b := r.signed(t, "3.0.0", 5000)
			b.Bytes[100] ^= 0x40
			return b
		}},
		{"unsigned", func() flash.Image { b := r.signed(t, "3.0.0", 5000); b.Sig = nil; return b }},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := c.img()
			_, err := r.app.UpdateModule(ctx, "module-2", bad.Bytes, bad.Sig, nil)
			var ref *fwxfer.RefusedError
			if !errors.As(err, &ref) || ref.Phase != "offer" || ref.Status != fwxfer.StatusRejected { // the offer names a hash the signature does not, or has none
				t.Fatalf("update with a %s image: %v", c.name, err)
			}
			if got := r.mod.Image(); got.Version != "2.0.0" {
				t.Fatalf("module runs %s after a refused image", got)
			}
		})
	}
	if s := r.mod.Stats(); s.Updates != 1 || s.UpdatesRefused != 2 {
		t.Fatalf("module stats: %d updates, %d refused", s.Updates, s.UpdatesRefused)
	}
}

func waitWeb4(t *testing.T, m *module.Device) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if l, ok, _ := m.Link(t.Context()); ok && l.Paired && m.Stats().Web4Running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("module's link engine did not come back: %+v", m.Stats())
		}
		time.Sleep(2 * time.Millisecond)
	}
}
