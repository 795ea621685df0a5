package webhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSleep records the waits a Sender asks for and returns at once.
type fakeSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (f *fakeSleep) sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.waits = append(f.waits, d)
	f.mu.Unlock()
	return ctx.Err()
}

func (f *fakeSleep) recorded() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.waits...)
}

// testSender returns a Sender that may reach loopback receivers and whose
// sleeps are recorded, not waited.
func testSender(t testing.TB) (*Sender, *fakeSleep) {
	t.Helper()
	fs := &fakeSleep{}
	return &Sender{
		Client:      NewClient(offlineAllowList(t, "127.0.0.1/32"), 5*time.Second),
		Signer:      Signer{Secret: testSecret},
		MaxAttempts: 3,
		Backoff:     time.Second,
		MaxBackoff:  10 * time.Second,
		Sleep:       fs.sleep,
	}, fs
}

// scriptedServer answers with the given statuses in turn, repeating the
// last one, and counts requests.
func scriptedServer(t testing.TB, statuses ...int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(hits.Add(1))
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(statuses[min(n, len(statuses))-1])
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// verifyingReceiver checks each request the way a real receiver would and
// answers 401 when the signature does not verify under secret.
func verifyingReceiver(t testing.TB, secret []byte, now time.Time) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		checks := map[string][2]string{
			"method":       {r.Method, http.MethodPost},
			"Content-Type": {r.Header.Get("Content-Type"), "application/json"},
			"User-Agent":   {r.Header.Get("User-Agent"), "asr-server"},
			HeaderEvent:    {r.Header.Get(HeaderEvent), "job.succeeded"},
		}
		for name, c := range checks {
			if c[0] != c[1] {
				t.Errorf("receiver: %s = %q, want %q", name, c[0], c[1])
			}
		}
		sig := r.Header.Get(HeaderSignature)
		if err := Verify(secret, sig, body, now, time.Minute); err != nil {
			t.Logf("receiver rejects: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// tamperTransport changes the body of each request on its way out.
type tamperTransport struct{ next http.RoundTripper }

func (tt tamperTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	body = bytes.Replace(body, []byte("j1"), []byte("j2"), 1)
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	return tt.next.RoundTrip(r)
}

func TestDeliverSignature(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name     string
		secret   []byte // the receiver's
		signedAt time.Time
		tamper   bool
		wantErr  bool
	}{
		{"verified", testSecret, now, false, false},
		{"wrong secret", []byte("another secret"), now, false, true},
		{"stale timestamp", testSecret, now.Add(-time.Hour), false, true},
		{"tampered body", testSecret, now, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := verifyingReceiver(t, tt.secret, now)
			s, _ := testSender(t)
			s.Now = func() time.Time { return tt.signedAt }
			if tt.tamper {
				s.Client.Transport = tamperTransport{next: s.Client.Transport}
			}
			attempts, err := s.Deliver(context.Background(), srv.URL+"/hook", "job.succeeded",
				testBody)
			if attempts != 1 {
				t.Errorf("attempts = %d, want 1", attempts)
			}
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Deliver: %v", err)
				}
				return
			}
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized {
				t.Fatalf("Deliver = %v, want a 401 StatusError", err)
			}
		})
	}
}

func TestDeliverRetriesThenSucceeds(t *testing.T) {
	srv, hits := scriptedServer(t, 503, 503, 200)
	s, fs := testSender(t)
	attempts, err := s.Deliver(context.Background(), srv.URL, "job.succeeded", testBody)
	if err != nil || attempts != 3 || hits.Load() != 3 {
		t.Fatalf("Deliver = %d, %v with %d requests received, want 3, nil, 3",
			attempts, err, hits.Load())
	}
	waits := fs.recorded()
	if len(waits) != 2 {
		t.Fatalf("slept %d times, want 2", len(waits))
	}
	// Jitter keeps each wait in the upper half of the doubled backoff.
	for i, limit := range []time.Duration{time.Second, 2 * time.Second} {
		if waits[i] < limit/2 || waits[i] > limit {
			t.Errorf("wait %d = %v, want within [%v, %v]", i+1, waits[i], limit/2, limit)
		}
	}
}

func TestDeliverStatusClasses(t *testing.T) {
	tests := []struct {
		status       int
		wantAttempts int // MaxAttempts is 3
		wantErr      bool
	}{
		{200, 1, false},
		{202, 1, false},
		{204, 1, false},
		{400, 1, true},
		{401, 1, true},
		{404, 1, true},
		{410, 1, true},
		{422, 1, true},
		{408, 3, true},
		{429, 3, true},
		{500, 3, true},
		{502, 3, true},
		{503, 3, true},
		{301, 1, true},
		{302, 1, true},
		{307, 1, true},
		{308, 1, true},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			srv, hits := scriptedServer(t, tt.status)
			s, _ := testSender(t)
			attempts, err := s.Deliver(context.Background(), srv.URL, "job.failed", testBody)
			if attempts != tt.wantAttempts || int(hits.Load()) != tt.wantAttempts {
				t.Errorf("attempts = %d with %d requests received, want %d",
					attempts, hits.Load(), tt.wantAttempts)
			}
			if !tt.wantErr {
				if err != nil {
					t.Errorf("Deliver: %v", err)
				}
				return
			}
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != tt.status {
				t.Errorf("Deliver = %v, want a %d StatusError", err, tt.status)
			}
			if !strings.HasPrefix(err.Error(), "webhook: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// A redirect is not followed, even to a path of the same receiver, and is
// not a success.
func TestDeliverRedirectNotFollowed(t *testing.T) {
	var followed atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
		w.WriteHeader(http.StatusOK)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s, _ := testSender(t)
	attempts, err := s.Deliver(context.Background(), srv.URL+"/hook", "job.succeeded", testBody)
	var se *StatusError
	if attempts != 1 || !errors.As(err, &se) || se.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("Deliver = %d, %v; want 1 attempt and a 307 StatusError", attempts, err)
	}
	if followed.Load() != 0 {
		t.Error("the redirect was followed")
	}
}

func TestDeliverRetryAfter(t *testing.T) {
	tests := []struct {
		retryAfter string
		min, max   time.Duration
	}{
		{"7", 7 * time.Second, 7 * time.Second},
		{"3600", 10 * time.Second, 10 * time.Second}, // capped at MaxBackoff
		{"0", 500 * time.Millisecond, time.Second},
		{"soon", 500 * time.Millisecond, time.Second},
	}
	for _, tt := range tests {
		var hits atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hits.Add(1) == 1 {
				w.Header().Set("Retry-After", tt.retryAfter)
				w.WriteHeader(http.StatusTooManyRequests)
			}
		}))
		s, fs := testSender(t)
		attempts, err := s.Deliver(context.Background(), srv.URL, "job.succeeded", testBody)
		srv.Close()
		waits := fs.recorded()
		if err != nil || attempts != 2 || len(waits) != 1 {
			t.Errorf("Retry-After %q: Deliver = %d, %v after %d sleeps", tt.retryAfter,
				attempts, err, len(waits))
			continue
		}
		if waits[0] < tt.min || waits[0] > tt.max {
			t.Errorf("Retry-After %q: waited %v, want within [%v, %v]", tt.retryAfter,
				waits[0], tt.min, tt.max)
		}
	}
}

func TestRetryAfterDate(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := now.Add(90 * time.Second).Format(http.TimeFormat)
	if got := retryAfter(v, now); got != 90*time.Second {
		t.Errorf("retryAfter(%q) = %v, want 1m30s", v, got)
	}
	if got := retryAfter(now.Add(-time.Hour).Format(http.TimeFormat), now); got != 0 {
		t.Errorf("retryAfter(past date) = %v, want 0", got)
	}
}

func TestDelayGrowsToCap(t *testing.T) {
	s := &Sender{Backoff: time.Second, MaxBackoff: 10 * time.Second}
	limits := []time.Duration{1, 2, 4, 8, 10, 10, 10}
	for i, limit := range limits {
		limit *= time.Second
		for range 50 {
			if d := s.delay(i+1, 0); d < limit/2 || d > limit {
				t.Fatalf("delay after %d attempts = %v, want within [%v, %v]",
					i+1, d, limit/2, limit)
			}
		}
	}
	huge := &Sender{Backoff: time.Hour, MaxBackoff: 1<<63 - 1}
	if d := huge.delay(200, 0); d <= 0 {
		t.Errorf("delay with a huge cap = %v, want positive", d)
	}
	defaults := &Sender{}
	if d := defaults.delay(1, 0); d < DefaultBackoff/2 || d > DefaultBackoff {
		t.Errorf("default first delay = %v", d)
	}
}

func TestDeliverNetworkErrorRetried(t *testing.T) {
	// A port that was just closed refuses connections.
	srv := httptest.NewServer(http.NotFoundHandler())
	target := srv.URL
	srv.Close()
	s, fs := testSender(t)
	s.MaxAttempts = 4
	attempts, err := s.Deliver(context.Background(), target+"/hook?token=secret-token",
		"job.succeeded", testBody)
	if attempts != 4 || err == nil || len(fs.recorded()) != 3 {
		t.Fatalf("Deliver = %d, %v after %d sleeps; want 4 attempts, an error, 3 sleeps",
			attempts, err, len(fs.recorded()))
	}
	var se *StatusError
	if errors.As(err, &se) {
		t.Errorf("Deliver = %v, want a network error", err)
	}
	if strings.Contains(err.Error(), "secret-token") {
		t.Errorf("error %q repeats the URL's query", err)
	}
}

// A name that resolves to a blocked address fails at once: retrying would
// not change the answer.
func TestDeliverBlockedNotRetried(t *testing.T) {
	srv, hits := scriptedServer(t, http.StatusOK)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	s, _ := testSender(t)
	s.Client = NewClient(offlineAllowList(t, "localhost"), 5*time.Second)
	target := "http://localhost:" + strconv.Itoa(port) + "/hook"
	attempts, err := s.Deliver(context.Background(), target, "job.succeeded", testBody)
	if attempts != 1 || !errors.Is(err, ErrBlocked) || hits.Load() != 0 {
		t.Errorf("Deliver = %d, %v with %d requests received; want 1, ErrBlocked, 0",
			attempts, err, hits.Load())
	}
}

func TestDeliverContextCanceled(t *testing.T) {
	t.Run("while waiting", func(t *testing.T) {
		srv, hits := scriptedServer(t, http.StatusServiceUnavailable)
		s, _ := testSender(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s.Sleep = func(ctx context.Context, d time.Duration) error {
			cancel()
			return ctx.Err()
		}
		attempts, err := s.Deliver(ctx, srv.URL, "job.succeeded", testBody)
		var se *StatusError
		if attempts != 1 || hits.Load() != 1 || !errors.Is(err, context.Canceled) ||
			!errors.As(err, &se) {
			t.Errorf("Deliver = %d, %v; want 1 attempt, canceled, last status kept",
				attempts, err)
		}
	})
	t.Run("during the request", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The server notices a closed connection once the body is read.
			_, _ = io.Copy(io.Discard, r.Body)
			cancel()
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
				t.Error("the client did not drop the canceled request")
			}
		}))
		t.Cleanup(srv.Close)
		s, fs := testSender(t)
		attempts, err := s.Deliver(ctx, srv.URL, "job.succeeded", testBody)
		if attempts != 1 || !errors.Is(err, context.Canceled) || len(fs.recorded()) != 0 {
			t.Errorf("Deliver = %d, %v; want 1 attempt, canceled, no sleep", attempts, err)
		}
	})
	t.Run("before the first attempt", func(t *testing.T) {
		srv, hits := scriptedServer(t, http.StatusOK)
		s, _ := testSender(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		attempts, err := s.Deliver(ctx, srv.URL, "job.succeeded", testBody)
		if attempts != 0 || hits.Load() != 0 || !errors.Is(err, context.Canceled) {
			t.Errorf("Deliver = %d, %v; want 0 attempts, canceled", attempts, err)
		}
	})
	t.Run("default sleep", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		err := (&Sender{}).sleep(ctx, time.Hour)
		if !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
			t.Errorf("sleep = %v after %v", err, time.Since(start))
		}
	})
}

func TestDeliverLargeResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("x"), 1<<20))
	}))
	t.Cleanup(srv.Close)
	s, _ := testSender(t)
	attempts, err := s.Deliver(context.Background(), srv.URL, "job.succeeded", testBody)
	if attempts != 1 || err != nil {
		t.Errorf("Deliver = %d, %v; want 1, nil", attempts, err)
	}
}

func TestDeliverRefusesBadSetup(t *testing.T) {
	srv, hits := scriptedServer(t, http.StatusOK)
	tests := []struct {
		name   string
		change func(*Sender)
		event  string
		url    string
		want   string
	}{
		{"no client", func(s *Sender) { s.Client = nil }, "job.succeeded", srv.URL,
			"no client"},
		{"no secret", func(s *Sender) { s.Signer.Secret = nil }, "job.succeeded", srv.URL,
			"no signing secret"},
		{"empty event", func(*Sender) {}, "", srv.URL, "bad event"},
		{"event with newline", func(*Sender) {}, "job\nX-Evil: 1", srv.URL, "bad event"},
		{"bad url", func(*Sender) {}, "job.succeeded", "http://[::1", "bad url"},
		{"relative url", func(*Sender) {}, "job.succeeded", "/hook", "bad url"},
	}
	for _, tt := range tests {
		s, _ := testSender(t)
		tt.change(s)
		attempts, err := s.Deliver(context.Background(), tt.url, tt.event, testBody)
		if err == nil || !strings.Contains(err.Error(), tt.want) || attempts != 0 {
			t.Errorf("%s: Deliver = %d, %v; want 0 attempts and an error with %q",
				tt.name, attempts, err, tt.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), "webhook: ") {
			t.Errorf("%s: error %q lacks the package prefix", tt.name, err)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("receiver got %d requests, want none", hits.Load())
	}
}
