package image

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// stampPath is the import path whose variables the linker sets.
const stampPath = "github.com/modbatt/hilrun/image"

// BuildOptions say what to build and how.
type BuildOptions struct {
	Package string   // package to build, e.g. "./firmware" or "github.com/modbatt/hilrun/gateway"
	Out     string   // output file
	Name    string   // image name; the package's last element if empty
	Version string   // stamped version (CheckVersion)
	Commit  string   // stamped commit; from `git rev-parse --short=12 HEAD` in Dir if empty
	Dir     string   // working directory of the build (the module); the current one if empty
	Env     []string // extra environment (GOOS=…, GOARCH=…, CGO_ENABLED=0 …)
	Go      string   // go command; "go" if empty
	// Trimpath builds with -trimpath, so the image's bytes (and hash) do not depend on where
	// the tree lies. Off by default: it misses the build cache of ordinary builds and tests.
	Trimpath bool
}

// Build builds pkg into out with version stamped in and returns the image's identity: the
// hash is that of the file produced. This is what rig bring-up flashes.
func Build(ctx context.Context, pkg, out, version string) (Image, error) {
	return BuildWith(ctx, BuildOptions{Package: pkg, Out: out, Version: version})
}

// BuildWith builds as o says.
func BuildWith(ctx context.Context, o BuildOptions) (Image, error) {
	if err := CheckVersion(o.Version); err != nil {
		return Image{}, err
	}
	if o.Package == "" || o.Out == "" {
		return Image{}, fmt.Errorf("image: build needs a package and an output file")
	}
	if o.Commit == "" {
		o.Commit = gitCommit(ctx, o.Dir)
	}
	if err := CheckVersion(o.Commit); err != nil {
		return Image{}, fmt.Errorf("commit: %w", err)
	}
	if o.Name == "" {
		o.Name = path.Base(filepath.ToSlash(strings.TrimSuffix(o.Package, "/")))
	}
	goCmd := o.Go
	if goCmd == "" {
		goCmd = "go"
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return Image{}, fmt.Errorf("image: %w", err)
	}
	ldflags := fmt.Sprintf("-X %s.version=%s -X %s.commit=%s", stampPath, o.Version, stampPath, o.Commit)
	args := []string{"build", "-ldflags", ldflags, "-o", out}
	if o.Trimpath {
		args = append(args, "-trimpath")
	}
	cmd := exec.CommandContext(ctx, goCmd, append(args, o.Package)...)
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), o.Env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return Image{}, fmt.Errorf("image: building %s: %w: %s", o.Package, err, strings.TrimSpace(stderr.String()))
	}
	h, err := HashFile(out)
	if err != nil {
		return Image{}, err
	}
	return Image{Name: o.Name, Version: o.Version, Commit: o.Commit, Hash: h}, nil
}

// gitCommit is the short commit of the work tree at dir, or "unknown" outside git; a tree
// with changes is marked "-dirty" so a stamped image never claims a clean commit it is not.
func gitCommit(ctx context.Context, dir string) string {
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--short=12", "HEAD")
	cmd.Dir = dir
	b, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(b))
	st := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no")
	st.Dir = dir
	if s, err := st.Output(); err == nil && len(bytes.TrimSpace(s)) > 0 {
		c += "-dirty"
	}
	return c
}
