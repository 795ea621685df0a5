package api

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/asr-server/asr-server/internal/queue"
	"github.com/asr-server/asr-server/internal/redistest"
)

var redisURL string

func TestMain(m *testing.M) {
	redistest.Main(m, func(url string) { redisURL = url })
}

// wav returns a valid 16 kHz mono 16-bit WAV file of n silent samples.
func wav(n int) []byte {
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(36 + 2*n))
	b.WriteString("WAVEfmt ")
	le(uint32(16))
	le(uint16(1))
	le(uint16(1))
	le(uint32(16000))
	le(uint32(32000))
	le(uint16(2))
	le(uint16(16))
	b.WriteString("data")
	le(uint32(2 * n))
	b.Write(make([]byte, 2*n))
	return b.Bytes()
}

var testPrefix int

func newTestServer(t *testing.T, url string, maxUpload int64) (*httptest.Server, *queue.Store) {
	t.Helper()
	return newServer(t, url, 3, Options{MaxUploadBytes: maxUpload, OpTimeout: time.Second})
}

// newServer serves the API over a store with its own key prefix on the
// Redis at url, holding at most maxQueued jobs.
func newServer(t *testing.T, url string, maxQueued int64, opts Options) (*httptest.Server,
	*queue.Store) {
	t.Helper()
	rdb, err := queue.Dial(url, 500*time.Millisecond, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	testPrefix++
	store := queue.New(rdb, queue.Options{Prefix: fmt.Sprintf("api%d", testPrefix),
		Lease: time.Second, MaxAttempts: 1, MaxQueued: maxQueued, ResultTTL: time.Minute})
	if err := store.Register(context.Background(), "w"); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(New(store, log, opts))
	t.Cleanup(srv.Close)
	return srv, store
}

func multipartBody(t *testing.T, field, filename string, data []byte) (io.Reader, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("model", "whisper-1")
	fw, err := mw.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return &b, mw.FormDataContentType()
}

type errorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    string  `json:"code"`
	} `json:"error"`
}

func do(t *testing.T, method, url, contentType string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return send(t, req)
}

// send makes the request and reads the whole answer.
func send(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

func TestSubmitAndGet(t *testing.T) {
	srv, _ := newTestServer(t, redisURL, 1<<20)
	audio := wav(16000)
	body, ctype := multipartBody(t, "file", "speech.wav", audio)
	resp, data := do(t, "POST", srv.URL+"/v1/jobs", ctype, body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	var job jobView
	if err := json.Unmarshal(data, &job); err != nil {
		t.Fatal(err)
	}
	if !queue.ValidID(job.ID) || job.State != queue.Queued || job.File.Name != "speech.wav" ||
		job.File.Bytes != int64(len(audio)) || job.Links["self"] != "/v1/jobs/"+job.ID {
		t.Fatalf("submit answer: %s", data)
	}
	if loc := resp.Header.Get("Location"); loc != "/v1/jobs/"+job.ID {
		t.Errorf("Location = %q", loc)
	}

	resp, data = do(t, "GET", srv.URL+"/v1/jobs/"+job.ID, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get: status %d: %s", resp.StatusCode, data)
	}
	var got map[string]any
	json.Unmarshal(data, &got)
	for _, key := range []string{"id", "state", "attempts", "file", "created_at",
		"started_at", "finished_at", "error", "result", "links"} {
		if _, ok := got[key]; !ok {
			t.Errorf("job JSON lacks %q: %s", key, data)
		}
	}
	if got["state"] != "queued" || got["result"] != nil || got["started_at"] != nil {
		t.Errorf("queued job JSON: %s", data)
	}
}

func TestSubmitRawBody(t *testing.T) {
	srv, _ := newTestServer(t, redisURL, 1<<20)
	resp, data := do(t, "POST", srv.URL+"/v1/jobs", "audio/wav", bytes.NewReader(wav(800)))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	var job jobView
	json.Unmarshal(data, &job)
	if job.File.ContentType != "audio/wav" || job.File.Name != "" {
		t.Fatalf("raw submit: %s", data)
	}
}

func TestSubmitErrors(t *testing.T) {
	srv, _ := newTestServer(t, redisURL, 4096)
	noFile, noFileType := multipartBody(t, "audio", "x.wav", wav(10))
	big, bigType := multipartBody(t, "file", "big.wav", wav(4000))
	tests := []struct {
		name   string
		ctype  string
		body   io.Reader
		status int
		code   string
		param  string
	}{
		{"empty body", "audio/wav", strings.NewReader(""), 400, "empty_file", "file"},
		{"not audio", "application/octet-stream", strings.NewReader("hello, this is text"),
			415, "unsupported_format", "file"},
		{"no file field", noFileType, noFile, 400, "missing_file", "file"},
		{"too large raw", "audio/wav", bytes.NewReader(wav(4000)), 413, "file_too_large",
			"file"},
		{"too large multipart", bigType, big, 413, "file_too_large", "file"},
		{"multipart without boundary", "multipart/form-data", strings.NewReader("x"), 400,
			"invalid_multipart", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := do(t, "POST", srv.URL+"/v1/jobs", tt.ctype, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, data)
			}
			checkError(t, resp, data, tt.code, tt.param)
		})
	}
}

func checkError(t *testing.T, resp *http.Response, data []byte, code, param string) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var eb errorBody
	if err := json.Unmarshal(data, &eb); err != nil {
		t.Fatalf("error body is not JSON: %s", data)
	}
	if eb.Error.Code != code || eb.Error.Message == "" || eb.Error.Type == "" {
		t.Errorf("error %s, want code %q", data, code)
	}
	gotParam := ""
	if eb.Error.Param != nil {
		gotParam = *eb.Error.Param
	}
	if gotParam != param {
		t.Errorf("param = %q, want %q", gotParam, param)
	}
}

func TestQueueFullIs429(t *testing.T) {
	srv, _ := newTestServer(t, redisURL, 1<<20)
	for i := 0; i < 3; i++ {
		if resp, data := do(t, "POST", srv.URL+"/v1/jobs", "audio/wav",
			bytes.NewReader(wav(100))); resp.StatusCode != 202 {
			t.Fatalf("submit %d: %d %s", i, resp.StatusCode, data)
		}
	}
	resp, data := do(t, "POST", srv.URL+"/v1/jobs", "audio/wav", bytes.NewReader(wav(100)))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d Retry-After %q: %s", resp.StatusCode,
			resp.Header.Get("Retry-After"), data)
	}
	checkError(t, resp, data, "queue_full", "")
}

func TestNotFound(t *testing.T) {
	srv, _ := newTestServer(t, redisURL, 1<<20)
	resp, data := do(t, "GET", srv.URL+"/v1/jobs/0123456789abcdef0123456789abcdef", "", nil)
	if resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	checkError(t, resp, data, "job_not_found", "")
	resp, data = do(t, "GET", srv.URL+"/v2/nothing", "", nil)
	if resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	checkError(t, resp, data, "route_not_found", "")
	resp, data = do(t, "PUT", srv.URL+"/v1/jobs", "", nil)
	if allow := strings.Join(resp.Header.Values("Allow"), ", "); resp.StatusCode != 405 ||
		allow != "POST, GET" {
		t.Fatalf("status %d, Allow %q", resp.StatusCode, allow)
	}
	checkError(t, resp, data, "method_not_allowed", "")
}

func TestHealthAndReadiness(t *testing.T) {
	srv, _ := newTestServer(t, redisURL, 1<<20)
	for _, path := range []string{"/healthz", "/readyz"} {
		if resp, data := do(t, "GET", srv.URL+path, "", nil); resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", path, resp.StatusCode, data)
		}
	}
}

func TestRedisDownIs503Quickly(t *testing.T) {
	down := redistest.StartT(t, redistest.Options{})
	srv, _ := newTestServer(t, down.URL, 1<<20)
	down.Kill()
	for _, c := range []struct{ method, path string }{
		{"GET", "/readyz"}, {"POST", "/v1/jobs"},
		{"GET", "/v1/jobs/0123456789abcdef0123456789abcdef"},
	} {
		start := time.Now()
		resp, data := do(t, c.method, srv.URL+c.path, "audio/wav", bytes.NewReader(wav(100)))
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("%s %s: status %d: %s", c.method, c.path, resp.StatusCode, data)
		}
		checkError(t, resp, data, "queue_unavailable", "")
		if strings.Contains(string(data), "redis.sock") {
			t.Errorf("503 reveals the Redis address: %s", data)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s %s took %v with Redis down", c.method, c.path, took)
		}
	}
	// healthz is about the process, not Redis.
	if resp, _ := do(t, "GET", srv.URL+"/healthz", "", nil); resp.StatusCode != 200 {
		t.Errorf("healthz with Redis down: %d", resp.StatusCode)
	}
}

func TestCleanFilename(t *testing.T) {
	tests := []struct{ in, want string }{
		{"speech.wav", "speech.wav"},
		{"/home/me/speech.wav", "speech.wav"},
		{`C:\Users\me\speech.wav`, "speech.wav"},
		{`..\..\win.ini`, "win.ini"},
		{"..", ""},
		{"a\x00b\r\nc.wav", "abc.wav"},
		{"\xff\xfebad.wav", "bad.wav"},
		{strings.Repeat("é", 200), strings.Repeat("é", 127)},
	}
	for _, tt := range tests {
		if got := cleanFilename(tt.in); got != tt.want {
			t.Errorf("cleanFilename(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDeclaredLengthOverLimitIsRefusedUnread(t *testing.T) {
	srv, _ := newTestServer(t, redisURL, 4096)
	req, _ := http.NewRequest("POST", srv.URL+"/v1/jobs", strings.NewReader("RIFF"))
	req.Header.Set("Content-Type", "audio/wav")
	req.ContentLength = 1 << 30
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 10 * time.Second}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	checkError(t, resp, data, "file_too_large", "file")
}

func TestHeadOnHealth(t *testing.T) {
	srv, _ := newTestServer(t, redisURL, 4096)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Head(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("HEAD %s: %d", path, resp.StatusCode)
		}
	}
}

func decodeJob(t *testing.T, data []byte) jobView {
	t.Helper()
	var v jobView
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("job JSON %s: %v", data, err)
	}
	return v
}

func TestIdempotencyKey(t *testing.T) {
	srv, _ := newTestServer(t, redisURL, 1<<20)
	post := func(key string) (*http.Response, jobView) {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/jobs", bytes.NewReader(wav(100)))
		req.Header.Set("Content-Type", "audio/wav")
		req.Header.Set("Idempotency-Key", key)
		resp, data := send(t, req)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d: %s", resp.StatusCode, data)
		}
		return resp, decodeJob(t, data)
	}
	r1, first := post("upload-1")
	r2, again := post("upload-1")
	if again.ID != first.ID || r1.Header.Get("Idempotent-Replayed") != "" ||
		r2.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("ids %s %s, replayed headers %q %q", first.ID, again.ID,
			r1.Header.Get("Idempotent-Replayed"), r2.Header.Get("Idempotent-Replayed"))
	}
	if _, other := post("upload-2"); other.ID == first.ID {
		t.Fatalf("another key returned the same job")
	}
	req, _ := http.NewRequest("POST", srv.URL+"/v1/jobs", bytes.NewReader(wav(100)))
	req.Header.Set("Idempotency-Key", strings.Repeat("k", 256))
	resp, data := send(t, req)
	if resp.StatusCode != 400 {
		t.Fatalf("long key: status %d", resp.StatusCode)
	}
	checkError(t, resp, data, "invalid_idempotency_key", "Idempotency-Key")
}

func TestCancelRequeueAndOverview(t *testing.T) {
	srv, store := newTestServer(t, redisURL, 1<<20)
	submitOne := func() jobView {
		resp, data := do(t, "POST", srv.URL+"/v1/jobs", "audio/wav", bytes.NewReader(wav(100)))
		if resp.StatusCode != 202 {
			t.Fatalf("submit: %d %s", resp.StatusCode, data)
		}
		return decodeJob(t, data)
	}
	a, b := submitOne(), submitOne()
	if a.Position == nil || *a.Position != 1 || b.Position == nil || *b.Position != 2 {
		t.Fatalf("positions %v %v, want 1 and 2", a.Position, b.Position)
	}

	resp, data := do(t, "GET", srv.URL+"/v1/queue", "", nil)
	var q queueView
	if err := json.Unmarshal(data, &q); err != nil || resp.StatusCode != 200 {
		t.Fatalf("queue: %d %s", resp.StatusCode, data)
	}
	if q.Queued != 2 || q.Running != 0 || q.DeadLetters != 0 || q.OldestQueuedSeconds < 0 ||
		len(q.Workers) != 0 {
		t.Fatalf("queue overview: %s", data)
	}

	resp, data = do(t, "DELETE", srv.URL+"/v1/jobs/"+a.ID, "", nil)
	if resp.StatusCode != 200 || decodeJob(t, data).State != queue.Canceled {
		t.Fatalf("cancel: %d %s", resp.StatusCode, data)
	}
	resp, data = do(t, "DELETE", srv.URL+"/v1/jobs/"+a.ID, "", nil)
	if resp.StatusCode != 409 {
		t.Fatalf("second cancel: %d %s", resp.StatusCode, data)
	}
	checkError(t, resp, data, "invalid_state", "")
	resp, data = do(t, "POST", srv.URL+"/v1/jobs/"+b.ID+"/requeue", "", nil)
	if resp.StatusCode != 409 {
		t.Fatalf("requeue of a queued job: %d %s", resp.StatusCode, data)
	}
	checkError(t, resp, data, "invalid_state", "")

	// Fail b for good, as a worker would, then list and requeue it.
	ctx := context.Background()
	if err := store.Register(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	d, err := store.Take(ctx, "w", 100*time.Millisecond)
	if err != nil || d == nil || d.Job.ID != b.ID {
		t.Fatalf("take: %v %v", d, err)
	}
	if _, err := store.Fail(ctx, d, "decode: bad", "invalid_audio", false); err != nil {
		t.Fatal(err)
	}
	resp, data = do(t, "GET", srv.URL+"/v1/dead-letters", "", nil)
	var dead struct{ Jobs []jobView }
	json.Unmarshal(data, &dead)
	if resp.StatusCode != 200 || len(dead.Jobs) != 1 || dead.Jobs[0].ID != b.ID ||
		len(dead.Jobs[0].History) != 1 || dead.Jobs[0].History[0].Code != "invalid_audio" {
		t.Fatalf("dead letters: %d %s", resp.StatusCode, data)
	}
	resp, data = do(t, "POST", srv.URL+"/v1/jobs/"+b.ID+"/requeue", "", nil)
	if resp.StatusCode != 202 || decodeJob(t, data).State != queue.Queued {
		t.Fatalf("requeue: %d %s", resp.StatusCode, data)
	}
	resp, data = do(t, "GET", srv.URL+"/v1/dead-letters?limit=0", "", nil)
	if resp.StatusCode != 400 {
		t.Fatalf("limit 0: %d", resp.StatusCode)
	}
	checkError(t, resp, data, "invalid_limit", "limit")
	for _, c := range []struct{ method, path string }{
		{"DELETE", "/v1/jobs/0123456789abcdef0123456789abcdef"},
		{"POST", "/v1/jobs/0123456789abcdef0123456789abcdef/requeue"},
	} {
		resp, data := do(t, c.method, srv.URL+c.path, "", nil)
		if resp.StatusCode != 404 {
			t.Errorf("%s %s: %d", c.method, c.path, resp.StatusCode)
		}
		checkError(t, resp, data, "job_not_found", "")
	}
}
