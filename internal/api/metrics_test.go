package api

import (
	"net/http"
	"testing"
	"time"
)

// TestMetricsRouteNeedsNoToken checks that /metrics reaches the metrics
// handler without a token while /v1 still demands one, and that the route
// is absent when no handler is configured.
func TestMetricsRouteNeedsNoToken(t *testing.T) {
	const body = "asr_workers 0\n"
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Write([]byte(body))
	})
	srv, _ := newServer(t, redisURL, 3, Options{OpTimeout: time.Second,
		Tokens: []string{"metrics-test-token-0"}, Metrics: metrics})
	resp, data := do(t, "GET", srv.URL+"/metrics", "", nil)
	if resp.StatusCode != http.StatusOK || string(data) != body {
		t.Errorf("GET /metrics without a token: %d %q, want 200 %q", resp.StatusCode, data,
			body)
	}
	resp, data = do(t, "POST", srv.URL+"/metrics", "", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d %s, want 405", resp.StatusCode, data)
	}
	if resp, data := do(t, "GET", srv.URL+"/v1/queue", "", nil); resp.StatusCode != 401 {
		t.Errorf("GET /v1/queue without a token: %d %s, want 401", resp.StatusCode, data)
	}

	plain, _ := newTestServer(t, redisURL, 1<<20)
	if resp, data := do(t, "GET", plain.URL+"/metrics", "", nil); resp.StatusCode != 404 {
		t.Errorf("GET /metrics with no handler: %d %s, want 404", resp.StatusCode, data)
	}
}
