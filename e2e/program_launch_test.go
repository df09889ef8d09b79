package e2e

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// logBuffer collects a process's stdout and stderr; safe for the two writers and readers.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// program is a device image run as its own process. Each start gets a fresh process; the log
// buffer spans all of them, so a failure shows the whole history.
type program struct {
	name string
	path string
	args []string
	log  logBuffer

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // of the last Wait
	starts int
}

// launcher starts programs and makes sure none outlives the test: Cleanup kills whatever is
// still running and, if the test failed, logs every program's output.
type launcher struct {
	t     *testing.T
	ctx   context.Context
	progs []*program
}

func newLauncher(t *testing.T, ctx context.Context) *launcher {
	l := &launcher{t: t, ctx: ctx}
	t.Cleanup(func() {
		for _, p := range l.progs {
			p.kill()
		}
		if t.Failed() {
			for _, p := range l.progs {
				t.Logf("--- %s (%d starts) output:\n%s", p.name, p.starts, p.log.String())
			}
		}
	})
	return l
}

// add registers a program without starting it.
func (l *launcher) add(name, path string, args ...string) *program {
	p := &program{name: name, path: path, args: args}
	l.progs = append(l.progs, p)
	return p
}

// start runs the program (again).
func (p *program) start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited != nil {
		select {
		case <-p.exited:
		default:
			return errors.New(p.name + ": already running")
		}
	}
	cmd := exec.CommandContext(ctx, p.path, p.args...)
	cmd.Stdout, cmd.Stderr = &p.log, &p.log
	cmd.WaitDelay = 5 * time.Second
	orphanGuard(cmd)
	p.starts++
	p.log.Write([]byte("=== start " + filepath.Base(p.path) + "\n"))
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	p.cmd, p.exited = cmd, done
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// running reports whether the last start is still running.
func (p *program) running() bool {
	p.mu.Lock()
	done := p.exited
	p.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// kill ends the process at once (a power cut) and waits for it.
func (p *program) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Kill()
	<-done
}

// stop asks the process to end (SIGTERM) and returns its exit error; after grace it kills it.
func (p *program) stop(grace time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return errors.New(p.name + ": never started")
	}
	select {
	case <-done:
	default:
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(grace):
			_ = cmd.Process.Kill()
			<-done
			return errors.New(p.name + ": no exit within the grace time after SIGTERM")
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}
