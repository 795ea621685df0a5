package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const token = "test-token-0123456789"

// fakeAPI records requests and answers them with canned responses.
type fakeAPI struct {
	mu       sync.Mutex
	requests []recorded
	handler  http.HandlerFunc
}

type recorded struct {
	method, path, query string
	header              http.Header
	fields              map[string][]string
	file                []byte
	filename            string
	length              int64
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := recorded{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery,
		header: r.Header.Clone(), length: r.ContentLength}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		if err := r.ParseMultipartForm(1 << 20); err == nil {
			rec.fields = r.MultipartForm.Value
			if fh := r.MultipartForm.File["file"]; len(fh) == 1 {
				f, _ := fh[0].Open()
				rec.file, _ = io.ReadAll(f)
				rec.filename = fh[0].Filename
				f.Close()
			}
		}
	}
	f.mu.Lock()
	f.requests = append(f.requests, rec)
	f.mu.Unlock()
	f.handler(w, r)
}

func (f *fakeAPI) last(t *testing.T) recorded {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		t.Fatal("no request reached the server")
	}
	return f.requests[len(f.requests)-1]
}

func newFake(t *testing.T, h http.HandlerFunc) (*fakeAPI, *Client) {
	t.Helper()
	f := &fakeAPI{handler: h}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL+"/", Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

const jobJSON = `{"id":"0123456789abcdef0123456789abcdef","state":"queued","attempts":0,` +
	`"progress":0,"file":{"name":"a.wav","content_type":"audio/wav","bytes":5},` +
	`"created_at":"2026-01-02T03:04:05Z","started_at":null,"finished_at":null,` +
	`"position":3,"error":null,"history":[],"result":null,"links":{}}` + "\n"

func TestSubmit(t *testing.T) {
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, jobJSON)
	})
	audio := []byte("RIFF1")
	var sent []int64
	vad := false
	j, err := c.Submit(context.Background(), Upload{Name: "a.wav",
		Body: bytes.NewReader(append(audio, "ignored past Size"...)), Size: int64(len(audio)),
		Options: Decoding{Language: "de", BeamSize: 5, WordTimestamps: true, VAD: &vad,
			Temperature: 0.25},
		IdempotencyKey: "key-1", Sent: func(n int64) { sent = append(sent, n) }})
	if err != nil {
		t.Fatal(err)
	}
	if j.ID != "0123456789abcdef0123456789abcdef" || j.State != Queued || *j.Position != 3 ||
		j.File.Bytes != 5 || string(j.Raw) != jobJSON {
		t.Errorf("job %+v", j)
	}
	r := f.last(t)
	want := map[string][]string{"language": {"de"}, "beam_size": {"5"},
		"timestamp_granularities[]": {"word"}, "vad": {"false"}, "temperature": {"0.25"}}
	if r.method != "POST" || r.path != "/v1/jobs" || !reflect.DeepEqual(r.fields, want) {
		t.Errorf("request %s %s fields %v", r.method, r.path, r.fields)
	}
	if string(r.file) != "RIFF1" || r.filename != "a.wav" || r.length <= 5 {
		t.Errorf("file %q name %q length %d", r.file, r.filename, r.length)
	}
	if r.header.Get("Authorization") != "Bearer "+token ||
		r.header.Get("Idempotency-Key") != "key-1" {
		t.Errorf("headers %v", r.header)
	}
	if len(sent) == 0 || sent[len(sent)-1] != 5 {
		t.Errorf("progress reports %v, want a last report of 5", sent)
	}
}

func TestSubmitShortBody(t *testing.T) {
	_, c := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, jobJSON)
	})
	_, err := c.Submit(context.Background(), Upload{Name: "a.wav",
		Body: strings.NewReader("abc"), Size: 10})
	if err == nil {
		t.Fatal("a body shorter than Size was submitted without error")
	}
}

func TestAPIError(t *testing.T) {
	_, c := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":{"message":"the queue is full; retry later",`+
			`"type":"rate_limit_error","param":null,"code":"queue_full"}}`)
	})
	_, err := c.Job(context.Background(), "x")
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an *APIError", err)
	}
	want := APIError{Status: 429, Message: "the queue is full; retry later",
		Type: "rate_limit_error", Code: "queue_full", RetryAfter: 5 * time.Second}
	if *ae != want {
		t.Errorf("error %+v, want %+v", *ae, want)
	}
	if ae.Error() != "asr-api answered 429 queue_full: the queue is full; retry later" {
		t.Errorf("message %q", ae.Error())
	}
}

func TestAPIErrorNotJSON(t *testing.T) {
	_, c := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "  upstream down\n")
	})
	_, err := c.Queue(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 502 || ae.Message != "upstream down" {
		t.Fatalf("error %#v", err)
	}
}

func TestCalls(t *testing.T) {
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v1/queue":
			io.WriteString(w, `{"queued":2,"retrying":1,"running":1,"dead_letters":4,`+
				`"oldest_queued_seconds":1.5,"workers":[{"name":"w1","host":"h","pid":7,`+
				`"job":"abc","jobs_done":3,"started_at":"2026-01-02T03:04:05Z",`+
				`"heartbeat_age_seconds":0.25}]}`)
		case r.URL.Path == "/v1/dead-letters":
			io.WriteString(w, `{"jobs":[`+strings.TrimSpace(jobJSON)+`]}`)
		case strings.HasSuffix(r.URL.Path, "/result"):
			io.WriteString(w, "1\n00:00:00,000 --> 00:00:01,000\nhi\n\n")
		default:
			io.WriteString(w, jobJSON)
		}
	})
	ctx := context.Background()
	q, err := c.Queue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if q.Queued != 2 || q.Retrying != 1 || q.Running != 1 || q.DeadLetters != 4 ||
		q.OldestQueuedSeconds != 1.5 || len(q.Workers) != 1 || *q.Workers[0].Job != "abc" ||
		q.Workers[0].HeartbeatAgeSeconds != 0.25 || q.Workers[0].PID != 7 {
		t.Errorf("queue %+v", q)
	}
	dead, err := c.DeadLetters(ctx, 7)
	if err != nil || len(dead) != 1 || dead[0].File.Name != "a.wav" {
		t.Fatalf("dead letters %+v, %v", dead, err)
	}
	if r := f.last(t); r.query != "limit=7" {
		t.Errorf("dead letters query %q", r.query)
	}
	body, err := c.Result(ctx, "id/1", "srt", ResultOptions{MaxLineWidth: 42})
	if err != nil || string(body) != "1\n00:00:00,000 --> 00:00:01,000\nhi\n\n" {
		t.Fatalf("result %q, %v", body, err)
	}
	if r := f.last(t); r.path != "/v1/jobs/id%2F1/result" ||
		r.query != "format=srt&max_line_width=42" {
		t.Errorf("result request %s?%s", r.path, r.query)
	}
	for _, tc := range []struct {
		call   func(context.Context, string) (*Job, error)
		method string
		path   string
	}{
		{c.Job, "GET", "/v1/jobs/j1"},
		{c.Cancel, "DELETE", "/v1/jobs/j1"},
		{c.Requeue, "POST", "/v1/jobs/j1/requeue"},
	} {
		j, err := tc.call(ctx, "j1")
		if err != nil || j.ID != "0123456789abcdef0123456789abcdef" {
			t.Fatalf("%s %s: %+v, %v", tc.method, tc.path, j, err)
		}
		if r := f.last(t); r.method != tc.method || r.path != tc.path ||
			r.header.Get("Authorization") != "Bearer "+token {
			t.Errorf("request %s %s, want %s %s", r.method, r.path, tc.method, tc.path)
		}
	}
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, base := range []string{"", "127.0.0.1:8080", "ftp://host/", "http://", "::"} {
		if _, err := New(base, Options{}); !errors.Is(err, ErrBadURL) {
			t.Errorf("New(%q): %v, want ErrBadURL", base, err)
		}
	}
	c, err := New("https://example.test/prefix/", Options{})
	if err != nil || c.url("/v1/queue", nil) != "https://example.test/prefix/v1/queue" {
		t.Errorf("prefixed URL: %v", err)
	}
}

func TestEventStream(t *testing.T) {
	var lastID string
	f, c := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		lastID = r.Header.Get("Last-Event-ID")
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": keep-alive\n\n")
		fmt.Fprint(w, "id: 1-0\nevent: state\ndata: {\"state\":\"running\",\"attempt\":1,"+
			"\"worker\":\"w1\"}\n\n")
		fmt.Fprint(w, "id: 1-1\nevent: progress\ndata: {\"percent\":40}\n\n")
		fmt.Fprint(w, "id: 1-2\nevent: state\ndata: {\"state\":\"failed\",\"error\":"+
			"\"bad audio\",\"code\":\"invalid_audio\"}\n\n")
	})
	s, err := c.Events(context.Background(), "j1", "0-9")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r := f.last(t); r.path != "/v1/jobs/j1/events" || lastID != "0-9" {
		t.Errorf("request %s with Last-Event-ID %q", r.path, lastID)
	}
	ev, err := s.Next()
	if err != nil {
		t.Fatal(err)
	}
	st, err := ev.StateChange()
	if err != nil || st != (StateChange{State: "running", Attempt: 1, Worker: "w1"}) {
		t.Errorf("first event %+v: %+v, %v", ev, st, err)
	}
	ev, _ = s.Next()
	if p, err := ev.Percent(); ev.Type != "progress" || p != 40 || err != nil {
		t.Errorf("second event %+v: %d, %v", ev, p, err)
	}
	ev, _ = s.Next()
	st, _ = ev.StateChange()
	if st != (StateChange{State: "failed", Error: "bad audio", Code: "invalid_audio"}) {
		t.Errorf("third event %+v", st)
	}
	if _, err := s.Next(); err != io.EOF {
		t.Errorf("after the last event: %v, want io.EOF", err)
	}
	if s.LastID() != "1-2" {
		t.Errorf("last id %q", s.LastID())
	}
}

// TestEventStreamSilence: a stream that stays silent past EventIdle ends
// with ErrEventIdle instead of blocking for ever.
func TestEventStreamSilence(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "id: 1-0\nevent: progress\ndata: {\"percent\":5}\n\n")
		w.(http.Flusher).Flush()
		<-release
	}))
	defer srv.Close()
	defer close(release)
	c, err := New(srv.URL, Options{EventIdle: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Events(context.Background(), "j1", "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ev, err := s.Next(); err != nil || ev.ID != "1-0" {
		t.Fatalf("first event %+v, %v", ev, err)
	}
	if _, err := s.Next(); !errors.Is(err, ErrEventIdle) {
		t.Fatalf("silent stream: %v, want ErrEventIdle", err)
	}
}
