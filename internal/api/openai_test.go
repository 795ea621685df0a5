package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asr-server/asr-server/internal/queue"
	"github.com/asr-server/asr-server/internal/transcript"
)

func newServerWith(t *testing.T, opts Options) (*httptest.Server, *queue.Store) {
	t.Helper()
	return newServer(t, redisURL, 100, opts)
}

// form builds a multipart form with a small WAV file and the given fields.
func form(t *testing.T, fields map[string][]string) (io.Reader, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile("file", "a.wav")
	fw.Write(wav(16000))
	mw.Close()
	return &b, mw.FormDataContentType()
}

// finishNext plays a worker: it takes the next job and stores result.
func finishNext(t *testing.T, store *queue.Store, result *transcript.Result) *queue.Job {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		d, err := store.Take(ctx, "w", 50*time.Millisecond)
		if err != nil {
			t.Error(err)
			return nil
		}
		if d != nil {
			if err := store.Finish(ctx, d, result); err != nil {
				t.Error(err)
			}
			return d.Job
		}
	}
	t.Error("no job arrived")
	return nil
}

var fixedResult = &transcript.Result{Task: "transcribe", Text: "Hello there.", Language: "en",
	Duration: 2.5, Segments: []transcript.Segment{{ID: 0, Start: 0, End: 2.5,
		Text: "Hello there.", Tokens: []int{1, 2}}}}

func TestTranscriptionsWaitsAndRenders(t *testing.T) {
	srv, store := newServerWith(t, Options{MaxUploadBytes: 1 << 20, OpTimeout: time.Second,
		SyncWait: 30 * time.Second})
	tests := []struct {
		format, contentType, body string
	}{
		{"json", "application/json", `{"text":"Hello there."}` + "\n"},
		{"text", "text/plain; charset=utf-8", "Hello there.\n"},
		{"srt", "", "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			body, ctype := form(t, map[string][]string{"model": {"whisper-1"},
				"response_format": {tt.format}, "language": {"en"}})
			go finishNext(t, store, fixedResult)
			resp, data := do(t, "POST", srv.URL+"/v1/audio/transcriptions", ctype, body)
			if resp.StatusCode != 200 || string(data) != tt.body {
				t.Fatalf("status %d body %q, want %q", resp.StatusCode, data, tt.body)
			}
			if tt.contentType != "" && resp.Header.Get("Content-Type") != tt.contentType {
				t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
			id := resp.Header.Get("X-Job-Id")
			j, err := store.Get(context.Background(), id)
			if err != nil || j.Options.Language != "en" {
				t.Errorf("job %s options %+v %v", id, j.Options, err)
			}
		})
	}
}

func TestTranslationsAsksForTranslation(t *testing.T) {
	srv, store := newServerWith(t, Options{MaxUploadBytes: 1 << 20, OpTimeout: time.Second,
		SyncWait: 30 * time.Second})
	body, ctype := form(t, map[string][]string{"model": {"whisper-1"}})
	jobs := make(chan *queue.Job, 1)
	go func() { jobs <- finishNext(t, store, fixedResult) }()
	resp, data := do(t, "POST", srv.URL+"/v1/audio/translations", ctype, body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, data)
	}
	if j := <-jobs; j == nil || !j.Options.Translate {
		t.Fatalf("job options: %+v", j)
	}
}

func TestSyncWaitExceededPointsToTheJob(t *testing.T) {
	srv, store := newServerWith(t, Options{MaxUploadBytes: 1 << 20, OpTimeout: time.Second,
		SyncWait: time.Second})
	body, ctype := form(t, nil)
	resp, data := do(t, "POST", srv.URL+"/v1/audio/transcriptions", ctype, body)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %d %s", resp.StatusCode, data)
	}
	checkError(t, resp, data, "sync_wait_exceeded", "")
	if resp.Header.Get("X-Should-Retry") != "false" {
		t.Errorf("X-Should-Retry %q, want false", resp.Header.Get("X-Should-Retry"))
	}
	id := resp.Header.Get("X-Job-Id")
	if !strings.Contains(string(data), id) || resp.Header.Get("Location") != "/v1/jobs/"+id {
		t.Errorf("answer does not point to job %q: %s", id, data)
	}
	// The job runs on and its result is there later.
	finishNext(t, store, fixedResult)
	resp, data = do(t, "GET", srv.URL+"/v1/jobs/"+id+"/result?format=vtt", "", nil)
	want := "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello there.\n\n"
	if resp.StatusCode != 200 || string(data) != want {
		t.Fatalf("result: %d %q, want %q", resp.StatusCode, data, want)
	}
}

func TestOptionValidation(t *testing.T) {
	srv, _ := newServerWith(t, Options{MaxUploadBytes: 1 << 20, OpTimeout: time.Second,
		SyncWait: time.Second})
	tests := []struct {
		fields map[string][]string
		code   string
		param  string
	}{
		{map[string][]string{"response_format": {"docx"}}, "invalid_response_format",
			"response_format"},
		{map[string][]string{"temperature": {"1.5"}}, "invalid_temperature", "temperature"},
		{map[string][]string{"temperature": {"warm"}}, "invalid_temperature", "temperature"},
		{map[string][]string{"language": {"klingon"}}, "invalid_language", "language"},
		{map[string][]string{"timestamp_granularities[]": {"syllable"}},
			"invalid_timestamp_granularities", "timestamp_granularities[]"},
		{map[string][]string{"timestamp_granularities[]": {"word"}},
			"invalid_timestamp_granularities", "timestamp_granularities[]"},
		{map[string][]string{"prompt": {strings.Repeat("p", 5000)}}, "invalid_prompt",
			"prompt"},
		{map[string][]string{"temperature": {"NaN"}}, "invalid_temperature", "temperature"},
		{map[string][]string{"vad": {"sometimes"}}, "invalid_vad", "vad"},
		{map[string][]string{"beam_size": {"0"}}, "invalid_beam_size", "beam_size"},
		{map[string][]string{"best_of": {"17"}}, "invalid_best_of", "best_of"},
		{map[string][]string{"max_segment_length": {"-1"}}, "invalid_max_segment_length",
			"max_segment_length"},
		{map[string][]string{"no_speech_threshold": {"2"}}, "invalid_no_speech_threshold",
			"no_speech_threshold"},
		{map[string][]string{"split_on_word": {"maybe"}}, "invalid_split_on_word",
			"split_on_word"},
		{map[string][]string{"translate": {"yes please"}}, "invalid_translate", "translate"},
		{map[string][]string{"vad_threshold": {"0"}}, "invalid_vad_threshold",
			"vad_threshold"},
	}
	for _, tt := range tests {
		body, ctype := form(t, tt.fields)
		resp, data := do(t, "POST", srv.URL+"/v1/audio/transcriptions", ctype, body)
		if resp.StatusCode != 400 {
			t.Errorf("%v: status %d %s", tt.fields, resp.StatusCode, data)
			continue
		}
		checkError(t, resp, data, tt.code, tt.param)
	}
}

func TestResultOfUnfinishedJob(t *testing.T) {
	srv, _ := newServerWith(t, Options{MaxUploadBytes: 1 << 20, OpTimeout: time.Second})
	resp, data := do(t, "POST", srv.URL+"/v1/jobs", "audio/wav", bytes.NewReader(wav(100)))
	var j jobView
	json.Unmarshal(data, &j)
	resp, data = do(t, "GET", srv.URL+"/v1/jobs/"+j.ID+"/result?format=srt", "", nil)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("status %d %s", resp.StatusCode, data)
	}
	checkError(t, resp, data, "invalid_state", "")
	resp, data = do(t, "GET", srv.URL+"/v1/jobs/"+j.ID+"/result?max_line_width=0", "", nil)
	if resp.StatusCode != 400 {
		t.Fatalf("status %d %s", resp.StatusCode, data)
	}
	checkError(t, resp, data, "invalid_max_line_width", "max_line_width")
}

func TestBearerTokens(t *testing.T) {
	const token = "0123456789abcdef-token"
	srv, _ := newServerWith(t, Options{MaxUploadBytes: 1 << 20, OpTimeout: time.Second,
		Tokens: []string{"another-token-0000", token}, ModelName: "ggml-base.bin"})
	get := func(path, auth string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return send(t, req)
	}
	for _, auth := range []string{"", "Bearer wrong", "Basic " + token, "Bearer " + token + "x",
		"Bearer", token} {
		resp, data := get("/v1/models", auth)
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("auth %q: status %d", auth, resp.StatusCode)
		}
		checkError(t, resp, data, "invalid_api_key", "")
	}
	if resp, _ := get("/v1/models", "bearer "+token); resp.StatusCode != 200 {
		t.Errorf("lower-case scheme: %d", resp.StatusCode)
	}
	resp, data := get("/v1/models", "Bearer "+token)
	want := `{"object":"list","data":[{"id":"whisper-1","object":"model","created":0,` +
		`"owned_by":"asr-server"},{"id":"ggml-base.bin","object":"model","created":0,` +
		`"owned_by":"asr-server"}]}` + "\n"
	if resp.StatusCode != 200 || string(data) != want {
		t.Errorf("models: %d %s", resp.StatusCode, data)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if resp, _ := get(path, ""); resp.StatusCode != 200 {
			t.Errorf("%s without a token: %d", path, resp.StatusCode)
		}
	}
}

func TestWhisperServerInference(t *testing.T) {
	srv, store := newServerWith(t, Options{MaxUploadBytes: 1 << 20, OpTimeout: time.Second,
		SyncWait: 30 * time.Second})
	body, ctype := form(t, map[string][]string{"response_format": {"text"},
		"max_len": {"20"}, "no_speech_thold": {"0.7"}, "translate": {"false"}})
	jobs := make(chan *queue.Job, 1)
	go func() { jobs <- finishNext(t, store, fixedResult) }()
	resp, data := do(t, "POST", srv.URL+"/inference", ctype, body)
	if resp.StatusCode != 200 || string(data) != "Hello there.\n" {
		t.Fatalf("inference: %d %q", resp.StatusCode, data)
	}
	j := <-jobs
	if j == nil || j.Options.MaxSegmentLength != 20 || j.Options.NoSpeechThreshold != 0.7 {
		t.Fatalf("job options: %+v", j)
	}
}

func TestOpenAIUploadLimit(t *testing.T) {
	srv, _ := newServerWith(t, Options{MaxUploadBytes: 1 << 20, OpenAIMaxUploadBytes: 20000,
		OpTimeout: time.Second, SyncWait: time.Second})
	body, ctype := form(t, nil) // 32 KB of WAV
	resp, data := do(t, "POST", srv.URL+"/v1/audio/transcriptions", ctype, body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge ||
		!strings.Contains(string(data), "20000 bytes") {
		t.Fatalf("status %d %s", resp.StatusCode, data)
	}
	checkError(t, resp, data, "file_too_large", "file")
	body, ctype = form(t, nil)
	if resp, data := do(t, "POST", srv.URL+"/v1/jobs", ctype, body); resp.StatusCode != 202 {
		t.Fatalf("the job API keeps its own limit: %d %s", resp.StatusCode, data)
	}
}

// storeCall is a call a waiting request made to follow its job: "wait"
// with the events WaitEvents returned, or "get".
type storeCall struct {
	op     string
	events []queue.Event
}

// recordingStore is the real store, recording how requests follow jobs.
type recordingStore struct {
	*queue.Store
	mu    sync.Mutex
	calls []storeCall
	// waiting, when set, receives the job id as each WaitEvents starts.
	waiting chan string
}

func (r *recordingStore) WaitEvents(ctx context.Context, id, after string, count int64,
	block time.Duration) ([]queue.Event, error) {
	if r.waiting != nil {
		r.waiting <- id
	}
	events, err := r.Store.WaitEvents(ctx, id, after, count, block)
	r.record(storeCall{op: "wait", events: events})
	return events, err
}

func (r *recordingStore) Get(ctx context.Context, id string) (*queue.Job, error) {
	r.record(storeCall{op: "get"})
	return r.Store.Get(ctx, id)
}

func (r *recordingStore) record(c storeCall) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
}

func (r *recordingStore) recorded() []storeCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]storeCall(nil), r.calls...)
}

// newRecordingServer is the API over a recordingStore with its own key
// prefix, allowing one attempt per job.
func newRecordingServer(t *testing.T, opts Options) (*Server, *recordingStore) {
	t.Helper()
	rdb, err := queue.Dial(redisURL, 500*time.Millisecond, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	testPrefix++
	store := queue.New(rdb, queue.Options{Prefix: fmt.Sprintf("api%d", testPrefix),
		Lease: time.Minute, MaxAttempts: 1, MaxQueued: 100, ResultTTL: time.Minute})
	if err := store.Register(context.Background(), "w"); err != nil {
		t.Fatal(err)
	}
	rec := &recordingStore{Store: store}
	return New(rec, slog.New(slog.NewTextHandler(io.Discard, nil)), opts), rec
}

// answer is an HTTP response read whole, or the error that prevented it.
type answer struct {
	resp *http.Response
	data []byte
	err  error
}

// postAsync sends a POST from another goroutine and delivers its answer.
func postAsync(ctx context.Context, url, ctype string, body io.Reader) <-chan answer {
	answers := make(chan answer, 1)
	go func() {
		var a answer
		defer func() { answers <- a }()
		req, err := http.NewRequestWithContext(ctx, "POST", url, body)
		if err != nil {
			a.err = err
			return
		}
		req.Header.Set("Content-Type", ctype)
		if a.resp, a.err = http.DefaultClient.Do(req); a.err != nil {
			return
		}
		defer a.resp.Body.Close()
		a.data, a.err = io.ReadAll(a.resp.Body)
	}()
	return answers
}

// takeNext plays a worker starting the next job.
func takeNext(t *testing.T, store *queue.Store) *queue.Delivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		d, err := store.Take(context.Background(), "w", 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if d != nil {
			return d
		}
	}
	t.Fatal("no job arrived")
	return nil
}

// checkFollowed checks that a request followed job id through exactly
// the events of its stream, each once and in order, and fetched the job
// once after the final event; any other fetch must follow a wait that
// ended without events (the safety net).
func checkFollowed(t *testing.T, rec *recordingStore, id string) {
	t.Helper()
	all, err := rec.Store.Events(context.Background(), id, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var streamIDs, seenIDs []string
	for _, ev := range all {
		streamIDs = append(streamIDs, ev.ID)
	}
	calls := rec.recorded()
	var ops []string
	for i, c := range calls {
		ops = append(ops, fmt.Sprintf("%s(%d)", c.op, len(c.events)))
		for _, ev := range c.events {
			seenIDs = append(seenIDs, ev.ID)
		}
		if c.op != "get" || i == len(calls)-1 {
			continue
		}
		if i == 0 || calls[i-1].op != "wait" || len(calls[i-1].events) != 0 {
			t.Errorf("fetch %d not after an empty wait; calls %v", i, ops)
		}
	}
	if strings.Join(seenIDs, " ") != strings.Join(streamIDs, " ") {
		t.Errorf("events seen %v, the stream has %v", seenIDs, streamIDs)
	}
	n := len(calls)
	if n < 2 || calls[n-1].op != "get" || calls[n-2].op != "wait" ||
		len(calls[n-2].events) == 0 ||
		!isFinalEvent(calls[n-2].events[len(calls[n-2].events)-1]) {
		t.Errorf("the request did not end with one fetch after the final event: %v", ops)
	}
}

// TestSyncWaitFollowsTheJobsEvents checks that a waiting request wakes on
// its job's events and answers after the final one with one fetch of the
// job, whatever the format.
func TestSyncWaitFollowsTheJobsEvents(t *testing.T) {
	tests := []struct{ format, body string }{
		{"json", `{"text":"Hello there."}` + "\n"},
		{"text", "Hello there.\n"},
		{"srt", "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n"},
		{"vtt", "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello there.\n\n"},
		{"verbose_json", `{"task":"transcribe","language":"english","duration":2.5,` +
			`"text":"Hello there.","segments":[{"id":0,"seek":0,"start":0,"end":2.5,` +
			`"text":"Hello there.","tokens":[1,2],"temperature":0,"avg_logprob":0,` +
			`"compression_ratio":0,"no_speech_prob":0}]}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			api, rec := newRecordingServer(t, Options{MaxUploadBytes: 1 << 20,
				OpTimeout: time.Second, SyncWait: 30 * time.Second})
			srv := httptest.NewServer(api)
			defer srv.Close()
			body, ctype := form(t, map[string][]string{"response_format": {tt.format}})
			answers := postAsync(context.Background(), srv.URL+"/v1/audio/transcriptions",
				ctype, body)
			ctx := context.Background()
			d := takeNext(t, rec.Store)
			if err := rec.Store.Progress(ctx, d, 40); err != nil {
				t.Fatal(err)
			}
			if err := rec.Store.Segment(ctx, d, fixedResult.Segments[0]); err != nil {
				t.Fatal(err)
			}
			if err := rec.Store.Finish(ctx, d, fixedResult); err != nil {
				t.Fatal(err)
			}
			a := <-answers
			if a.err != nil {
				t.Fatal(a.err)
			}
			if a.resp.StatusCode != 200 || string(a.data) != tt.body {
				t.Fatalf("status %d body %q, want %q", a.resp.StatusCode, a.data, tt.body)
			}
			if id := a.resp.Header.Get("X-Job-Id"); id != d.Job.ID {
				t.Errorf("X-Job-Id %q, want %q", id, d.Job.ID)
			}
			checkFollowed(t, rec, d.Job.ID)
		})
	}
}

// TestSyncWaitEndsWithAFailedOrCanceledJob checks the answer to a request
// whose job ends without a result.
func TestSyncWaitEndsWithAFailedOrCanceledJob(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		end         func(*queue.Store, *queue.Delivery) error
		status      int
		code, param string
	}{
		{"bad audio", func(s *queue.Store, d *queue.Delivery) error {
			_, err := s.Fail(ctx, d, "malformed WAV header", "invalid_audio", false)
			return err
		}, 400, "invalid_audio", "file"},
		{"out of attempts", func(s *queue.Store, d *queue.Delivery) error {
			_, err := s.Fail(ctx, d, "whisper_full failed", "transcription_failed", true)
			return err
		}, 500, "transcription_failed", ""},
		{"canceled", func(s *queue.Store, d *queue.Delivery) error {
			_, err := s.Cancel(ctx, d.Job.ID)
			return err
		}, 409, "invalid_state", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, rec := newRecordingServer(t, Options{MaxUploadBytes: 1 << 20,
				OpTimeout: time.Second, SyncWait: 30 * time.Second})
			srv := httptest.NewServer(api)
			defer srv.Close()
			body, ctype := form(t, nil)
			answers := postAsync(ctx, srv.URL+"/v1/audio/transcriptions", ctype, body)
			d := takeNext(t, rec.Store)
			if err := tt.end(rec.Store, d); err != nil {
				t.Fatal(err)
			}
			a := <-answers
			if a.err != nil {
				t.Fatal(a.err)
			}
			if a.resp.StatusCode != tt.status {
				t.Fatalf("status %d %s, want %d", a.resp.StatusCode, a.data, tt.status)
			}
			checkError(t, a.resp, a.data, tt.code, tt.param)
			if id := a.resp.Header.Get("X-Job-Id"); id != d.Job.ID {
				t.Errorf("X-Job-Id %q, want %q", id, d.Job.ID)
			}
			checkFollowed(t, rec, d.Job.ID)
		})
	}
}

// TestSyncWaitStopsWhenTheClientLeaves checks that a request whose client
// went away stops waiting and leaves its job queued.
func TestSyncWaitStopsWhenTheClientLeaves(t *testing.T) {
	api, rec := newRecordingServer(t, Options{MaxUploadBytes: 1 << 20,
		OpTimeout: time.Second, SyncWait: 30 * time.Second})
	rec.waiting = make(chan string, 100)
	returned := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(returned)
		api.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx, leave := context.WithCancel(context.Background())
	body, ctype := form(t, nil)
	answers := postAsync(ctx, srv.URL+"/v1/audio/transcriptions", ctype, body)
	id := <-rec.waiting
	// The first read returns the job's "queued" event; leave while the
	// second blocks in Redis.
	<-rec.waiting
	waitBlocked(t, 1)
	leave()
	if a := <-answers; !errors.Is(a.err, context.Canceled) {
		t.Fatalf("client: %v, want context.Canceled", a.err)
	}
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler still waits after its client left")
	}
	// The read it left behind ends with its block and frees its connection.
	waitBlocked(t, 0)
	if j, err := rec.Store.Get(context.Background(), id); err != nil || j.State != queue.Queued {
		t.Fatalf("job after the client left: %+v %v, want it queued", j, err)
	}
	if d := takeNext(t, rec.Store); d.Job.ID != id {
		t.Fatalf("took job %s, want %s", d.Job.ID, id)
	}
}

// waitBlocked waits until n clients of the test server are blocked in a
// blocking read.
func waitBlocked(t *testing.T, n int) {
	t.Helper()
	rdb, err := queue.Dial(redisURL, 500*time.Millisecond, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := rdb.InfoMap(context.Background(), "clients").Result()
		if err != nil {
			t.Fatal(err)
		}
		blocked := info["Clients"]["blocked_clients"]
		if blocked == strconv.Itoa(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s blocked clients, want %d", blocked, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSyncReplayOfAFinishedJob checks that a request repeated with the
// idempotency key of a finished job answers with that job's result.
func TestSyncReplayOfAFinishedJob(t *testing.T) {
	api, rec := newRecordingServer(t, Options{MaxUploadBytes: 1 << 20,
		OpTimeout: time.Second, SyncWait: 30 * time.Second})
	srv := httptest.NewServer(api)
	defer srv.Close()
	send := func() (*http.Response, []byte) {
		body, ctype := form(t, map[string][]string{"response_format": {"text"}})
		req, _ := http.NewRequest("POST", srv.URL+"/v1/audio/transcriptions", body)
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Idempotency-Key", "replay-me")
		return send(t, req)
	}
	go finishNext(t, rec.Store, fixedResult)
	first, data := send()
	if first.StatusCode != 200 || string(data) != "Hello there.\n" {
		t.Fatalf("first: %d %q", first.StatusCode, data)
	}
	rec.mu.Lock()
	rec.calls = nil
	rec.mu.Unlock()
	again, data := send()
	if again.StatusCode != 200 || string(data) != "Hello there.\n" ||
		again.Header.Get("X-Job-Id") != first.Header.Get("X-Job-Id") {
		t.Fatalf("replay: %d %q job %s, want job %s", again.StatusCode, data,
			again.Header.Get("X-Job-Id"), first.Header.Get("X-Job-Id"))
	}
	checkFollowed(t, rec, first.Header.Get("X-Job-Id"))
}
