package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Line is one line a process wrote, with the time it was read.
type Line struct {
	At   time.Time
	Text string
}

// Proc is a child process whose output goes to a log file and can be
// watched line by line.
type Proc struct {
	Name    string
	Started time.Time

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // the exit status; set before done closes

	mu       sync.Mutex
	watchers []*watcher
}

type watcher struct {
	match func(string) bool
	ch    chan Line
}

// StartProc starts argv with env, its stdout and stderr appended to
// logPath. The child is killed if this process dies.
func StartProc(name, logPath string, env []string, argv ...string) (*Proc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("bench: log of %s: %w", name, err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("bench: pipe for %s: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &Proc{Name: name, cmd: cmd, done: make(chan struct{})}
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		logFile.Close()
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	pw.Close()
	read := make(chan struct{})
	go func() {
		defer close(read)
		defer logFile.Close()
		p.readLines(pr, logFile)
	}()
	go func() {
		err := cmd.Wait()
		<-read
		p.err = err
		close(p.done)
	}()
	return p, nil
}

// readLines copies the child's output to the log and to the watchers.
func (p *Proc) readLines(r io.ReadCloser, log io.Writer) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := Line{At: time.Now(), Text: sc.Text()}
		fmt.Fprintln(log, line.Text)
		p.mu.Lock()
		kept := p.watchers[:0]
		for _, w := range p.watchers {
			if w.match(line.Text) {
				w.ch <- line
				continue
			}
			kept = append(kept, w)
		}
		p.watchers = kept
		p.mu.Unlock()
	}
	// Output past a line too long for the scanner is dropped.
	io.Copy(io.Discard, r)
}

// Await returns a channel that receives the first line, written from now
// on, for which match is true.
func (p *Proc) Await(match func(string) bool) <-chan Line {
	w := &watcher{match: match, ch: make(chan Line, 1)}
	p.mu.Lock()
	p.watchers = append(p.watchers, w)
	p.mu.Unlock()
	return w.ch
}

// PID returns the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM and waits up to grace for the exit, then kills.
func (p *Proc) Stop(grace time.Duration) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Kill()
	}
}

// Kill sends SIGKILL and waits for the exit.
func (p *Proc) Kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// ErrExited reports a process that ended while it was waited for.
var ErrExited = errors.New("bench: process exited")

// wait waits for ch, the process's exit or the timeout, whichever is first.
func wait[T any](p *Proc, ch <-chan T, timeout time.Duration, what string) (T, error) {
	var zero T
	select {
	case v := <-ch:
		return v, nil
	case <-p.done:
		return zero, fmt.Errorf("%w: %s ended (%v) before %s", ErrExited, p.Name, p.err, what)
	case <-time.After(timeout):
		return zero, fmt.Errorf("bench: %s: no %s within %v", p.Name, what, timeout)
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// childEnv returns this process's environment without anything that would
// change how a daemon behaves (configuration overrides, systemd's
// variables), plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "ASR_"), name == "NOTIFY_SOCKET",
			strings.HasPrefix(name, "WATCHDOG_"), strings.HasPrefix(name, "LISTEN_"),
			name == "INVOCATION_ID", name == "JOURNAL_STREAM":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}
