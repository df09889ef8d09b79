package framework

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/modbatt/hilrun/image"
)

// ManifestFile is the file beside built images that names them: a run's images directory
// can be handed to a later run (hilrun run --images DIR), so that what is flashed is
// exactly what was built and qualified before, not a fresh build.
const ManifestFile = "images.json"

// ManifestSchema versions the manifest's layout.
const ManifestSchema = "hilrun-images/1"

type manifest struct {
	Schema string          `json:"schema"`
	Images []manifestImage `json:"images"`
}

type manifestImage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Commit  string `json:"commit"`
	SHA256  string `json:"sha256"`
	File    string `json:"file"` // relative to the manifest's directory
}

// ErrManifest is wrapped by every error of a bad images manifest.
var ErrManifest = errors.New("framework: bad images manifest")

// writeManifest records the images built so far in dir.
func writeManifest(dir string, built map[string]Built) error {
	m := manifest{Schema: ManifestSchema}
	for _, b := range built {
		rel, err := filepath.Rel(dir, b.Path)
		if err != nil {
			rel = b.Path
		}
		m.Images = append(m.Images, manifestImage{Name: b.Name, Version: b.Version, Commit: b.Commit, SHA256: b.HashHex(), File: rel})
	}
	sort.Slice(m.Images, func(i, j int) bool { return m.Images[i].Name < m.Images[j].Name })
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("framework: manifest: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, ManifestFile), append(data, '\n'), 0o644)
}

// parseManifest decodes and checks a manifest's text; file hashes are checked by LoadImages.
func parseManifest(data []byte) (manifest, error) {
	var m manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if m.Schema != ManifestSchema {
		return m, fmt.Errorf("%w: schema %q, want %q", ErrManifest, m.Schema, ManifestSchema)
	}
	seen := map[string]bool{}
	for i, e := range m.Images {
		if _, ok := ImagePackage(e.Name); !ok {
			return m, fmt.Errorf("%w: images[%d]: unknown image %q", ErrManifest, i, e.Name)
		}
		if seen[e.Name] {
			return m, fmt.Errorf("%w: images[%d]: %s named twice", ErrManifest, i, e.Name)
		}
		seen[e.Name] = true
		if err := image.CheckVersion(e.Version); err != nil {
			return m, fmt.Errorf("%w: images[%d]: %v", ErrManifest, i, err)
		}
		if b, err := hex.DecodeString(e.SHA256); err != nil || len(b) != 32 {
			return m, fmt.Errorf("%w: images[%d]: sha256 %q is not 64 hex digits", ErrManifest, i, e.SHA256)
		}
		if e.File == "" {
			return m, fmt.Errorf("%w: images[%d]: no file", ErrManifest, i)
		}
	}
	return m, nil
}

// LoadImages reads the images a manifest in dir names and checks each file's SHA-256
// against it. The result hands those images to every bring-up instead of building.
func LoadImages(dir string) (*Images, error) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("framework: images: %w", err)
	}
	m, err := parseManifest(data)
	if err != nil {
		return nil, err
	}
	im := &Images{OutDir: dir, built: map[string]Built{}, errs: map[string]error{}, fixed: true}
	for i, e := range m.Images {
		path := e.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		got, err := image.HashFile(path)
		if err != nil {
			return nil, fmt.Errorf("framework: images[%d] %s: %w", i, e.Name, err)
		}
		if hex.EncodeToString(got[:]) != e.SHA256 {
			return nil, fmt.Errorf("%w: %s: %s has SHA-256 %x, the manifest says %s", ErrManifest, e.Name, path, got, e.SHA256)
		}
		im.built[e.Name] = Built{Image: image.Image{Name: e.Name, Version: e.Version, Commit: e.Commit, Hash: got}, Path: path}
	}
	return im, nil
}
