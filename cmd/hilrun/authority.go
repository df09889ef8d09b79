package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/modbatt/hilrun/authority"
	"github.com/modbatt/hilrun/protocol/message"
)

func runAuthority(ctx context.Context, env *cli, args []string) int {
	usage := func(w *cli) {
		fmt.Fprint(w.stderr, "usage: hilrun authority serve --listen 127.0.0.1:PORT --state DIR [--allow-remote] [--can-relay URL] [--require-proof]\n"+
			"       hilrun authority verify --state DIR\n\n"+
			"serve   runs the auth controller's HTTP API (docs/authority.md) until SIGINT\n"+
			"verify  walks the ledger's hash chain; exit 1 names the first bad index\n")
	}
	if len(args) == 0 {
		usage(env)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(env)
		return exitOK
	case "serve":
		return runAuthorityServe(ctx, env, args[1:])
	case "verify":
		return runAuthorityVerify(env, args[1:])
	}
	fmt.Fprintf(env.stderr, "hilrun authority: unknown subcommand %q\n", args[0])
	usage(env)
	return exitUsage
}

func runAuthorityServe(ctx context.Context, env *cli, args []string) int {
	fs := newFlags(env, "authority serve", "authority serve --listen 127.0.0.1:PORT --state DIR [flags]\n\n"+
		"Serves the authority's HTTP API on a loopback address until SIGINT or SIGTERM, then shuts down\n"+
		"gracefully. The signing key is made on first start in DIR/authority.key (mode 0600).")
	listen := fs.String("listen", "127.0.0.1:8443", "address to listen on (loopback unless --allow-remote)")
	state := fs.String("state", "", "state directory (ledger, bindings, pairings, signing key)")
	allowRemote := fs.Bool("allow-remote", false, "allow a non-loopback listen address")
	relay := fs.String("can-relay", "", "API base of the app's CAN relay for pack and module key generation (e.g. http://localhost:8080/api)")
	issuer := fs.String("issuer", authority.DefaultIssuer, "issuer name in binding records")
	requireProof := fs.Bool("require-proof", false, "partner-key answers only requests with a Web4-Proof header signed by the party")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *state == "" || fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	if err := checkLoopback(*listen, *allowRemote); err != nil {
		fmt.Fprintf(env.stderr, "hilrun authority serve: %v\n", err)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(env.stderr, nil))
	hc := &http.Client{Timeout: authority.DefaultDeviceTimeout}
	gens := map[message.Role]authority.KeyGenerator{message.RoleApp: authority.HTTPKeyGenerator{Client: hc}}
	if *relay != "" {
		r := authority.HTTPKeyGenerator{Client: hc, Relay: *relay}
		gens[message.RolePack], gens[message.RoleModule] = r, r
	}
	a, err := authority.Open(authority.Options{Dir: *state, Issuer: *issuer, KeyGenerators: gens, Logger: log, RequireProof: *requireProof})
	if err != nil {
		fmt.Fprintf(env.stderr, "hilrun authority serve: %v\n", err)
		return exitEnviron
	}
	defer a.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(env.stderr, "hilrun authority serve: %v\n", err)
		return exitEnviron
	}
	k := a.PublicKey()
	log.Info("authority serving", "addr", ln.Addr().String(), "state", *state, "kid", fmt.Sprintf("%04x", k.KID()),
		"public_key", hex.EncodeToString(k.Bytes()))
	if err := a.Serve(ctx, ln); err != nil {
		fmt.Fprintf(env.stderr, "hilrun authority serve: %v\n", err)
		return exitFailed
	}
	log.Info("authority stopped")
	return exitOK
}

// checkLoopback refuses listen addresses that are not loopback unless allowed.
func checkLoopback(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if allowRemote {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("listen address %q is not loopback; pass --allow-remote to serve beyond this host", addr)
}

func runAuthorityVerify(env *cli, args []string) int {
	fs := newFlags(env, "authority verify", "authority verify --state DIR\n\n"+
		"Walks the ledger's hash chain in DIR (read-only). Exit status: 0 intact, 1 tampered (the first\n"+
		"bad index is printed), 3 the state cannot be opened.")
	state := fs.String("state", "", "state directory")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *state == "" || fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	start := time.Now()
	n, last, err := authority.VerifyLedger(*state)
	var te *authority.TamperError
	switch {
	case errors.As(err, &te):
		fmt.Fprintf(env.stdout, "ledger TAMPERED: first bad index %d: %s\n", te.Index, te.Reason)
		fmt.Fprintf(env.stderr, "hilrun authority verify: %v\n", err)
		return exitFailed
	case errors.Is(err, os.ErrNotExist):
		fmt.Fprintf(env.stderr, "hilrun authority verify: no state in %s: %v\n", *state, err)
		return exitEnviron
	case err != nil:
		fmt.Fprintf(env.stderr, "hilrun authority verify: %v\n", err)
		return exitEnviron
	}
	fmt.Fprintf(env.stdout, "ledger intact: %d entries, head %x (%s)\n", n, last, time.Since(start).Round(time.Microsecond))
	return exitOK
}
