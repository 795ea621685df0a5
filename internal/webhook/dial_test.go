package webhook

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// offlineAllowList parses entries and makes its dials resolve names from
// the hosts file only, so that a test never sends a DNS query.
func offlineAllowList(t testing.TB, entries ...string) *AllowList {
	t.Helper()
	a := mustAllowList(t, entries...)
	a.resolver = &net.Resolver{
		PreferGo: true,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("test: DNS is off")
		},
	}
	return a
}

// countingServer is a loopback receiver that counts the requests it got.
func countingServer(t testing.TB, status int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// A name allowed by name that resolves to loopback reaches the receiver
// only when a loopback prefix is in the list too.
func TestClientDialProtection(t *testing.T) {
	srv, hits := countingServer(t, http.StatusNoContent)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	byName := "http://localhost:" + strconv.Itoa(port) + "/hook"
	byIP := srv.URL + "/hook"
	tests := []struct {
		name    string
		entries []string
		url     string
		want    error // nil when the request must get through
	}{
		{"name only", []string{"localhost"}, byName, ErrBlocked},
		{"name and loopback /32", []string{"localhost", "127.0.0.1/32"}, byName, nil},
		{"name and loopback /8", []string{"localhost", "127.0.0.0/8"}, byName, nil},
		{"loopback on another port", []string{"localhost", "127.0.0.1/32:1"}, byName, ErrBlocked},
		{"broad prefix", []string{"localhost", "0.0.0.0/0"}, byName, ErrBlocked},
		{"prefix but not the name", []string{"127.0.0.1/32"}, byName, ErrNotAllowed},
		{"IP literal", []string{"127.0.0.1/32"}, byIP, nil},
		{"IP literal, wrong prefix", []string{"10.0.0.0/8"}, byIP, ErrNotAllowed},
		{"empty list", nil, byIP, ErrNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := NewClient(offlineAllowList(t, tt.entries...), 5*time.Second)
			before := hits.Load()
			resp, err := client.Get(tt.url)
			if resp != nil {
				_ = resp.Body.Close()
			}
			got := hits.Load() - before
			if tt.want == nil {
				if err != nil || got != 1 {
					t.Fatalf("Get = %v with %d requests received, want success", err, got)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Get = %v, want %v", err, tt.want)
			}
			if got != 0 {
				t.Fatalf("receiver got %d requests, want none", got)
			}
		})
	}
}

func TestCheckConnect(t *testing.T) {
	public := mustAllowList(t, "hooks.example.com")
	internal := mustAllowList(t, "hooks.example.com", "10.0.0.0/8", "fd00:ec2::254/128")
	tests := []struct {
		address              string
		publicOK, internalOK bool
	}{
		{"203.0.113.7:443", true, true},
		{"[2606:4700::1]:443", true, true},
		{"127.0.0.1:80", false, false},
		{"[::1]:80", false, false},
		{"0.0.0.0:80", false, false},
		{"[::]:80", false, false},
		{"169.254.169.254:80", false, false},
		{"[::ffff:169.254.169.254]:80", false, false},
		{"100.100.100.200:80", false, false},
		{"192.168.1.1:80", false, false},
		{"172.31.255.255:80", false, false},
		{"[fe80::1%eth0]:80", false, false},
		{"[64:ff9b::a00:1]:80", false, false},
		{"224.0.0.1:80", false, false},
		{"10.9.9.9:80", false, true},
		{"[fd00:ec2::254]:80", false, true},
		{"[fd00:ec2::255]:80", false, false},
		{"not an address", false, false},
	}
	for _, tt := range tests {
		err := public.checkConnect("hooks.example.com", tt.address)
		if (err == nil) != tt.publicOK || err != nil && !errors.Is(err, ErrBlocked) {
			t.Errorf("public list: checkConnect(%q) = %v, want allowed %v",
				tt.address, err, tt.publicOK)
		}
		err = internal.checkConnect("hooks.example.com", tt.address)
		if (err == nil) != tt.internalOK || err != nil && !errors.Is(err, ErrBlocked) {
			t.Errorf("internal list: checkConnect(%q) = %v, want allowed %v",
				tt.address, err, tt.internalOK)
		}
	}
}

func TestDialContextRefusals(t *testing.T) {
	a := offlineAllowList(t, "127.0.0.1/32")
	tests := []struct {
		network, addr, want string
	}{
		{"udp", "127.0.0.1:53", "network"},
		{"unix", "/tmp/sock", "network"},
		{"tcp", "127.0.0.1", "missing port"},
		{"tcp", "127.0.0.1:http", "bad port"},
		{"tcp", "10.0.0.1:80", "not in the allow-list"},
	}
	for _, tt := range tests {
		conn, err := a.DialContext(context.Background(), tt.network, tt.addr)
		if conn != nil {
			_ = conn.Close()
		}
		if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DialContext(%q, %q) = %v, want error with %q",
				tt.network, tt.addr, err, tt.want)
		}
	}
}

func TestNewClientSettings(t *testing.T) {
	client := NewClient(nil, 0)
	if client.Timeout != DefaultTimeout {
		t.Errorf("Timeout = %v, want %v", client.Timeout, DefaultTimeout)
	}
	tr, ok := client.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("Transport is %T", client.Transport)
	}
	if tr.Proxy != nil {
		t.Error("Transport.Proxy is set; the environment's proxy must be ignored")
	}
	if err := client.CheckRedirect(nil, nil); !errors.Is(err, http.ErrUseLastResponse) {
		t.Errorf("CheckRedirect = %v, want http.ErrUseLastResponse", err)
	}
	_, err := client.Get("http://127.0.0.1:1/")
	var ue *url.Error
	if !errors.As(err, &ue) || !errors.Is(err, ErrNotAllowed) {
		t.Errorf("Get with a nil allow-list = %v, want ErrNotAllowed", err)
	}
}

func TestInsideBlocked(t *testing.T) {
	tests := []struct {
		entry string
		want  bool
	}{
		{"127.0.0.1/32", true},
		{"127.0.0.0/8", true},
		{"10.1.0.0/16", true},
		{"169.254.169.254/32", true},
		{"fd00:ec2::254/128", true},
		{"10.0.0.0/7", false},
		{"0.0.0.0/0", false},
		{"::/0", false},
		{"203.0.113.0/24", false},
	}
	for _, tt := range tests {
		a := mustAllowList(t, tt.entry)
		if got := a.entries[0].internal; got != tt.want {
			t.Errorf("entry %q internal = %v, want %v", tt.entry, got, tt.want)
		}
	}
}
