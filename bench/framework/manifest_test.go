package framework

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestManifestRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the firmware image")
	}
	dir := t.TempDir()
	im := &Images{OutDir: dir, Version: "1.2.3"}
	b, err := im.Get(context.Background(), "firmware")
	if err != nil {
		t.Fatal(err)
	}
	got, err := LoadImages(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := got.Get(context.Background(), "firmware")
	if err != nil {
		t.Fatal(err)
	}
	if again.Image != b.Image || again.Path != b.Path {
		t.Errorf("loaded %+v, built %+v", again, b)
	}
	if _, err := got.Get(context.Background(), "gateway"); !errors.Is(err, ErrImageMissing) {
		t.Errorf("an image the manifest lacks: %v, want ErrImageMissing (no build)", err)
	}
	// A file changed after the build is refused.
	if err := os.WriteFile(b.Path, []byte("tampered"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadImages(dir); !errors.Is(err, ErrManifest) {
		t.Errorf("tampered image: %v, want ErrManifest", err)
	}
}

func TestParseManifestRejects(t *testing.T) {
	h := strings.Repeat("ab", 32)
	for name, text := range map[string]string{
		"not json":      `{`,
		"schema":        `{"schema":"other/1","images":[]}`,
		"unknown field": `{"schema":"hilrun-images/1","images":[],"x":1}`,
		"unknown image": `{"schema":"hilrun-images/1","images":[{"name":"bios","version":"1.0.0","commit":"c","sha256":"` + h + `","file":"f"}]}`,
		"twice":         `{"schema":"hilrun-images/1","images":[{"name":"firmware","version":"1.0.0","commit":"c","sha256":"` + h + `","file":"f"},{"name":"firmware","version":"1.0.0","commit":"c","sha256":"` + h + `","file":"f"}]}`,
		"bad version":   `{"schema":"hilrun-images/1","images":[{"name":"firmware","version":"","commit":"c","sha256":"` + h + `","file":"f"}]}`,
		"short hash":    `{"schema":"hilrun-images/1","images":[{"name":"firmware","version":"1.0.0","commit":"c","sha256":"abcd","file":"f"}]}`,
		"no file":       `{"schema":"hilrun-images/1","images":[{"name":"firmware","version":"1.0.0","commit":"c","sha256":"` + h + `","file":""}]}`,
	} {
		if _, err := parseManifest([]byte(text)); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: %v, want ErrManifest", name, err)
		}
	}
	if _, err := LoadImages(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a directory without a manifest loaded")
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"schema":"hilrun-images/1","images":[{"name":"firmware","version":"1.0.0","commit":"c","sha256":"` + strings.Repeat("00", 32) + `","file":"firmware"}]}`))
	f.Add([]byte(`{"schema":"hilrun-images/1","images":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseManifest(b)
		if err != nil {
			if !errors.Is(err, ErrManifest) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if m.Schema != ManifestSchema {
			t.Fatalf("accepted schema %q", m.Schema)
		}
	})
}
