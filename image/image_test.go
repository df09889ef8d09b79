package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modbatt/hilrun/protocol/message"
)

func TestBuildStampsVersionAndHash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	out := filepath.Join(t.TempDir(), "stamped")
	img, err := BuildWith(context.Background(), BuildOptions{
		Package: "./testdata/stamped", Out: out, Version: "1.4.0-rc.2", Commit: "0f54b47abcde",
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if img.Hash != sha256.Sum256(b) {
		t.Fatalf("hash %s is not the file's", img.HashHex())
	}
	if img.Name != "stamped" || img.Version != "1.4.0-rc.2" || img.Commit != "0f54b47abcde" {
		t.Fatalf("image %+v", img)
	}
	got, err := exec.Command(out).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "1.4.0-rc.2 0f54b47abcde " + img.HashHex() + "\n"
	if string(got) != want {
		t.Fatalf("program reports %q, want %q", got, want)
	}
}

func TestUnstampedCurrent(t *testing.T) {
	img, err := Current("image.test")
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if img.Version != "dev" || img.Commit != "unknown" || img.Hash != sha256.Sum256(b) {
		t.Fatalf("unstamped test binary: %v", img)
	}
	if !strings.HasPrefix(img.String(), "image.test dev (commit unknown) sha256:") {
		t.Fatalf("String %q", img)
	}
}

func TestCheckVersion(t *testing.T) {
	cases := []struct {
		v  string
		ok bool
	}{
		{"1.0.0", true},
		{"v2.3.1+build.7-g0f54b47", true},
		{"", false},
		{strings.Repeat("9", MaxVersionLen), true},
		{strings.Repeat("9", MaxVersionLen+1), false},
		{"1.0 beta", false},
		{"1.0\"-X", false},
		{"1.0\n", false},
		{"1.0é", false},
	}
	for _, c := range cases {
		err := CheckVersion(c.v)
		if (err == nil) != c.ok {
			t.Errorf("%q: %v", c.v, err)
		}
		if err != nil && !errors.Is(err, ErrVersion) {
			t.Errorf("%q: untyped %v", c.v, err)
		}
	}
	if _, err := Build(context.Background(), "./testdata/stamped", filepath.Join(t.TempDir(), "x"), "bad version"); !errors.Is(err, ErrVersion) {
		t.Fatalf("build with a bad version: %v", err)
	}
}

func TestBootReport(t *testing.T) {
	img := FromBytes("firmware", "1.4.0", "0f54b47", []byte("module image"))
	kid := uint16(0x0102)
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	a, err := Boot(img, Node{EntityID: "module-07", Role: message.RoleModule, Addr: 0x07, State: message.StateBound, KID: &kid}, at)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := message.DecodeAnnounce(enc)
	if err != nil {
		t.Fatal(err)
	}
	if back.Kind != message.AnnounceImage || back.At != at.Unix() {
		t.Fatalf("decoded %+v", back)
	}
	if err := Match(back, img); err != nil {
		t.Fatal(err)
	}
	other := img
	other.Hash[0] ^= 1
	if err := Match(back, other); !errors.Is(err, ErrMismatch) {
		t.Fatalf("other hash: %v", err)
	}
	other = img
	other.Version = "1.4.1"
	if err := Match(back, other); !errors.Is(err, ErrMismatch) {
		t.Fatalf("other version: %v", err)
	}
	if err := Match(nil, img); !errors.Is(err, ErrMismatch) {
		t.Fatalf("nil: %v", err)
	}
	if !bytes.Equal(back.ImageHash, img.Hash[:]) {
		t.Fatal("hash changed on the wire")
	}
	bad := img
	bad.Version = ""
	if _, err := Boot(bad, Node{EntityID: "m", Role: message.RoleModule}, at); err == nil {
		t.Fatal("empty version announced")
	}
}

func TestVerify(t *testing.T) {
	img := FromBytes("gateway", "2.0.0", "abc", []byte("pack image"))
	if err := img.Verify([]byte("pack image")); err != nil {
		t.Fatal(err)
	}
	if err := img.Verify([]byte("pack imagf")); !errors.Is(err, ErrMismatch) {
		t.Fatalf("tampered: %v", err)
	}
}
