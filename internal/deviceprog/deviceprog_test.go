package deviceprog

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modbatt/hilrun/protocol/suite"
)

func TestAuthorityKey(t *testing.T) {
	k, err := suite.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	text := base64.StdEncoding.EncodeToString(k.Public().Bytes())
	file := filepath.Join(t.TempDir(), "authority.pub")
	if err := os.WriteFile(file, []byte(text+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{text, "@" + file} {
		got, err := AuthorityKey(s)
		if err != nil || !bytes.Equal(got.Bytes(), k.Public().Bytes()) {
			t.Errorf("AuthorityKey(%.12q…) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"!!", "AAAA", "@" + file + ".missing"} {
		if _, err := AuthorityKey(s); err == nil {
			t.Errorf("AuthorityKey(%q) accepted", s)
		}
	}
}

func TestCommon(t *testing.T) {
	parse := func(args ...string) (*Common, int, string) {
		var c Common
		var errb strings.Builder
		fs := flag.NewFlagSet("image", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.Register(fs, "stm32wb55", "key", "entity")
		return &c, Parse(fs, args, &errb), errb.String()
	}
	if _, code, _ := parse("--help"); code != ExitOK {
		t.Errorf("--help: %d", code)
	}
	if _, code, msg := parse("extra"); code != ExitUsage || !strings.Contains(msg, `image: unexpected argument "extra"`) {
		t.Errorf("extra argument: %d %q", code, msg)
	}
	c, code, _ := parse("--nvm", "x.nvm", "--entity-id", "pack-7")
	if code != -1 || c.NVM != "x.nvm" || c.Entity != "pack-7" || c.Profile != "stm32wb55" {
		t.Fatalf("parsed %+v, %d", c, code)
	}
	if s, err := c.Resolve(); err != nil || s.Authority != nil || s.Profile.Name == "" {
		t.Errorf("defaults resolve to %+v, %v", s, err)
	}
	for flagName, args := range map[string][]string{
		"--profile":       {"--profile", "atmega64m1"},
		"--log-level":     {"--log-level", "loud"},
		"--authority-key": {"--authority-key", "!!"},
	} {
		c, _, _ := parse(args...)
		if _, err := c.Resolve(); err == nil || !strings.HasPrefix(err.Error(), flagName) {
			t.Errorf("%v: %v, want an error naming %s", args, err, flagName)
		}
	}
}

func FuzzAuthorityKey(f *testing.F) {
	k, _ := suite.GenerateKey(rand.Reader)
	f.Add(base64.StdEncoding.EncodeToString(k.Public().Bytes()))
	f.Add("BAAA")
	f.Add("  \n")
	f.Fuzz(func(t *testing.T, s string) {
		if strings.HasPrefix(s, "@") {
			return // a file name: not what is fuzzed
		}
		if key, err := AuthorityKey(s); err == nil && key == nil {
			t.Fatal("no key and no error")
		}
	})
}
