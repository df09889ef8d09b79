package flash

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"text/template"
	"time"

	"github.com/modbatt/hilrun/bench/rig"
)

// Command flashes by running an external tool (openocd, avrdude, STM32_Programmer_CLI). Each
// argument is a text/template over TemplateData; the tool runs without a shell, its output is
// captured, and a non-zero exit status fails the flash.
type Command struct {
	Tool    string
	Args    []string
	Device  rig.Device
	Timeout time.Duration // 0: no limit beyond ctx
	Dir     string        // working directory; "" means the current one
}

// TemplateData is what argument templates see, e.g.
//
//	openocd -f interface/stlink.cfg -f target/stm32wbx.cfg -c "program {{.Image}} verify reset exit 0x08000000"
//	avrdude -p m64m1 -c avrispmkII -U flash:w:{{.Image}}:r
type TemplateData struct {
	Image   string // path of the image file
	Name    string // image name: firmware, gateway
	Version string
	Commit  string
	Hash    string // SHA-256, lower-case hex
	Size    int
	Device  rig.Device // the rig's device: {{.Device.Name}}, {{.Device.Flash.Port}} …
}

// ToolError is a tool that ran and failed (or could not start).
type ToolError struct {
	Tool     string
	Args     []string
	ExitCode int // -1 when the tool did not start or was killed
	Output   string
	Err      error
}

func (e *ToolError) Error() string {
	out := strings.TrimSpace(e.Output)
	if len(out) > 2000 {
		out = "…" + out[len(out)-2000:]
	}
	if out != "" {
		out = "\n" + out
	}
	return fmt.Sprintf("flash: %s: exit %d: %v%s", e.Tool, e.ExitCode, e.Err, out)
}

func (e *ToolError) Unwrap() []error { return []error{ErrTool, e.Err} }

// Expand returns the argument list for img.
func (c Command) Expand(img Image, path string) ([]string, error) {
	data := TemplateData{Image: path, Name: img.ID.Name, Version: img.ID.Version, Commit: img.ID.Commit,
		Hash: img.ID.HashHex(), Size: len(img.Bytes), Device: c.Device}
	args := make([]string, 0, len(c.Args))
	for i, a := range c.Args {
		t, err := template.New(fmt.Sprintf("arg%d", i)).Option("missingkey=error").Parse(a)
		if err != nil {
			return nil, fmt.Errorf("flash: argument %d: %w", i, err)
		}
		var b strings.Builder
		if err := t.Execute(&b, data); err != nil {
			return nil, fmt.Errorf("flash: argument %d: %w", i, err)
		}
		args = append(args, b.String())
	}
	return args, nil
}

// Flash writes img to a file if it has none, runs the tool and checks its exit status.
// Progress is reported at the start and at the end: tools report their own progress in their
// own words, which is captured with the output.
func (c Command) Flash(ctx context.Context, img Image, progress Progress) error {
	if len(img.Bytes) == 0 && img.Path == "" {
		return ErrEmpty
	}
	path := img.Path
	if path == "" {
		f, err := os.CreateTemp("", "hilrun-image-*.bin")
		if err != nil {
			return fmt.Errorf("flash: %w", err)
		}
		path = f.Name()
		defer os.Remove(path)
		_, werr := f.Write(img.Bytes)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("flash: writing the image file: %w", werr)
		}
	}
	args, err := c.Expand(img, path)
	if err != nil {
		return err
	}
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	total := len(img.Bytes)
	progress.report(0, total)
	cmd := exec.CommandContext(ctx, c.Tool, args...)
	cmd.Dir = c.Dir
	cmd.WaitDelay = 2 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Exited() {
			code = ee.ExitCode()
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", err, ctx.Err())
		}
		return &ToolError{Tool: c.Tool, Args: args, ExitCode: code, Output: out.String(), Err: err}
	}
	progress.report(total, total)
	return nil
}
