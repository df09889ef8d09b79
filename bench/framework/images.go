package framework

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/modbatt/hilrun/image"
)

// ErrImageMissing is returned for an image whose main package is not in the tree.
var ErrImageMissing = errors.New("framework: image package not in this tree")

// Built is an image built for a run: its identity and the file the bytes are in.
type Built struct {
	image.Image
	Path string
}

// Images builds each image once and hands the same result to every bring-up of a run.
type Images struct {
	ModuleDir string // the module root ("" finds go.mod upwards from the working directory)
	OutDir    string // where images are written; "" makes a temporary directory
	Version   string // stamped version; "" means "0.0.0-bench"
	Commit    string // stamped commit; "" asks git

	mu    sync.Mutex
	built map[string]Built
	errs  map[string]error
	fixed bool // loaded from a manifest: nothing else is built
}

// ImagePackage is the main package an image name of a rig file is built from.
func ImagePackage(name string) (string, bool) {
	switch name {
	case "firmware":
		return "./firmware", true
	case "gateway":
		return "./gateway", true
	}
	return "", false
}

// Get builds the named image (or returns the earlier build).
func (im *Images) Get(ctx context.Context, name string) (Built, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if b, ok := im.built[name]; ok {
		return b, nil
	}
	if err, ok := im.errs[name]; ok {
		return Built{}, err
	}
	if im.fixed {
		return Built{}, fmt.Errorf("%w: %s is not among the images in %s", ErrImageMissing, name, filepath.Join(im.OutDir, ManifestFile))
	}
	b, err := im.build(ctx, name)
	if im.built == nil {
		im.built, im.errs = map[string]Built{}, map[string]error{}
	}
	if err != nil {
		im.errs[name] = err
		return Built{}, err
	}
	im.built[name] = b
	if err := writeManifest(im.OutDir, im.built); err != nil {
		return Built{}, err
	}
	return b, nil
}

func (im *Images) build(ctx context.Context, name string) (Built, error) {
	pkg, ok := ImagePackage(name)
	if !ok {
		return Built{}, fmt.Errorf("framework: unknown image %q (known: firmware, gateway)", name)
	}
	root := im.ModuleDir
	if root == "" {
		r, err := ModuleRoot()
		if err != nil {
			return Built{}, err
		}
		root = r
	}
	if !hasMain(filepath.Join(root, pkg)) {
		return Built{}, fmt.Errorf("%w: %s (%s has no main package yet)", ErrImageMissing, name, pkg)
	}
	out := im.OutDir
	if out == "" {
		d, err := os.MkdirTemp("", "hilrun-images-")
		if err != nil {
			return Built{}, fmt.Errorf("framework: %w", err)
		}
		im.OutDir, out = d, d
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return Built{}, fmt.Errorf("framework: %w", err)
	}
	v := im.Version
	if v == "" {
		v = "0.0.0-bench"
	}
	path := filepath.Join(out, name)
	img, err := image.BuildWith(ctx, image.BuildOptions{Package: pkg, Out: path, Name: name, Version: v,
		Commit: im.Commit, Dir: root, Env: []string{"CGO_ENABLED=0"}})
	if err != nil {
		return Built{}, fmt.Errorf("framework: build %s: %w", name, err)
	}
	return Built{Image: img, Path: path}, nil
}

// hasMain reports whether dir holds a Go main package (a non-test file saying so).
func hasMain(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err == nil && (strings.HasPrefix(string(b), "package main") || strings.Contains(string(b), "\npackage main")) {
			return true
		}
	}
	return false
}

// ModuleRoot finds the directory of go.mod from the working directory upwards.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("framework: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("framework: no go.mod above the working directory: run from the hilrun tree")
		}
		dir = up
	}
}
