// Package image is the identity of a device image (name, version, commit and the SHA-256 of
// its bytes) and the boot report a device sends with it.
//
// The firmware and gateway programs are built with their version and commit stamped in by
// the linker (Build does it):
//
//	go build -ldflags "-X github.com/modbatt/hilrun/image.version=1.4.0 -X github.com/modbatt/hilrun/image.commit=0f54b47" ./firmware
//
// A running program learns its identity with Current: the stamped strings and the SHA-256 of
// its own executable file. A device that runs in-process has no file of its own; it is given
// an Image (FromBytes or a literal) in its Config. At boot a device sends the L1 announce of
// kind image (Boot), which the bench matches against what it built and flashed (Match).
package image

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
)

// Set by the linker (-X); these are the values of an unstamped build.
var (
	version = "dev"
	commit  = "unknown"
)

// MaxVersionLen is the longest version string: the announce's text limit.
const MaxVersionLen = 64

// ErrVersion is returned for a version or commit string that cannot be stamped or announced.
var ErrVersion = errors.New("image: bad version string")

// Image identifies a device image.
type Image struct {
	Name    string   // the program: "firmware", "gateway"
	Version string   // stamped version, "dev" if unstamped
	Commit  string   // stamped source commit, "unknown" if unstamped
	Hash    [32]byte // SHA-256 of the image bytes
}

// HashHex is the hash in lower-case hex.
func (i Image) HashHex() string { return hex.EncodeToString(i.Hash[:]) }

// String is a one-line description for logs and --version output.
func (i Image) String() string {
	return fmt.Sprintf("%s %s (commit %s) sha256:%s", i.Name, i.Version, i.Commit, i.HashHex())
}

// Stamped returns the version and commit linked into this program.
func Stamped() (version_, commit_ string) { return version, commit }

// Current returns the identity of the running program: the stamped version and commit and
// the SHA-256 of its executable file.
func Current(name string) (Image, error) {
	exe, err := os.Executable()
	if err != nil {
		return Image{}, fmt.Errorf("image: locating the executable: %w", err)
	}
	h, err := HashFile(exe)
	if err != nil {
		return Image{}, err
	}
	return Image{Name: name, Version: version, Commit: commit, Hash: h}, nil
}

// HashFile returns the SHA-256 of the file at path.
func HashFile(path string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, fmt.Errorf("image: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, fmt.Errorf("image: hashing %s: %w", path, err)
	}
	h.Sum(sum[:0])
	return sum, nil
}

// FromBytes is the identity of an image held in memory (an in-process device's configured
// image, or bytes received by an emulated boot loader).
func FromBytes(name, version, commit string, b []byte) Image {
	return Image{Name: name, Version: version, Commit: commit, Hash: sha256.Sum256(b)}
}

// CheckVersion reports whether s can be stamped and announced: 1–MaxVersionLen printable
// characters without spaces or quotes (the linker's -X takes it unquoted).
func CheckVersion(s string) error {
	if s == "" || len(s) > MaxVersionLen {
		return fmt.Errorf("%w: %d bytes (1–%d)", ErrVersion, len(s), MaxVersionLen)
	}
	if i := strings.IndexFunc(s, func(r rune) bool {
		return r > unicode.MaxASCII || !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '"' || r == '\'' || r == '\\'
	}); i >= 0 {
		return fmt.Errorf("%w: %q has a forbidden character at %d", ErrVersion, s, i)
	}
	return nil
}

// Verify checks that b is the image i names (an emulated boot loader's check before it
// boots received bytes).
func (i Image) Verify(b []byte) error {
	if sha256.Sum256(b) != i.Hash {
		return fmt.Errorf("%w: bytes hash to sha256:%x, want %s", ErrMismatch, sha256.Sum256(b), i.HashHex())
	}
	return nil
}
