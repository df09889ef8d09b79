package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/bus/emu"
	"github.com/modbatt/hilrun/bus/socketcand"
	"github.com/modbatt/hilrun/capture"
)

func runBus(ctx context.Context, env *cli, args []string) int {
	usage := func() {
		fmt.Fprint(env.stderr, "usage: hilrun bus serve [flags]\n\n"+
			"serve   runs an emulated CAN bus that other processes join over a local socket\n"+
			"        (docs/emulated-bus.md); 'hilrun bus serve --help' lists its flags\n")
	}
	if len(args) == 0 {
		usage()
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage()
		return exitOK
	case "serve":
		return runBusServe(ctx, env, args[1:])
	}
	fmt.Fprintf(env.stderr, "hilrun bus: unknown subcommand %q\n", args[0])
	usage()
	return exitUsage
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func runBusServe(ctx context.Context, env *cli, args []string) int {
	fs := newFlags(env, "bus serve", "bus serve --bitrate 500000 [--data-bitrate N] [--fd] [--listen unix:PATH|tcp:127.0.0.1:PORT]...\n"+
		"       [--pacing realtime|fast] [--capture FILE.log|FILE.pcap] [--faults SPEC] [--socketcand 127.0.0.1:PORT]\n\n"+
		"Runs an emulated CAN bus until SIGINT or SIGTERM. Clients join with emu.Dial (framed mode) or\n"+
		"with any SocketCAN stream reader on a raw+unix:/raw+tcp: address. Fault syntax:\n"+
		"  drop:id=0x123/0x7FF,p=0.1,count=5;delay:id=0x100,d=2ms;corrupt:bits=2;error;dup;busoff:from=NAME,recover=10ms")
	bitrate := fs.Int("bitrate", emu.DefaultBitrate, "nominal bitrate in bit/s")
	dataBitrate := fs.Int("data-bitrate", 0, "CAN FD data-phase bitrate in bit/s (needs --fd)")
	fd := fs.Bool("fd", false, "accept CAN FD frames")
	var listens listFlag
	fs.Var(&listens, "listen", "address to serve: [raw+]unix:PATH or [raw+]tcp:127.0.0.1:PORT (repeatable; default unix:"+defaultBusSocket()+")")
	pacing := fs.String("pacing", "realtime", "realtime (frames take their wire time) or fast (as fast as possible)")
	stuffing := fs.String("stuffing", "worst", "bit-stuffing model: worst, exact or none")
	capturePath := fs.String("capture", "", "write every frame to FILE.log (candump -L) or FILE.pcap")
	iface := fs.String("iface", "emu0", "interface name written in the capture")
	faults := fs.String("faults", "", "fault rules (see above)")
	seed := fs.Uint64("seed", 1, "seed of the fault probabilities")
	scand := fs.String("socketcand", "", "also serve a socketcand-compatible endpoint on this loopback host:port")
	statsEvery := fs.Duration("stats", 10*time.Second, "print load statistics this often (0: only at the end)")
	rxQueue := fs.Int("rx-queue", emu.DefaultRxQueue, "receive queue depth per client")
	spin := fs.Duration("spin", 0, "poll the wall clock for this last part of each frame (real-time fidelity for CPU)")
	verbose := fs.Bool("v", false, "log client arrivals and departures")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(env.stderr, "hilrun bus serve: "+format+"\n", a...)
		return exitUsage
	}
	cfg := emu.Config{
		Timing:  bus.Timing{Nominal: *bitrate, Data: *dataBitrate},
		FD:      *fd,
		RxQueue: *rxQueue,
		Seed:    *seed,
		Spin:    *spin,
	}
	switch *pacing {
	case "realtime":
		cfg.Pacing = emu.RealTime
	case "fast":
		cfg.Pacing = emu.AsFastAsPossible
	default:
		return bad("--pacing %q: want realtime or fast", *pacing)
	}
	switch *stuffing {
	case "worst":
		cfg.Stuffing = bus.WorstCase
	case "exact":
		cfg.Stuffing = bus.Exact
	case "none":
		cfg.Stuffing = bus.Unstuffed
	default:
		return bad("--stuffing %q: want worst, exact or none", *stuffing)
	}
	if *bitrate <= 0 || *dataBitrate < 0 || *rxQueue <= 0 {
		return bad("bitrates and queue depth must be positive")
	}
	rules, err := emu.ParseFaults(*faults)
	if err != nil {
		return bad("--faults: %v", err)
	}
	if len(listens) == 0 {
		listens = listFlag{"unix:" + defaultBusSocket()}
	}
	var addrs []emu.Address
	for _, l := range listens {
		a, err := emu.ParseAddress(l)
		if err != nil {
			return bad("--listen: %v", err)
		}
		if a.Network == "tcp" {
			if err := loopbackOnly(a.Addr); err != nil {
				return bad("--listen %s: %v", l, err)
			}
		}
		addrs = append(addrs, a)
	}
	if *scand != "" {
		if err := loopbackOnly(*scand); err != nil {
			return bad("--socketcand %s: %v", *scand, err)
		}
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = log

	b, err := emu.New(cfg)
	if err != nil {
		return bad("%v", err)
	}
	defer b.Close()
	for _, r := range rules {
		if _, err := b.AddFault(r); err != nil {
			return bad("--faults: %v", err)
		}
	}
	var capw capture.Writer
	if *capturePath != "" {
		if capw, err = capture.Create(*capturePath); err != nil {
			fmt.Fprintf(env.stderr, "hilrun bus serve: %v\n", err)
			return exitEnviron
		}
		b.AddRecorder(captureRecorder{w: capw, iface: *iface})
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := emu.NewServer(b, log)
	var wg sync.WaitGroup
	errc := make(chan error, len(addrs)+1)
	for _, a := range addrs {
		ln, err := emu.Listen(ctx, a)
		if err != nil {
			fmt.Fprintf(env.stderr, "hilrun bus serve: %v\n", err)
			cancel()
			wg.Wait()
			return exitEnviron
		}
		shown := a
		shown.Addr = ln.Addr().String()
		fmt.Fprintf(env.stdout, "listening on %s (%s mode)\n", shown, a.Mode)
		if a.Network == "unix" {
			defer os.Remove(a.Addr)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ctx, ln, a.Mode); err != nil {
				errc <- err
			}
		}()
	}
	if *scand != "" {
		ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *scand)
		if err != nil {
			fmt.Fprintf(env.stderr, "hilrun bus serve: socketcand: %v\n", err)
			cancel()
			wg.Wait()
			return exitEnviron
		}
		fmt.Fprintf(env.stdout, "socketcand on %s\n", ln.Addr())
		factory := srv.EndpointFactory("socketcand")
		sc := socketcand.NewServer(func(context.Context, string) (bus.Endpoint, error) { return factory() }, log)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sc.Serve(ctx, ln); err != nil {
				errc <- err
			}
		}()
	}
	fmt.Fprintf(env.stdout, "bus: %d bit/s", cfg.Timing.Nominal)
	if cfg.FD {
		fmt.Fprintf(env.stdout, ", FD (data %d bit/s)", cfg.Timing.Data)
	}
	fmt.Fprintf(env.stdout, ", %s pacing, %s stuffing, %d fault rule(s)\n", cfg.Pacing, *stuffing, len(rules))

	code := exitOK
	var tick <-chan time.Time
	if *statsEvery > 0 {
		t := time.NewTicker(*statsEvery)
		defer t.Stop()
		tick = t.C
	}
	var last emu.Load
	lastAt := time.Now()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-errc:
			fmt.Fprintf(env.stderr, "hilrun bus serve: %v\n", err)
			code = exitFailed
			break loop
		case <-tick:
			l := b.Load()
			printLoad(env.stdout, l, last, time.Since(lastAt), b.Endpoints(), srv.Stats())
			last, lastAt = l, time.Now()
		}
	}
	cancel()
	wg.Wait()
	b.Close()
	printLoad(env.stdout, b.Load(), emu.Load{}, 0, 0, srv.Stats())
	if capw != nil {
		if err := capw.Close(); err != nil {
			fmt.Fprintf(env.stderr, "hilrun bus serve: capture: %v\n", err)
			code = exitFailed
		}
	}
	return code
}

// captureRecorder writes the bus's frames to a capture file.
type captureRecorder struct {
	w     capture.Writer
	iface string
}

func (c captureRecorder) Record(r bus.Received) error { return c.w.Write(c.iface, r) }

func defaultBusSocket() string { return filepath.Join(os.TempDir(), "hilrun-bus.sock") }

// loopbackOnly refuses a TCP address that is not on the loopback interface: the bus has no
// authentication.
func loopbackOnly(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return errors.New("only loopback addresses are served")
	}
	return nil
}

// printLoad writes one statistics line; with a previous snapshot and interval it adds rates.
func printLoad(w io.Writer, l, prev emu.Load, dt time.Duration, clients int, ss emu.ServerStats) {
	util := l.Utilisation()
	rate := ""
	if dt > 0 {
		busy := l.Busy - prev.Busy
		el := l.Elapsed - prev.Elapsed
		if el > 0 {
			util = float64(busy) / float64(el)
		}
		rate = fmt.Sprintf(" (%.0f/s)", float64(l.Frames-prev.Frames)/dt.Seconds())
	}
	fmt.Fprintf(w, "load %.1f%% frames %d%s bits %d errors %d dropped %d corrupted %d delayed %d duplicated %d bus-off %d clients %d malformed %d",
		100*util, l.Frames, rate, l.Bits, l.Errors, l.Dropped, l.Corrupted, l.Delayed, l.Duplicated, l.BusOffs, clients, ss.Malformed+ss.Cut)
	type idc struct {
		id uint32
		n  uint64
	}
	var top []idc
	for id, n := range l.PerID {
		top = append(top, idc{id, n - prev.PerID[id]})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].n > top[j].n || top[i].n == top[j].n && top[i].id < top[j].id })
	if len(top) > 0 && top[0].n > 0 {
		fmt.Fprint(w, " top")
		for i, t := range top {
			if i == 3 || t.n == 0 {
				break
			}
			if t.id&0x80000000 != 0 {
				fmt.Fprintf(w, " %08X:%d", t.id&^0x80000000, t.n)
			} else {
				fmt.Fprintf(w, " %03X:%d", t.id, t.n)
			}
		}
	}
	fmt.Fprintln(w)
}
