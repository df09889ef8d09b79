package authority

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
)

// Running is an authority serving on a loopback port: what a rig's bring-up or a suite starts.
type Running struct {
	*Authority
	URL    string // http://127.0.0.1:PORT
	Client *Client
	stop   context.CancelFunc
	done   chan error
}

// Start opens the authority in opt.Dir and serves it on addr ("127.0.0.1:0" picks a free port)
// until Close. addr must be a loopback address.
func Start(opt Options, addr string) (*Running, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("authority: listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("authority: listen address %q is not loopback", addr)
	}
	a, err := Open(opt)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("authority: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	r := &Running{Authority: a, URL: "http://" + ln.Addr().String(), stop: stop, done: make(chan error, 1)}
	r.Client = &Client{BaseURL: r.URL, HTTP: &http.Client{}}
	go func() { r.done <- a.Serve(ctx, ln) }()
	return r, nil
}

// Close shuts the server down gracefully and closes the state.
func (r *Running) Close() error {
	r.stop()
	err := <-r.done
	return errors.Join(err, r.Authority.Close())
}
