package flash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bench/flash/an3155"
	"github.com/modbatt/hilrun/bus/pty"
	"github.com/modbatt/hilrun/image"
	"github.com/modbatt/hilrun/protocol/suite"
)

func testKey(t testing.TB, seed byte) *suite.PrivateKey {
	t.Helper()
	k, err := suite.NewPrivateKey(bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testImage(t testing.TB, name string, n int, key *suite.PrivateKey) Image {
	t.Helper()
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	img := Image{Bytes: b, ID: image.FromBytes(name, "1.2.3", "abc1234", b)}
	if key != nil {
		var err error
		if img, err = SignImage(key, img); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

type progressLog struct {
	mu    sync.Mutex
	calls [][2]int
}

func (p *progressLog) f(done, total int) {
	p.mu.Lock()
	p.calls = append(p.calls, [2]int{done, total})
	p.mu.Unlock()
}

func (p *progressLog) check(t *testing.T, total int) {
	t.Helper()
	if len(p.calls) < 2 {
		t.Fatalf("progress called %d times", len(p.calls))
	}
	prev := -1
	for _, c := range p.calls {
		if c[1] != total || c[0] < prev || c[0] > total {
			t.Fatalf("progress %v (total %d)", p.calls, total)
		}
		prev = c[0]
	}
	if prev != total {
		t.Fatalf("progress ended at %d of %d", prev, total)
	}
}

func TestSignVerify(t *testing.T) {
	auth := testKey(t, 1)
	img := testImage(t, "firmware", 1000, auth)
	id, err := Verify(auth.Public(), img.Bytes, img.Sig)
	if err != nil || id.Hash != sha256.Sum256(img.Bytes) || id.Name != "firmware" || id.Version != "1.2.3" {
		t.Fatalf("%v %v", id, err)
	}
	bad := append([]byte(nil), img.Bytes...)
	bad[10] ^= 1
	cases := []struct {
		name string
		b    []byte
		sig  []byte
		key  *suite.PublicKey
		want error
	}{
		{"corrupted bytes", bad, img.Sig, auth.Public(), ErrCorrupt},
		{"unsigned", img.Bytes, nil, auth.Public(), ErrUnsigned},
		{"other key", img.Bytes, img.Sig, testKey(t, 2).Public(), ErrBadSignature},
		{"garbage signature", img.Bytes, []byte{0xD2, 0x84}, auth.Public(), ErrBadSignature},
	}
	for _, c := range cases {
		if _, err := Verify(c.key, c.b, c.sig); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// Deterministic: the same image signs to the same bytes.
	again, _ := Sign(auth, img.ID)
	if !bytes.Equal(again, img.Sig) {
		t.Error("signature not deterministic")
	}
}

func TestEmulatedFlash(t *testing.T) {
	auth := testKey(t, 1)
	ctx := context.Background()
	img := testImage(t, "firmware", 4096, auth)
	l := NewLoader("firmware", auth.Public())
	var p progressLog
	if err := (Emulated{Target: l}).Flash(ctx, img, p.f); err != nil {
		t.Fatal(err)
	}
	p.check(t, len(img.Bytes))
	if id, ok := l.Running(); !ok || id.Hash != img.ID.Hash || id.Version != "1.2.3" {
		t.Fatalf("running %v", id)
	}

	corrupted := img
	corrupted.Bytes = append([]byte(nil), img.Bytes...)
	corrupted.Bytes[0] ^= 0xFF
	cases := []struct {
		name string
		img  Image
		dev  string
		want error
	}{
		{"corrupted", corrupted, "firmware", ErrCorrupt},
		{"unsigned", Image{Bytes: img.Bytes, ID: img.ID}, "firmware", ErrUnsigned},
		{"signed by another key", testImage(t, "firmware", 4096, testKey(t, 3)), "firmware", ErrBadSignature},
		{"gateway image on a module", testImage(t, "gateway", 100, auth), "firmware", ErrWrongImage},
		{"empty", Image{}, "firmware", ErrEmpty},
	}
	for _, c := range cases {
		l := NewLoader(c.dev, auth.Public())
		if err := (Emulated{Target: l}).Flash(ctx, c.img, nil); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if _, ok := l.Running(); ok {
			t.Errorf("%s: booted a refused image", c.name)
		}
	}
	if _, err := NewLoader("firmware", auth.Public()).Boot(ctx); !errors.Is(err, ErrNoImage) {
		t.Errorf("boot without image: %v", err)
	}
}

func onPTY(t *testing.T, tg *an3155.Target) string {
	t.Helper()
	pair, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = tg.ServePTY(ctx, pair) }()
	t.Cleanup(func() { cancel(); <-done; pair.Close() })
	return pair.Path()
}

func TestSTM32UART(t *testing.T) {
	ctx := context.Background()
	img := testImage(t, "gateway", 5000, nil)
	for _, old := range []bool{false, true} {
		tg := an3155.NewTarget(an3155.TargetConfig{OldErase: old, Size: 32 << 10})
		var p progressLog
		f := STM32UART{Port: onPTY(t, tg), Verify: true}
		if err := f.Flash(ctx, img, p.f); err != nil {
			t.Fatal(err)
		}
		p.check(t, 2*len(img.Bytes))
		if got := tg.Memory(an3155.FlashBase, len(img.Bytes)); !bytes.Equal(got, img.Bytes) {
			t.Fatal("flash contents differ")
		}
		s := tg.Stats()
		if !s.Jumped || s.Erases != 1 || s.Writes != 20 || s.Reads != 20 {
			t.Fatalf("old erase %v: stats %+v", old, s)
		}
	}
}

func TestSTM32UARTReadBackCatchesBadFlash(t *testing.T) {
	tg := an3155.NewTarget(an3155.TargetConfig{})
	tg.SetFaults(an3155.Faults{CorruptWrite: 1})
	f := STM32UART{Port: onPTY(t, tg), Verify: true}
	err := f.Flash(context.Background(), testImage(t, "gateway", 1000, nil), nil)
	if !errors.Is(err, ErrVerify) {
		t.Fatalf("want ErrVerify, got %v", err)
	}
	if tg.Stats().Jumped {
		t.Fatal("jumped to an image that failed verification")
	}
}

func TestSTM32UARTErrors(t *testing.T) {
	tg := an3155.NewTarget(an3155.TargetConfig{})
	tg.SetFaults(an3155.Faults{Mute: true})
	f := STM32UART{Port: onPTY(t, tg)}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := f.Flash(ctx, testImage(t, "gateway", 10, nil), nil); err == nil {
		t.Fatal("flashed a mute target")
	}
	tg2 := an3155.NewTarget(an3155.TargetConfig{})
	tg2.SetFaults(an3155.Faults{NACKWrites: 100})
	err := STM32UART{Port: onPTY(t, tg2)}.Flash(context.Background(), testImage(t, "gateway", 10, nil), nil)
	if !errors.Is(err, an3155.ErrNACK) {
		t.Fatalf("want NACK, got %v", err)
	}
	if err := (STM32UART{Port: "/nonexistent/tty"}).Flash(context.Background(), testImage(t, "gateway", 10, nil), nil); err == nil {
		t.Fatal("opened a missing port")
	}
	tg3 := an3155.NewTarget(an3155.TargetConfig{Size: 4096, PageSize: 1024})
	if err := (STM32UART{Port: onPTY(t, tg3)}).Flash(context.Background(), testImage(t, "gateway", 5000, nil), nil); err == nil {
		t.Fatal("flashed an image larger than the flash")
	}
}
