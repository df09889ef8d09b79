package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modbatt/hilrun/app"
	"github.com/modbatt/hilrun/authority"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/nvm"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/message"
	"github.com/modbatt/hilrun/protocol/session"
)

// programsVersion is the version stamped into the images this test builds.
const programsVersion = "0.4.0-e2e"

// lostKeyRecord is the record of the module's binding key towards the pack in its NVM file
// (the firmware keeps the link engine's records under "web4/", the engine names a key
// session/key/<peer address>).
var lostKeyRecord = fmt.Sprintf("web4/session/key/%02x", canid.AddrPack)

// eventLog drains an app subscription so that no event is lost while the flow waits for
// another, and lets the flow wait for an event from a given point on.
type eventLog struct {
	mu  sync.Mutex
	evs []session.Event
}

func (l *eventLog) run(ctx context.Context, sub <-chan session.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-sub:
			l.mu.Lock()
			l.evs = append(l.evs, ev)
			l.mu.Unlock()
		}
	}
}

func (l *eventLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.evs)
}

// since returns the events from mark on.
func (l *eventLog) since(mark int) []session.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]session.Event(nil), l.evs[mark:]...)
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEndToEndPrograms is issue 4's flow with the devices as separate programs: the gateway and
// four firmware images, built with their version stamped, run as processes on two emulated
// buses served on Unix sockets; the authority and the app run in this process, the app as one
// more client of the CAN1 server. The module's key loss is real: its process is killed, the
// key is gone from its NVM file, and the restarted image finds it missing and announces it.
func TestEndToEndPrograms(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the firmware and gateway images and runs them as five processes (about 20 s)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	dir := t.TempDir()
	start := time.Now()
	type stepTime struct {
		name string
		d    time.Duration
	}
	var steps []stepTime
	t0 := time.Now()
	step := func(name string) {
		steps = append(steps, stepTime{name, time.Since(t0)})
		t0 = time.Now()
	}
	defer func() {
		for _, s := range steps {
			t.Logf("%-44s %9.1f ms", s.name, ms(s.d))
		}
		t.Logf("%-44s %9.1f ms", "test wall time", ms(time.Since(start)))
	}()

	// Build both images once and check what each reports about itself.
	imgs := map[string]image.Image{}
	for _, name := range []string{"firmware", "gateway"} {
		out := filepath.Join(dir, name)
		img, err := image.BuildWith(ctx, image.BuildOptions{Package: "./" + name, Out: out, Name: name,
			Version: programsVersion, Dir: ".."})
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if sha256.Sum256(b) != img.Hash || img.Version != programsVersion || img.Name != name {
			t.Fatalf("%s: built image %s does not describe the file (sha256 %x)", name, img, sha256.Sum256(b))
		}
		v, err := exec.CommandContext(ctx, out, "--version").Output()
		if err != nil {
			t.Fatalf("%s --version: %v", name, err)
		}
		if got := strings.TrimSpace(string(v)); got != img.String() {
			t.Fatalf("%s --version = %q, want %q", name, got, img.String())
		}
		imgs[name] = img
	}
	step("build 2 images + --version")

	// Buses in real time at 500 kbit/s (every frame takes its wire time), with captures.
	busCfg := emu.Config{Pacing: emu.RealTime, Clock: clock.Real{}}
	can1 := serveBus(t, ctx, dir, "can1", busCfg)
	can2 := serveBus(t, ctx, dir, "can2", busCfg)

	// The app's API answers the authority's key generation: its own key and the CAN relay.
	var appH http.Handler
	var hmu sync.Mutex
	appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hmu.Lock()
		h := appH
		hmu.Unlock()
		if h == nil {
			http.Error(w, "app not up", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(appSrv.Close)
	api := appSrv.URL + "/api"
	auth, err := authority.Start(authority.Options{Dir: filepath.Join(dir, "authority"), Clock: clock.Real{}, NoSync: true,
		KeyGenerators: map[message.Role]authority.KeyGenerator{message.RoleApp: authority.HTTPKeyGenerator{},
			message.RolePack: authority.HTTPKeyGenerator{Relay: api}, message.RoleModule: authority.HTTPKeyGenerator{Relay: api}}},
		"127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Close() })
	keyFile := filepath.Join(dir, "authority.pub")
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(auth.PublicKey().Bytes())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// The devices, factory default: no NVM files yet.
	l := newLauncher(t, ctx)
	gw := l.add("gateway", filepath.Join(dir, "gateway"), "--can1", can1.addr, "--can2", can2.addr,
		"--nvm", filepath.Join(dir, "pack.nvm"), "--profile", "zero", "--authority-key", "@"+keyFile)
	type mod struct {
		uid    uint32
		entity string
		nvm    string
		prog   *program
		addr   uint8
	}
	var mods []*mod
	for i := range 4 {
		m := &mod{uid: 0x1000A001 + uint32(i)}
		m.entity = fmt.Sprintf("module-%08x", m.uid)
		m.nvm = filepath.Join(dir, fmt.Sprintf("module-%d.nvm", i+1))
		m.prog = l.add(m.entity, filepath.Join(dir, "firmware"), "--bus", can2.addr, "--unique-id", fmt.Sprintf("%#x", m.uid),
			"--seed", fmt.Sprint(i+1), "--nvm", m.nvm, "--profile", "zero", "--authority-key", "@"+keyFile, "--log-level", "debug")
		mods = append(mods, m)
	}
	if err := gw.start(ctx); err != nil {
		t.Fatal(err)
	}
	// The pack first, so that every module's boot announcement finds it listening.
	eventually(t, 10*time.Second, "gateway on both buses", func() bool { return can1.Endpoints() >= 1 && can2.Endpoints() >= 1 })
	for _, m := range mods {
		if err := m.prog.start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	step("start gateway + 4 firmware processes")

	// Legacy: every module registered with its own ID and answering the pack's polls.
	eventually(t, 30*time.Second, "legacy registration of 4 modules", func() bool {
		for _, m := range mods {
			r := can2.registrations(m.uid)
			if len(r) == 0 || can2.statusAnswers(r[len(r)-1]) == 0 {
				return false
			}
		}
		return true
	})
	ids := map[uint8]bool{}
	var devs []app.Device
	for _, m := range mods {
		r := can2.registrations(m.uid)
		m.addr = r[len(r)-1]
		if m.addr < 0x01 || m.addr > 0x1F || ids[m.addr] {
			t.Fatalf("%s registered as %#02x (IDs so far %v)", m.entity, m.addr, ids)
		}
		ids[m.addr] = true
		devs = append(devs, app.Device{EntityID: m.entity, Addr: m.addr})
	}
	for _, p := range l.progs {
		if !p.running() {
			t.Fatalf("%s exited: %v", p.name, p.stop(0))
		}
	}
	if !strings.Contains(gw.log.String(), imgs["gateway"].HashHex()) {
		t.Fatalf("the gateway's boot log does not report its image %s", imgs["gateway"])
	}
	step("legacy registration ×4")

	// The app, one more client of the CAN1 server.
	ep, err := emu.Dial(ctx, can1.addr)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, app.Config{API: api, Endpoint: ep, Clock: clock.Real{}, Rand: rand.Reader,
		Store: session.NewMemStore(), Authority: auth.Client, Pack: app.Device{EntityID: "pack-0", Addr: canid.AddrPack},
		Modules: devs, Timeout: 20 * time.Second})
	if err != nil {
		ep.Close()
		t.Fatal(err)
	}
	hmu.Lock()
	appH = a.Handler()
	hmu.Unlock()
	evs := &eventLog{}
	sub := a.Subscribe(4096)
	rctx, stopApp := context.WithCancel(ctx)
	var wg sync.WaitGroup
	t.Cleanup(func() { stopApp(); wg.Wait(); ep.Close() })
	wg.Add(2)
	go func() { defer wg.Done(); a.Run(rctx) }()
	go func() { defer wg.Done(); evs.run(rctx, sub) }()

	if _, err := a.BindPack(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		if _, err := a.BindModule(ctx, m.entity); err != nil {
			t.Fatalf("bind %s: %v", m.entity, err)
		}
	}
	checkBinding := func(x, y string) {
		t.Helper()
		bid, ok := a.BindingID(x, y)
		if !ok {
			t.Fatalf("no binding %s×%s at the app", x, y)
		}
		if b, err := auth.Binding(bid); err != nil || b.Status != "active" {
			t.Fatalf("binding %s×%s at the authority: %+v %v", x, y, b, err)
		}
	}
	checkBinding(a.Access().DeviceID, "pack-0")
	for _, m := range mods {
		checkBinding("pack-0", m.entity)
	}
	step("bind pack + 4 modules")

	if _, err := a.PairPack(ctx, pctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		if _, err := a.PairModule(ctx, pctx, m.entity); err != nil {
			t.Fatalf("pair %s: %v", m.entity, err)
		}
		pid, _ := a.PairingID(m.entity)
		if p, err := auth.Pairing(pid); err != nil || p.Status != "completed" || p.Context != pctx {
			t.Fatalf("%s pairing at the authority: %+v %v", m.entity, p, err)
		}
	}
	step("pair app×pack + pack×4 (" + pctx + ")")

	ack, err := a.Command(ctx, mods[0].addr, chargeEnable())
	if err != nil || ack.Status != message.StatusOK {
		t.Fatalf("charge enable: %+v %v", ack, err)
	}
	step("L5 charge-enable + ACK")

	mark := evs.mark()
	eventually(t, 15*time.Second, "protected telemetry from 4 modules at the app", func() bool {
		seen := map[uint8]bool{}
		for _, ev := range evs.since(mark) {
			if e, ok := ev.(session.EventTelemetry); ok && e.Protected && e.Peer == canid.AddrPack && ids[e.Telemetry.Addr] {
				seen[e.Telemetry.Addr] = true
			}
		}
		return len(seen) == len(mods)
	})
	step("protected telemetry ×4")

	// Key loss across processes: power module 1 off, its key store loses the key, power it on.
	m1 := mods[0]
	oldPID, _ := a.PairingID(m1.entity)
	oldBID, _ := a.BindingID("pack-0", m1.entity)
	oldCert, ok := a.Certificate(m1.entity)
	if oldPID == "" || oldBID == "" || !ok {
		t.Fatalf("%s: pairing %q binding %q certificate %v at the app", m1.entity, oldPID, oldBID, ok)
	}
	m1.prog.kill()
	if m1.prog.running() {
		t.Fatalf("%s still runs after SIGKILL", m1.entity)
	}
	st, err := nvm.Open(m1.nvm)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Get(lostKeyRecord); !ok {
		st.Close()
		t.Fatalf("%s NVM has no %s (records %v)", m1.entity, lostKeyRecord, st.Names())
	}
	err = st.Delete(lostKeyRecord)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	regsBefore := len(can2.registrations(m1.uid))
	mark = evs.mark()
	if err := m1.prog.start(ctx); err != nil {
		t.Fatal(err)
	}
	var esc *message.Escalation
	var boot *message.Announce
	eventually(t, 30*time.Second, "key-loss escalation and boot report of the restarted module at the app", func() bool {
		for _, ev := range evs.since(mark) {
			switch e := ev.(type) {
			case session.EventEscalation:
				if !e.Local && e.Escalation.Reason == message.ReasonKeyLoss && esc == nil {
					esc = e.Escalation
				}
			case session.EventAnnounce:
				if e.Announce.EntityID == m1.entity && e.Announce.Kind == message.AnnounceImage {
					boot = e.Announce
				}
			}
		}
		return esc != nil && boot != nil
	})
	if r := can2.registrations(m1.uid); len(r) <= regsBefore || r[len(r)-1] != m1.addr {
		t.Fatalf("%s re-registered as %v, want %#02x again", m1.entity, r[regsBefore:], m1.addr)
	}
	if esc.Target != message.L7BindingValidation || esc.Source != m1.addr {
		t.Fatalf("key-loss escalation %+v, want L7 about %#02x", esc, m1.addr)
	}
	if err := image.Match(boot, imgs["firmware"]); err != nil {
		t.Fatalf("boot report of the restarted image: %v", err)
	}
	step("kill, key lost, restart → R1 → escalation")

	who, ok := a.ModuleAt(esc.Source)
	if !ok || who.EntityID != m1.entity {
		t.Fatalf("the escalation names %#02x, the app knows %+v", esc.Source, who)
	}
	if err := a.Recover(ctx, who.EntityID, pctx); err != nil {
		t.Fatal(err)
	}
	if b, err := auth.Binding(oldBID); err != nil || b.Status != "revoked" {
		t.Fatalf("old binding at the authority: %+v %v", b, err)
	}
	if p, err := auth.Pairing(oldPID); err != nil || p.Status != "revoked" {
		t.Fatalf("old pairing at the authority: %+v %v", p, err)
	}
	newBID, _ := a.BindingID("pack-0", m1.entity)
	newPID, _ := a.PairingID(m1.entity)
	if newBID == oldBID || newPID == oldPID {
		t.Fatalf("recovery kept binding %s / pairing %s", newBID, newPID)
	}
	if b, err := auth.Binding(newBID); err != nil || b.Status != "active" {
		t.Fatalf("new binding at the authority: %+v %v", b, err)
	}
	if p, err := auth.Pairing(newPID); err != nil || p.Status != "completed" {
		t.Fatalf("new pairing at the authority: %+v %v", p, err)
	}
	step("revoke → re-bind → re-pair")

	// The old pairing is refused by the pack and the module, and by the authority.
	packRefused := strings.Count(gw.log.String(), "module pairing refused")
	modRefused := strings.Count(m1.prog.log.String(), "cause=pairing")
	if err := a.DeliverPairing(ctx, m1.entity, oldCert); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the old pairing refused by the pack and the module", func() bool {
		return strings.Count(gw.log.String(), "module pairing refused") > packRefused &&
			strings.Count(m1.prog.log.String(), "cause=pairing") > modRefused
	})
	if _, err := auth.Complete(oldPID, authority.CompleteRequest{Completion: "AA=="}); err == nil {
		t.Fatal("the authority accepted a completion of the old pairing")
	}
	step("old pairing refused")

	for _, m := range mods {
		ack, err := a.Command(ctx, m.addr, chargeEnable())
		if err != nil || ack.Status != message.StatusOK {
			t.Fatalf("%s after recovery: %+v %v", m.entity, ack, err)
		}
	}
	step("L5 to every module again")

	// Every program stops cleanly on SIGTERM.
	stopApp()
	wg.Wait()
	for _, p := range l.progs {
		if err := p.stop(10 * time.Second); err != nil {
			t.Errorf("%s: %v", p.name, err)
		}
	}
	step("SIGTERM 5 processes")

	for _, b := range []*servedBus{can1, can2} {
		web4, leg, other := busLoad(b.Bus)
		if web4 == 0 || leg == 0 || other != 0 {
			t.Errorf("%s: Web4 %d, legacy %d, other %d frames", b.iface, web4, leg, other)
		}
		lo := b.Load()
		t.Logf("%s: %d frames (Web4 %d, legacy %d), bus busy %.1f ms of %.1f ms",
			b.iface, lo.Frames, web4, leg, ms(lo.Busy), ms(lo.Elapsed))
	}
	// Close the buses' captures now (their cleanup would be too late to read them back).
	for _, b := range []*servedBus{can1, can2} {
		b.mu.Lock()
		err := b.w.Flush()
		n := b.recorded
		b.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		size, recs := captureCheck(t, b.capPath)
		if uint64(recs) != n || n == 0 {
			t.Errorf("%s capture holds %d records, the bus recorded %d frames", b.iface, recs, n)
		}
		t.Logf("%s capture %s: %d bytes, %d records", b.iface, filepath.Base(b.capPath), size, recs)
	}
	for _, p := range l.progs {
		if strings.Contains(p.log.String(), "panic:") {
			t.Errorf("%s panicked", p.name)
		}
	}
}

// busLoad counts a bus's frames by protocol.
func busLoad(b *emu.Bus) (web4, leg, other uint64) {
	for id, n := range b.Load().PerID {
		switch canid.Classify(id&0x1FFFFFFF, id&0x80000000 != 0) {
		case canid.Web4:
			web4 += n
		case canid.Legacy:
			leg += n
		default:
			other += n
		}
	}
	return web4, leg, other
}
