// Package redistest starts private redis-server processes for tests.
//
// Each server listens on a unix socket in its own temporary directory, with
// persistence off, so tests never touch a shared instance and never race
// for a TCP port.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a running private redis-server.
type Server struct {
	// Socket is the path of the server's unix socket.
	Socket string
	// URL is a go-redis URL for the server.
	URL string

	dir string
	cmd *exec.Cmd
}

// Options adjust the server; the zero value is a plain in-memory server.
type Options struct {
	// AppendOnly turns on AOF persistence in the server's directory, so a
	// restarted server keeps its data.
	AppendOnly bool
}

// Start launches redis-server. Callers must Stop it.
func Start(opts Options) (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redistest: redis-server not installed: %w", err)
	}
	dir, err := os.MkdirTemp("", "asr-redis-")
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	s := &Server{dir: dir, Socket: filepath.Join(dir, "redis.sock")}
	s.URL = "unix://" + s.Socket
	if err := s.start(opts); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// StartT starts a server for one test and stops it when the test ends.
func StartT(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start(opts Options) error {
	aof := "no"
	if opts.AppendOnly {
		aof = "yes"
	}
	s.cmd = exec.Command("redis-server",
		"--port", "0",
		"--unixsocket", s.Socket,
		"--unixsocketperm", "700",
		"--dir", s.dir,
		"--save", "",
		"--appendonly", aof,
		"--appendfsync", "always",
		"--logfile", filepath.Join(s.dir, "redis.log"),
	)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s.ping() == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.kill()
	return fmt.Errorf("redistest: redis-server not answering on %s: %s", s.Socket, s.logTail())
}

func (s *Server) ping() error {
	conn, err := net.DialTimeout("unix", s.Socket, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return errors.New("unexpected reply " + line)
	}
	return nil
}

// Restart stops the server and starts it again on the same socket and
// directory, as an operator's restart would.
func (s *Server) Restart(opts Options) error {
	s.kill()
	return s.start(opts)
}

// Kill stops the server process without removing its directory.
func (s *Server) Kill() { s.kill() }

func (s *Server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

func (s *Server) logTail() string {
	data, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, "; ")
}

// Stop ends the server and removes its directory.
func (s *Server) Stop() {
	s.kill()
	os.RemoveAll(s.dir)
}

// Main runs a package's tests with one private server, passing its URL to
// setURL before the tests start, and exits with the tests' status.
func Main(m *testing.M, setURL func(url string)) {
	srv, err := Start(Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	setURL(srv.URL)
	code := m.Run()
	srv.Stop()
	os.Exit(code)
}
