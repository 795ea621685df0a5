package bench

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"time"
)

// NotifySocket receives a daemon's sd_notify(3) messages, standing in for
// systemd: the daemon finds it through NOTIFY_SOCKET.
type NotifySocket struct {
	Path  string
	conn  *net.UnixConn
	ready chan time.Time
}

// ListenNotify opens a notify socket at path.
func ListenNotify(path string) (*NotifySocket, error) {
	os.Remove(path)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("bench: notify socket: %w", err)
	}
	n := &NotifySocket{Path: path, conn: conn, ready: make(chan time.Time, 1)}
	go n.read()
	return n, nil
}

func (n *NotifySocket) read() {
	buf := make([]byte, 4096)
	sent := false
	for {
		k, err := n.conn.Read(buf)
		if err != nil {
			return
		}
		at := time.Now()
		if !sent && ParseNotify(buf[:k])["READY"] == "1" {
			n.ready <- at
			sent = true
		}
	}
}

// Env returns the variable that points a daemon at the socket.
func (n *NotifySocket) Env() string { return "NOTIFY_SOCKET=" + n.Path }

// Ready receives the time the daemon sent READY=1.
func (n *NotifySocket) Ready() <-chan time.Time { return n.ready }

// Close stops listening and removes the socket.
func (n *NotifySocket) Close() {
	n.conn.Close()
	os.Remove(n.Path)
}

// ParseNotify parses one sd_notify message: newline-separated
// VARIABLE=value assignments. Lines without "=" are ignored; a repeated
// variable keeps its last value.
func ParseNotify(msg []byte) map[string]string {
	vars := make(map[string]string)
	for line := range bytes.SplitSeq(msg, []byte("\n")) {
		name, value, ok := bytes.Cut(line, []byte("="))
		if ok && len(name) > 0 {
			vars[string(name)] = string(value)
		}
	}
	return vars
}
