package sdnotify

import (
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
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
