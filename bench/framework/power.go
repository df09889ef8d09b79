package framework

import (
	"context"
	"errors"
	"fmt"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/nvm"
)

// unit is a powered device: what stops it and what it holds while on.
type unit struct {
	cancel  context.CancelFunc
	done    chan struct{}
	release func() error // closes the device's bus endpoints and NVM after it stopped
	// hardware is a real device: powering it off switches its supply.
	hardware bool
}

// power runs a device until it is powered off or the system goes down, keeping its error.
func (s *System) power(name string, run func(context.Context) error, release func() error) {
	ctx, cancel := context.WithCancel(s.runCtx)
	u := &unit{cancel: cancel, done: make(chan struct{}), release: release}
	s.mu.Lock()
	s.units[name] = u
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(u.done)
		if err := run(ctx); err != nil && ctx.Err() == nil {
			s.mu.Lock()
			s.runErrs = append(s.runErrs, fmt.Errorf("%s: %w", name, err))
			s.mu.Unlock()
		}
	}()
}

// ErrNoDevice is returned for a device name the system does not run.
var ErrNoDevice = errors.New("framework: no such device")

// PowerOff switches a device off: it stops at once, as on a power cut; what it had
// committed to its NVM stays.
func (s *System) PowerOff(name string) error {
	s.mu.Lock()
	u, ok := s.units[name]
	delete(s.units, name)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s is not powered", ErrNoDevice, name)
	}
	if u.hardware {
		return s.switchPower(context.Background(), name, false)
	}
	u.cancel()
	<-u.done
	if u.release != nil {
		return u.release()
	}
	return nil
}

// PowerOn switches a device that was powered off on again, with the NVM it had, and waits
// until it is up: a module until it has announced itself (and, with the pack on, has been
// registered at its rig ID again), the pack until it runs.
func (s *System) PowerOn(ctx context.Context, name string) error {
	if s.powered(name) {
		return fmt.Errorf("framework: %s is already powered", name)
	}
	if s.Pack != nil && s.Pack.Name() == name {
		return s.Pack.start(s)
	}
	m, ok := s.Module(name)
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoDevice, name)
	}
	p := s.probes[m.busName]
	mark := p.Mark()
	if err := m.start(s); err != nil {
		return err
	}
	if err := m.waitAnnounce(ctx, p, mark); err != nil {
		return err
	}
	if s.powered(s.packName()) {
		return m.waitRegisteredFrom(ctx, s, mark)
	}
	return nil
}

// powered reports whether the named device is on.
func (s *System) powered(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.units[name]
	return ok
}

func (s *System) packName() string {
	if s.Pack == nil {
		return ""
	}
	return s.Pack.Name()
}

// openNVM opens a device's NVM, which outlives its power cycles. It lives in memory (the
// nvm package's own tests cover power loss at every byte of a file).
func (s *System) openNVM(name string) (*nvm.Store, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var data []byte
	if old, ok := s.nvm[name]; ok {
		size, err := old.Size()
		if err != nil {
			return nil, fmt.Errorf("framework: %s NVM: %w", name, err)
		}
		data = make([]byte, size)
		if _, err := old.ReadAt(data, 0); err != nil {
			return nil, fmt.Errorf("framework: %s NVM: %w", name, err)
		}
	}
	f := nvm.NewMemFile(data)
	st, err := nvm.OpenFile(f, nvm.Options{})
	if err != nil {
		return nil, fmt.Errorf("framework: %s NVM: %w", name, err)
	}
	s.nvm[name] = f
	return st, nil
}

// closer releases endpoints and a store in order.
func closer(eps []bus.Endpoint, st *nvm.Store) func() error {
	return func() error {
		var errs []error
		for _, ep := range eps {
			if err := ep.Close(); err != nil && !errors.Is(err, bus.ErrClosed) {
				errs = append(errs, err)
			}
		}
		if st != nil {
			errs = append(errs, st.Close())
		}
		return errors.Join(errs...)
	}
}
