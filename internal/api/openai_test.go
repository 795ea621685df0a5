package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
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
