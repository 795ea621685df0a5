package sdnotify

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// listen stands in for systemd's notification socket.
func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return conn
}

func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestNotifications(t *testing.T) {
	conn := listen(t)
	n := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	n.Ready()
	n.Status("idle; 3 jobs done")
	n.Stopping()
	for _, want := range []string{"READY=1", "STATUS=idle; 3 jobs done", "STOPPING=1"} {
		if got := receive(t, conn); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestExtendStart(t *testing.T) {
	conn := listen(t)
	n := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := n.ExtendStart(20 * time.Millisecond)
	first, second := receive(t, conn), receive(t, conn)
	done()
	for _, got := range []string{first, second} {
		if got != "EXTEND_TIMEOUT_USEC=60000" {
			t.Errorf("got %q", got)
		}
	}
	// Drain what was sent before done returned; nothing may follow.
	buf := make([]byte, 64)
	for {
		conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := conn.Read(buf); err != nil {
			break
		}
	}
	conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if k, err := conn.Read(buf); err == nil {
		t.Errorf("notification after done: %q", buf[:k])
	} else if !strings.Contains(err.Error(), "timeout") {
		t.Fatal(err)
	}
}

func TestSilentOutsideSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	n.Ready()
	n.ExtendStart(time.Millisecond)()
}

func TestWatchdog(t *testing.T) {
	conn := listen(t)
	t.Setenv("WATCHDOG_USEC", "40000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	if got := WatchdogInterval(); got != 40*time.Millisecond {
		t.Fatalf("WatchdogInterval() = %v, want 40ms", got)
	}
	var alive atomic.Bool
	alive.Store(true)
	var logs strings.Builder
	n := New(slog.New(slog.NewTextHandler(&logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.Watchdog(ctx, 40*time.Millisecond, alive.Load) }()
	for range 3 {
		if got := receive(t, conn); got != "WATCHDOG=1" {
			t.Fatalf("got %q, want WATCHDOG=1", got)
		}
	}
	// Hung: no pings at all for several intervals.
	alive.Store(false)
	time.Sleep(20 * time.Millisecond)
	drain(conn)
	conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 64)
	if k, err := conn.Read(buf); err == nil {
		t.Fatalf("got %q while hung, want nothing", buf[:k])
	}
	alive.Store(true)
	if got := receive(t, conn); got != "WATCHDOG=1" {
		t.Fatalf("got %q after recovery, want WATCHDOG=1", got)
	}
	cancel()
	<-done
	for _, want := range []string{"level=ERROR msg=\"no progress", "pings resumed"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestWatchdogInterval(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "")
	if got := WatchdogInterval(); got != 0 {
		t.Errorf("without WATCHDOG_USEC: %v, want 0", got)
	}
	t.Setenv("WATCHDOG_USEC", "60000000")
	t.Setenv("WATCHDOG_PID", "1")
	if got := WatchdogInterval(); got != 0 {
		t.Errorf("for another process: %v, want 0", got)
	}
}

// drain reads whatever is already queued on conn.
func drain(conn *net.UnixConn) {
	buf := make([]byte, 64)
	for {
		conn.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := conn.Read(buf); err != nil {
			return
		}
	}
}
