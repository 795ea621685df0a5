package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const testToken = "asrctl-test-token-0123"

// fakeAPI answers like asr-api for jobs that run at once: a file whose
// content starts with "BAD" fails, any other succeeds.
type fakeAPI struct {
	mu    sync.Mutex
	jobs  map[string]*fakeJob
	order []string
	// list answers GET /v1/jobs, whose query lands in listQuery.
	list      string
	listQuery string
}

type fakeJob struct {
	id, name string
	bad      bool
	canceled bool
}

func (f *fakeAPI) jobJSON(j *fakeJob, final bool) string {
	state, errJSON, pos := "queued", "null", `,"position":2`
	switch {
	case j.canceled:
		state, pos = "canceled", ""
	case final && j.bad:
		state, pos = "failed", ""
		errJSON = `{"message":"the audio is malformed: truncated header","code":"invalid_audio"}`
	case final:
		state, pos = "succeeded", ""
	}
	return fmt.Sprintf(`{"id":%q,"state":%q,"attempts":1,"progress":0,"file":{"name":%q,`+
		`"content_type":"audio/wav","bytes":4},"created_at":"2026-01-02T03:04:05Z",`+
		`"started_at":null,"finished_at":null%s,"error":%s,"history":[],"result":null}`,
		j.id, state, j.name, pos, errJSON)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"message":"a valid API key is required",`+
			`"type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == "POST" && r.URL.Path == "/v1/jobs" {
		file, hdr, err := r.FormFile("file")
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		data, _ := io.ReadAll(file)
		j := &fakeJob{id: fmt.Sprintf("%032x", len(f.order)+1), name: hdr.Filename,
			bad: bytes.HasPrefix(data, []byte("BAD"))}
		if f.jobs == nil {
			f.jobs = map[string]*fakeJob{}
		}
		f.jobs[j.id] = j
		f.order = append(f.order, j.id)
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, f.jobJSON(j, false))
		return
	}
	if r.Method == "GET" && r.URL.Path == "/v1/jobs" {
		f.listQuery = r.URL.RawQuery
		io.WriteString(w, f.list)
		return
	}
	if r.URL.Path == "/v1/queue" {
		io.WriteString(w, `{"queued":3,"retrying":1,"running":1,"dead_letters":2,`+
			`"oldest_queued_seconds":12.34,"workers":[{"name":"w-1","host":"h1","pid":42,`+
			`"job":"`+fmt.Sprintf("%032x", 1)+`","jobs_done":7,`+
			`"started_at":"2026-01-02T03:04:05Z","heartbeat_age_seconds":0.5}]}`)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/jobs/")
	id, tail, _ := strings.Cut(rest, "/")
	j := f.jobs[id]
	if !ok || j == nil {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"message":"no job with this id (it may have expired)",`+
			`"type":"not_found_error","param":null,"code":"job_not_found"}}`)
		return
	}
	switch {
	case tail == "events":
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "id: 1-0\nevent: state\ndata: {\"state\":\"queued\"}\n\n"+
			"id: 2-0\nevent: state\ndata: {\"state\":\"running\",\"attempt\":1}\n\n"+
			"id: 2-1\nevent: progress\ndata: {\"percent\":50}\n\n"+
			"id: 2-2\nevent: segment\ndata: {\"text\":\"x\"}\n\n")
		final := `{"state":"succeeded"}`
		if j.bad {
			final = `{"state":"failed","error":"malformed","code":"invalid_audio"}`
		}
		io.WriteString(w, "id: 3-0\nevent: state\ndata: "+final+"\n\n")
	case tail == "result":
		fmt.Fprintf(w, "result of %s in %s\n", j.name, r.URL.Query().Get("format"))
	case tail == "" && r.Method == "DELETE":
		j.canceled = true
		io.WriteString(w, f.jobJSON(j, true))
	case tail == "":
		io.WriteString(w, f.jobJSON(j, true))
	default:
		http.NotFound(w, r)
	}
}

// run runs asrctl with args against a fake API and returns the exit code
// and outputs.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := newApp(&stdout, &stderr, []string{"PATH=/bin"})
	a.configPath = filepath.Join(t.TempDir(), "absent.toml")
	code := a.run(context.Background(), args)
	return code, stdout.String(), stderr.String()
}

func startFake(t *testing.T) (*fakeAPI, string) {
	t.Helper()
	f := &fakeAPI{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestTranscribePlain(t *testing.T) {
	_, api := startFake(t)
	dir := writeFiles(t, map[string]string{"good.wav": "RIFF", "bad.wav": "BADx"})
	out := filepath.Join(dir, "out")
	code, stdout, stderr := run(t, "--api", api, "transcribe", "--token", testToken,
		filepath.Join(dir, "good.wav"), "--format", "srt", "--out", out,
		filepath.Join(dir, "bad.wav"))
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	got, err := os.ReadFile(filepath.Join(out, "good.srt"))
	if err != nil || string(got) != "result of good.wav in srt\n" {
		t.Errorf("good.srt: %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(out, "bad.srt")); err == nil {
		t.Errorf("a failed file has a result file")
	}
	good := filepath.Join(dir, "good.wav")
	var lines []string
	for _, l := range strings.Split(stdout, "\n") {
		if rest, ok := strings.CutPrefix(l, good+": "); ok {
			lines = append(lines, rest)
		}
	}
	if len(lines) == 0 {
		t.Fatalf("no lines for good.wav:\n%s", stdout)
	}
	// The two files upload at once: either may be job 1.
	id := strings.TrimPrefix(lines[0], "uploaded 4 B as job ")
	if id != fmt.Sprintf("%032x", 1) && id != fmt.Sprintf("%032x", 2) {
		t.Errorf("first line %q", lines[0])
	}
	want := []string{"uploaded 4 B as job " + id, "queued at position 2", "transcribing",
		"transcribing 50%", "done, wrote " + filepath.Join(out, "good.srt") + " (26 B)"}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("lines for good.wav:\n%q\nwant\n%q", lines, want)
	}
	bad := filepath.Join(dir, "bad.wav")
	wantErr := "asrctl transcribe: 1 of 2 files failed:\n  " + bad + ": job "
	if !strings.HasPrefix(stderr, wantErr) || !strings.HasSuffix(stderr,
		" failed: the audio is malformed: truncated header\n") {
		t.Errorf("stderr %q", stderr)
	}
}

func TestTranscribeJSON(t *testing.T) {
	_, api := startFake(t)
	dir := writeFiles(t, map[string]string{"a.wav": "RIFF"})
	code, stdout, stderr := run(t, "--json", "--api", api, "--token", testToken,
		"transcribe", "--out", dir, filepath.Join(dir, "a.wav"))
	if code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr)
	}
	file, id := filepath.Join(dir, "a.wav"), fmt.Sprintf("%032x", 1)
	want := []string{
		`{"event":"submitted","file":%q,"job":%q,"bytes":4}`,
		`{"event":"progress","file":%q,"job":%q,"state":"queued","position":2}`,
		`{"event":"progress","file":%q,"job":%q,"state":"running","percent":0}`,
		`{"event":"progress","file":%q,"job":%q,"state":"running","percent":50}`,
		`{"event":"done","file":%q,"job":%q,"bytes":24,"output":` +
			fmt.Sprintf("%q", filepath.Join(dir, "a.txt")) + `}`,
	}
	got := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(got) != len(want) {
		t.Fatalf("events:\n%s", stdout)
	}
	for i := range want {
		if w := fmt.Sprintf(want[i], file, id); got[i] != w {
			t.Errorf("event %d:\n got %s\nwant %s", i, got[i], w)
		}
	}
}

func TestTranscribeFailuresBeforeSubmit(t *testing.T) {
	_, api := startFake(t)
	dir := writeFiles(t, map[string]string{"a/x.wav": "RIFF", "b/x.wav": "RIFF"})
	fifo := filepath.Join(dir, "fifo.wav")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "--api", api, "--token", testToken, "transcribe", "--out", dir,
		filepath.Join(dir, "a/x.wav"), filepath.Join(dir, "b/x.wav"),
		filepath.Join(dir, "missing.wav"), fifo)
	if code != 1 {
		t.Errorf("exit code %d", code)
	}
	for _, want := range []string{"3 of 4 files failed",
		filepath.Join(dir, "b/x.wav") + ": its result would overwrite that of " +
			filepath.Join(dir, "a/x.wav"),
		filepath.Join(dir, "missing.wav") + ": stat " + filepath.Join(dir, "missing.wav") +
			": no such file or directory",
		fifo + ": " + fifo + " is not a regular file"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	// A wrong token fails every file with the API's reason.
	code, _, stderr = run(t, "--api", api, "--token", "wrong-token-wrong-token",
		"transcribe", "--out", dir, filepath.Join(dir, "a/x.wav"))
	if code != 1 || !strings.Contains(stderr, "a valid API key is required (HTTP 401)") {
		t.Errorf("wrong token: exit %d, stderr %q", code, stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"bogus"}, {"transcribe"},
		{"transcribe", "--format", "docx", "a.wav"}, {"job"}, {"job", "a", "b"},
		{"jobs", "--state", "dead"}, {"jobs", "--limit", "0"}, {"model"}, {"model", "pull"},
		{"scale", "-1"}, {"scale", "x"}, {"transcribe", "--nope", "a.wav"}} {
		if code, _, _ := run(t, args...); code != 2 {
			t.Errorf("asrctl %q: exit code %d, want 2", args, code)
		}
	}
	if code, _, _ := run(t, "help"); code != 0 {
		t.Errorf("help: exit code %d", code)
	}
}

func TestJobCommands(t *testing.T) {
	f, api := startFake(t)
	id := fmt.Sprintf("%032x", 1)
	f.jobs = map[string]*fakeJob{id: {id: id, name: "a.wav", bad: true}}
	base := []string{"--api", api, "--token", testToken}

	code, stdout, _ := run(t, append(base, "job", id)...)
	if code != 0 || !strings.Contains(stdout, "state:   failed (attempt 1)\n") ||
		!strings.Contains(stdout,
			"error:   the audio is malformed: truncated header (invalid_audio)\n") {
		t.Errorf("job: exit %d:\n%s", code, stdout)
	}
	code, stdout, _ = run(t, append(base, "--json", "job", id)...)
	var got, want any
	json.Unmarshal([]byte(stdout), &got)
	json.Unmarshal([]byte(f.jobJSON(f.jobs[id], true)), &want)
	if code != 0 || !reflect.DeepEqual(got, want) {
		t.Errorf("job --json: exit %d:\n%s", code, stdout)
	}
	code, stdout, _ = run(t, append(base, "cancel", id)...)
	if code != 0 || !strings.HasPrefix(stdout, "job "+id+" canceled\nid:") {
		t.Errorf("cancel: exit %d:\n%s", code, stdout)
	}
	code, _, stderr := run(t, append(base, "job", "nope")...)
	if code != 1 || stderr != "asrctl job: asr-api answered 404 job_not_found: no job with "+
		"this id (it may have expired)\n" {
		t.Errorf("unknown job: exit %d: %q", code, stderr)
	}
}

func TestQueueAndJobs(t *testing.T) {
	f, api := startFake(t)
	id := fmt.Sprintf("%032x", 1)
	f.jobs = map[string]*fakeJob{id: {id: id, name: "a.wav"}}
	code, stdout, stderr := run(t, "--api", api, "--token", testToken, "queue")
	wantHead := "queued: 3  retrying: 1  running: 1  dead letters: 2  oldest queued: 12.3s\n" +
		"1 workers\n\nWORKER  HOST  PID  JOB"
	if code != 0 || !strings.HasPrefix(stdout, wantHead) ||
		!strings.Contains(stdout, "w-1     h1    42   "+id+"  0%        7     500ms ago\n") {
		t.Errorf("queue: exit %d, %s:\n%s", code, stderr, stdout)
	}
}

func TestJobsList(t *testing.T) {
	f, api := startFake(t)
	ids := []string{strings.Repeat("a", 32), strings.Repeat("b", 32), strings.Repeat("c", 32)}
	item := func(id, state, extra, file string) string {
		return fmt.Sprintf(`{"id":%q,"state":%q,%s,"file":{"name":%q,"content_type":`+
			`"audio/wav","bytes":4},"created_at":"2026-01-02T03:04:05Z","history":[]}`,
			id, state, extra, file)
	}
	items := []string{
		item(ids[0], "queued", `"attempts":0,"progress":0,"position":1,"error":null`,
			"q.wav"),
		item(ids[1], "queued", `"attempts":1,"progress":40,"retry_at":"2026-01-02T04:00:00Z",`+
			`"error":{"message":"decode: ffmpeg was killed","code":"decoder_failed"}`, "r.ogg"),
		item(ids[2], "succeeded", `"attempts":1,"progress":100,"error":null`, "s.wav"),
	}
	f.list = `{"jobs":[` + strings.Join(items, ",") + `]}`
	base := []string{"--api", api, "--token", testToken}

	code, stdout, stderr := run(t, append(base, "jobs")...)
	created := regexp.QuoteMeta(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Local().
		Format(time.DateTime))
	want := []string{
		`^ID +STATE +ATTEMPTS +PROGRESS +FILE +CREATED +ERROR$`,
		`^` + ids[0] + ` +queued +0 +#1 +q\.wav +` + created + ` *$`,
		`^` + ids[1] + ` +retrying +1 +40% +r\.ogg +` + created + ` +decode: ffmpeg was killed$`,
		`^` + ids[2] + ` +succeeded +1 +100% +s\.wav +` + created + ` *$`,
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if code != 0 || len(lines) != len(want) || f.listQuery != "limit=50" {
		t.Fatalf("jobs: exit %d, query %q, %s:\n%s", code, f.listQuery, stderr, stdout)
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("line %d %q does not match %s", i, lines[i], re)
		}
	}

	code, stdout, _ = run(t, append(base, "--json", "jobs", "--state", "retrying",
		"--limit", "7")...)
	var got, wantJSON any
	json.Unmarshal([]byte(stdout), &got)
	json.Unmarshal([]byte("["+strings.Join(items, ",")+"]"), &wantJSON)
	if code != 0 || !reflect.DeepEqual(got, wantJSON) || f.listQuery != "limit=7&state=retrying" {
		t.Errorf("jobs --json: exit %d, query %q:\n%s", code, f.listQuery, stdout)
	}

	f.list = `{"jobs":[]}`
	code, stdout, _ = run(t, append(base, "jobs", "--state", "canceled")...)
	if code != 0 || stdout != "no canceled jobs\n" {
		t.Errorf("empty list: exit %d: %q", code, stdout)
	}
	code, _, stderr = run(t, append(base, "jobs", "--state", "dead")...)
	if code != 2 || !strings.HasPrefix(stderr, `asrctl jobs: no state "dead": choose one of `+
		"queued, running, retrying, succeeded, failed, canceled\n") {
		t.Errorf("unknown state: exit %d: %q", code, stderr)
	}
}

func TestDefaultsFromConfig(t *testing.T) {
	_, api := startFake(t)
	addr := strings.TrimPrefix(api, "http://")
	_, port, _ := net.SplitHostPort(addr)
	cfg := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("[api]\nlisten = \"0.0.0.0:%s\"\ntokens = [%q]\n",
		port, testToken)), 0o600)
	code, stdout, stderr := run(t, "queue", "--config", cfg)
	if code != 0 || !strings.HasPrefix(stdout, "queued: 3") {
		t.Errorf("config defaults: exit %d, %s", code, stderr)
	}
	// The environment's token comes before the config's.
	var out, errOut bytes.Buffer
	a := newApp(&out, &errOut, []string{"ASR_TOKEN=from-env-0123456789"})
	if code := a.run(context.Background(), []string{"--config", cfg, "queue"}); code != 1 ||
		!strings.Contains(errOut.String(), "invalid_api_key") {
		t.Errorf("ASR_TOKEN not used: exit %d, %s", code, errOut.String())
	}
	if code, _, stderr := run(t, "queue", "--config", cfg+".absent"); code != 1 ||
		!strings.Contains(stderr, "no such file") {
		t.Errorf("absent explicit config: exit %d, %s", code, stderr)
	}
}

func TestAPIURL(t *testing.T) {
	for listen, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080", ":8080": "http://127.0.0.1:8080",
		"0.0.0.0:80": "http://127.0.0.1:80", "[::]:8080": "http://[::1]:8080",
		"[::1]:9": "http://[::1]:9", "api.internal:8080": "http://api.internal:8080",
		"localhost": "http://localhost",
	} {
		if got := apiURL(listen); got != want {
			t.Errorf("apiURL(%q) = %q, want %q", listen, got, want)
		}
	}
}

func TestParseInterspersed(t *testing.T) {
	a := newApp(io.Discard, io.Discard, nil)
	fs := a.flagSet("x", "")
	n := fs.Int("n", 0, "")
	got, err := parse(fs, []string{"a", "-n", "3", "b", "--json", "--", "-c", "--d"})
	if err != nil || !reflect.DeepEqual(got, []string{"a", "b", "-c", "--d"}) || *n != 3 ||
		!a.jsonOut {
		t.Errorf("parse: %q, %v, n=%d json=%v", got, err, *n, a.jsonOut)
	}
}

func FuzzAPIURL(f *testing.F) {
	f.Add("127.0.0.1:8080")
	f.Add("[::]:80")
	f.Add(":")
	f.Fuzz(func(t *testing.T, listen string) {
		got := apiURL(listen)
		if !strings.HasPrefix(got, "http://") {
			t.Fatalf("apiURL(%q) = %q", listen, got)
		}
		if _, port, err := net.SplitHostPort(listen); err == nil &&
			!strings.HasSuffix(got, ":"+port) {
			t.Fatalf("apiURL(%q) = %q loses the port", listen, got)
		}
	})
}
