// Package deviceprog is what the device images (the firmware and gateway programs) share on
// their command line: the flags every image takes, how they are checked, the exit codes, and
// joining an emulated bus.
package deviceprog

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/mcu"
	"github.com/modbatt/hilrun/protocol/suite"
)

// Exit codes, as hilrun's own.
const (
	ExitOK      = 0
	ExitFailed  = 1
	ExitUsage   = 2
	ExitEnviron = 3
)

// Common are the flags every device image takes.
type Common struct {
	NVM, Profile, LogLevel, Authority, Entity string
	Version                                   bool

	profile string // the image's own cost profile; the other one allowed is zero
}

// Register adds the common flags to fs. profile is the image's own cost profile (default and,
// beside zero, the only one accepted); the help texts say what the key and entity ID mean to
// this image.
func (c *Common) Register(fs *flag.FlagSet, profile, authorityHelp, entityHelp string) {
	c.profile = profile
	fs.StringVar(&c.NVM, "nvm", "", "NVM file (created if absent); empty keeps state in memory")
	fs.StringVar(&c.Profile, "profile", profile, "crypto cost profile: "+profile+" or zero")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.Authority, "authority-key", "", authorityHelp)
	fs.StringVar(&c.Entity, "entity-id", "", entityHelp)
	fs.BoolVar(&c.Version, "version", false, "print the image identity and exit")
}

// Parse parses args into fs's flags. It returns -1 to go on, or the code to exit with: ExitOK
// for --help, ExitUsage for a bad flag or an argument that is not one.
func Parse(fs *flag.FlagSet, args []string, stderr io.Writer) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return ExitUsage
	}
	return -1
}

// Settings are the common flags checked and resolved.
type Settings struct {
	Profile   mcu.Profile
	Level     slog.Level
	Authority *suite.PublicKey // nil without --authority-key
}

// Resolve checks the common flags; its errors name the flag and are usage errors.
func (c *Common) Resolve() (Settings, error) {
	var s Settings
	if c.Profile != c.profile && c.Profile != "zero" {
		return s, fmt.Errorf("--profile %q: %s or zero", c.Profile, c.profile)
	}
	var err error
	if s.Profile, err = mcu.ByName(c.Profile); err != nil {
		return s, err
	}
	if err := s.Level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return s, fmt.Errorf("--log-level %q: %v", c.LogLevel, err)
	}
	if c.Authority != "" {
		if s.Authority, err = AuthorityKey(c.Authority); err != nil {
			return s, fmt.Errorf("--authority-key: %v", err)
		}
	}
	return s, nil
}

// AuthorityKey reads a base64 SEC1 public key, inline or from @FILE.
func AuthorityKey(s string) (*suite.PublicKey, error) {
	if strings.HasPrefix(s, "@") {
		b, err := os.ReadFile(s[1:])
		if err != nil {
			return nil, err
		}
		s = string(b)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	return suite.ParsePublicKey(raw)
}

// DialTimeout bounds joining a bus at start-up.
const DialTimeout = 10 * time.Second

// Dial joins the emulated bus at addr, waiting at most DialTimeout.
func Dial(ctx context.Context, addr string) (*emu.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, DialTimeout)
	defer cancel()
	return emu.Dial(ctx, addr)
}
