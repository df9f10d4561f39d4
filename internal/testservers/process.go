package testservers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("cannot find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Binary returns the path of an executable from PATH or from the
// repository's .tools/bin, failing the test with instructions when it is
// missing: integration tests must not pass by skipping.
func Binary(tb testing.TB, name string) string {
	tb.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if root, err := repoRoot(); err == nil {
		p := filepath.Join(root, ".tools", "bin", name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	tb.Fatalf("%s not found in PATH or .tools/bin: run scripts/deps.sh", name)
	return ""
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// process is a server binary run with fixed arguments, so it can be stopped
// and started again on the same port and data directory.
type process struct {
	name    string
	path    string
	args    []string
	logPath string
	ready   func() bool // whether the server serves

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd has exited and been waited for
}

func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s is already running", p.name)
	}
	log, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("cannot open %s log: %w", p.name, err)
	}
	cmd := exec.Command(p.path, p.args...)
	cmd.Stdout, cmd.Stderr = log, log
	// Dies with the test binary, even one killed by go test's timeout, so
	// that no server outlives its test (Linux only).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("cannot start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // a server stopped by a signal exits non-zero
		log.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

// waitReady polls the ready probe until it succeeds, the process exits or
// the timeout passes.
func (p *process) waitReady(timeout time.Duration) error {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.ready() {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited before becoming ready; log:\n%s", p.name, p.tail())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %v; log:\n%s", p.name, timeout, p.tail())
}

// stop terminates the process with sig (SIGKILL after 15 s) and waits.
func (p *process) stop(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	cmd, done := p.cmd, p.done
	p.cmd, p.done = nil, nil
	// A paused server cannot handle SIGTERM.
	_ = cmd.Process.Signal(syscall.SIGCONT)
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("cannot stop %s: %w", p.name, err)
	}
	select {
	case <-done:
		return nil
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s did not stop within 15s and was killed", p.name)
	}
}

func (p *process) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return fmt.Errorf("%s is not running", p.name)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("cannot signal %s: %w", p.name, err)
	}
	return nil
}

func (p *process) tail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// server is what Prometheus and InfluxDB share: a process on a fixed port.
type server struct {
	proc *process
}

// Stop shuts the server down (SIGTERM); its data directory and port are
// kept for Start.
func (s *server) Stop() error { return s.proc.stop(syscall.SIGTERM) }

// Kill crashes the server (SIGKILL), cutting off requests in flight; Start
// recovers it from its data directory.
func (s *server) Kill() error { return s.proc.stop(syscall.SIGKILL) }

// Start starts a stopped server again on the same port and data directory
// and waits until it is ready.
func (s *server) Start(ctx context.Context) error {
	if err := s.proc.start(); err != nil {
		return err
	}
	timeout := 3 * time.Minute // generous: CI machines run the suites in parallel
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	if err := s.proc.waitReady(timeout); err != nil {
		_ = s.proc.stop(syscall.SIGKILL)
		return err
	}
	return nil
}

// Pause freezes the server (SIGSTOP): connections are accepted by the
// kernel but never answered, the fault a hung server produces.
func (s *server) Pause() error { return s.proc.signal(syscall.SIGSTOP) }

// Resume undoes Pause.
func (s *server) Resume() error { return s.proc.signal(syscall.SIGCONT) }

// getOK is a ready probe: whether GET url answers 2xx.
func getOK(client *http.Client, url string) func() bool {
	return func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode/100 == 2
	}
}

func newServer(tb testing.TB, name, path string, args []string, logPath string, ready func() bool) (*server, error) {
	s := &server{proc: &process{name: name, path: path, args: args, logPath: logPath, ready: ready}}
	if err := s.Start(context.Background()); err != nil {
		return nil, err
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("cannot stop %s: %v", name, err)
		}
	})
	return s, nil
}

// Eventually polls ok until it holds, failing the test with what when it
// does not within timeout. The pause between polls doubles from 50 ms up
// to a second, so that slow conditions (an amtool query) are not hammered.
func Eventually(tb testing.TB, what string, timeout time.Duration, ok func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	pause := 50 * time.Millisecond
	for !ok() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(pause)
		pause = min(2*pause, time.Second)
	}
}
