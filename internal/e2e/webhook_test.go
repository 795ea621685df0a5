package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/asr-server/asr-server/internal/webhook"
)

const webhookSecret = "e2e-webhook-secret-0123"

// receiver records signed callbacks; it fails the first failFirst of them
// with 503.
type receiver struct {
	mu        sync.Mutex
	failFirst int
	calls     int
	got       []map[string]any
	bad       []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.calls++
	if rc.calls <= rc.failFirst {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	err := webhook.Verify([]byte(webhookSecret), r.Header.Get("Asr-Signature"), body,
		time.Now(), time.Minute)
	if err != nil {
		rc.bad = append(rc.bad, err.Error())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var v map[string]any
	json.Unmarshal(body, &v)
	v["header_event"] = r.Header.Get("Asr-Event")
	rc.got = append(rc.got, v)
}

func submitWithCallback(t *testing.T, api, callback string) (int, []byte) {
	t.Helper()
	return submitForm(t, api, "jfk.wav", jfkWAV, map[string]string{"callback_url": callback})
}

func TestWebhooks(t *testing.T) {
	rc := &receiver{failFirst: 2}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	config := writeConfig(t, modelPath, "")
	appendConfig(t, config, fmt.Sprintf(`
[webhook]
allow = ["127.0.0.1/32"]
secret = %q
max_attempts = 4
backoff = "50ms"
max_backoff = "200ms"
`, webhookSecret))
	api := startAPI(t, config)
	startDaemon(t, "asr-worker", config, "-instance", "e2e-hooks")

	status, data := submitWithCallback(t, api, "http://203.0.113.9/hook")
	if status != 400 || !bytes.Contains(data, []byte(`"code":"callback_not_allowed"`)) ||
		!bytes.Contains(data, []byte(`"param":"callback_url"`)) {
		t.Fatalf("callback outside the allow-list: %d %s", status, data)
	}

	status, data = submitWithCallback(t, api, hook.URL+"/hook")
	if status != 202 {
		t.Fatalf("submit: %d %s", status, data)
	}
	var j job
	json.Unmarshal(data, &j)
	waitState(t, api, j.ID, "succeeded")
	deadline := time.Now().Add(30 * time.Second)
	for {
		rc.mu.Lock()
		n, calls, bad := len(rc.got), rc.calls, rc.bad
		rc.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			if n != 1 || calls != 3 || len(bad) != 0 {
				t.Fatalf("callbacks: %d verified of %d calls, bad signatures %v", n, calls, bad)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := rc.got[0]
	jobv, _ := got["job"].(map[string]any)
	result, _ := jobv["result"].(map[string]any)
	if got["event"] != "job.succeeded" || got["header_event"] != "job.succeeded" ||
		jobv["id"] != j.ID || jobv["state"] != "succeeded" || result["text"] == "" {
		t.Fatalf("callback body %v", got)
	}
}

// appendConfig adds text to the end of a config file.
func appendConfig(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}
