// Command hilrun is the Modbatt hardware-in-the-loop bench: it runs the suites on a rig, serves
// emulated buses, decodes captures and checks the protocol's golden vectors.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Exit codes shared by every subcommand.
const (
	exitOK      = 0
	exitFailed  = 1 // the job ran and something failed (a spec, a check, a budget)
	exitUsage   = 2 // bad command line
	exitEnviron = 3 // the job could not run here (missing tool, hardware, file)
)

// command is one subcommand. run gets the arguments after the subcommand's name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *cli, args []string) int
}

// cli carries the streams a command writes to, so commands are testable without a process.
type cli struct {
	stdout, stderr io.Writer
}

// commands is the command table; each entry's run lives in the file named after it.
func commands() []command {
	return []command{
		{"version", "print the version and build stamp", runVersion},
		{"bus", "serve an emulated CAN bus on a local socket", runBus},
		{"decode", "print what each frame of a capture (.log or .pcap) means", runDecode},
		{"doctor", "check this machine for CAN interfaces, adapters, vcan and peer tools", runDoctor},
		{"vectors", "check or regenerate the protocol's golden vectors", runVectors},
		{"authority", "serve the auth controller's HTTP API or verify its ledger", runAuthority},
		{"slcan-adapter", "emulate a serial (slcan) USB-CAN adapter on a pty, bridged to an emulated bus", runSlcanAdapter},
		{"rigs", "list the rig files, whether each is valid and whether it can run here", runRigs},
		{"flash", "flash one device of a rig with an image, with progress", runFlash},
		{"run", "run the suites on a rig (default: the emulated rig) and write the reports", runRun},
		{"bench", "run the perf suites into a latency report, or compare two latency reports", runBench},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, &cli{stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, env *cli, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return dispatch(ctx, env, []string{args[1], "--help"})
		}
		usage(env.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	fmt.Fprintf(env.stderr, "hilrun: unknown command %q (see 'hilrun help')\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: hilrun <command> [flags]\n\ncommands:")
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\n'hilrun <command> --help' describes a command's flags.")
}

// newFlags makes a flag set for a subcommand that prints its usage to env.stderr.
func newFlags(env *cli, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "usage: hilrun %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and maps the outcome to an exit code; ok is false when the command
// should return code at once (help asked for, or bad flags).
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return exitOK, true
}
