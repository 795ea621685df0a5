package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

var (
	asrctlOnce sync.Once
	asrctlPath string
	asrctlErr  error
)

// asrctl builds the operator tool once and returns its path.
func asrctl(t *testing.T) string {
	t.Helper()
	asrctlOnce.Do(func() {
		asrctlPath = filepath.Join(binDir, "asrctl")
		out, err := exec.Command("go", "build", "-o", asrctlPath, "../../cmd/asrctl").
			CombinedOutput()
		if err != nil {
			asrctlErr = fmt.Errorf("build asrctl: %v\n%s", err, out)
		}
	})
	if asrctlErr != nil {
		t.Fatal(asrctlErr)
	}
	return asrctlPath
}

// ctlEnv is the environment of asrctl runs: the test's, without ASR_
// variables that could point it elsewhere.
func ctlEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ASR_") {
			env = append(env, kv)
		}
	}
	return env
}

// runCtl runs asrctl with args and returns its exit code and outputs.
func runCtl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(asrctl(t), args...)
	cmd.Env = ctlEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

const ctlToken = "e2e-asrctl-token-0123456789"

// writeTokenConfig writes a config like writeConfig's whose API requires
// a token.
func writeTokenConfig(t *testing.T) string {
	t.Helper()
	prefixes++
	path := filepath.Join(t.TempDir(), "config.toml")
	text := fmt.Sprintf(`
[redis]
url = %q
prefix = "e2e%d"
op_timeout = "600ms"
[api]
listen = "127.0.0.1:0"
tokens = [%q]
[queue]
lease = "2s"
[worker]
model = %q
threads = 1
`, redisURL, prefixes, ctlToken, modelPath)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// getResult fetches a job's rendered result as the API serves it.
func getResult(t *testing.T, api, id, format string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", api+"/v1/jobs/"+id+"/result?format="+format, nil)
	req.Header.Set("Authorization", "Bearer "+ctlToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("result %s: status %d: %s", format, resp.StatusCode, body)
	}
	return body
}

type ctlEvent struct {
	Event    string `json:"event"`
	File     string `json:"file"`
	Job      string `json:"job"`
	State    string `json:"state"`
	Position int64  `json:"position"`
	Percent  *int   `json:"percent"`
	Output   string `json:"output"`
	Error    string `json:"error"`
}

// checkEventOrder checks one file's --json events: submitted, progress
// (queued, then running with a percent that never falls), then done.
func checkEventOrder(t *testing.T, events []ctlEvent) {
	t.Helper()
	if len(events) < 3 || events[0].Event != "submitted" ||
		events[len(events)-1].Event != "done" {
		t.Fatalf("events %+v", events)
	}
	running, percent := false, -1
	for _, ev := range events[1 : len(events)-1] {
		switch {
		case ev.Event != "progress" || ev.Job != events[0].Job:
			t.Errorf("event %+v between submitted and done", ev)
		case ev.State == "queued" && running:
			t.Errorf("queued after running: %+v", events)
		case ev.State == "running":
			running = true
			if ev.Percent == nil || *ev.Percent < percent || *ev.Percent > 100 {
				t.Errorf("percent out of order: %+v", events)
			} else {
				percent = *ev.Percent
			}
		case ev.State != "queued":
			t.Errorf("progress event in state %q", ev.State)
		}
	}
	if !running {
		t.Errorf("no running progress event: %+v", events)
	}
}

func TestAsrctlTranscribe(t *testing.T) {
	config := writeTokenConfig(t)
	api := startAPI(t, config)
	startDaemon(t, "asr-worker", config, "-instance", "e2e-asrctl")
	dir := t.TempDir()
	speech := filepath.Join(dir, "speech.wav")
	bad := filepath.Join(dir, "bad.wav")
	os.WriteFile(speech, jfkWAV, 0o644)
	os.WriteFile(bad, wavFile(16000, tone(16000, 1))[:30], 0o644)
	base := []string{"--config", config, "--api", api}

	// Each format's file holds exactly what the API serves for the job.
	for _, format := range []string{"srt", "vtt", "text", "json"} {
		out := filepath.Join(dir, format)
		code, stdout, stderr := runCtl(t, append(base, "--json", "transcribe", "--format",
			format, "--out", out, speech)...)
		if code != 0 {
			t.Fatalf("%s: exit code %d: %s", format, code, stderr)
		}
		var events []ctlEvent
		for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
			var ev ctlEvent
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("%s: line %q: %v", format, line, err)
			}
			events = append(events, ev)
		}
		checkEventOrder(t, events)
		ext := map[string]string{"text": "txt"}[format]
		if ext == "" {
			ext = format
		}
		path := filepath.Join(out, "speech."+ext)
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want := getResult(t, api, events[0].Job, format)
		if !bytes.Equal(got, want) || len(got) == 0 || events[len(events)-1].Output != path {
			t.Errorf("%s: file %q\nAPI %q", format, got, want)
		}
	}

	// Undecodable audio fails with the worker's reason and exit code 1;
	// the good file beside it is still written.
	out := filepath.Join(dir, "mixed")
	code, stdout, stderr := runCtl(t, append(base, "transcribe", "--out", out, speech,
		bad)...)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	failure := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(bad) +
		`: job [0-9a-f]{32} failed: .*malformed.*$`)
	if !strings.Contains(stderr, "1 of 2 files failed") || !failure.MatchString(stderr) {
		t.Errorf("stderr:\n%s", stderr)
	}
	if !strings.Contains(stdout, speech+": done, wrote "+filepath.Join(out, "speech.txt")) {
		t.Errorf("stdout:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(out, "speech.txt")); err != nil {
		t.Errorf("good file not written: %v", err)
	}
}

func TestAsrctlProgressBarOnTerminal(t *testing.T) {
	config := writeTokenConfig(t)
	api := startAPI(t, config)
	startDaemon(t, "asr-worker", config, "-instance", "e2e-asrctl-tty")
	dir := t.TempDir()
	speech := filepath.Join(dir, "speech.wav")
	os.WriteFile(speech, jfkWAV, 0o644)

	cmd := exec.Command(asrctl(t), "--config", config, "--api", api, "transcribe",
		"--format", "srt", "--out", dir, speech)
	cmd.Env = ctlEnv()
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var screen bytes.Buffer
	io.Copy(&screen, tty) // ends with EIO once asrctl exits
	if err := cmd.Wait(); err != nil {
		t.Fatalf("asrctl: %v\n%q", err, screen.String())
	}
	full := regexp.MustCompile(`speech\.wav +done +\[=+\] 100%`)
	if !full.Match(screen.Bytes()) || !strings.Contains(screen.String(), "\x1b[1A") ||
		!strings.Contains(screen.String(), "wrote "+filepath.Join(dir, "speech.srt")) {
		t.Errorf("terminal output has no bar at 100%%:\n%q", screen.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "speech.srt")); err != nil {
		t.Error(err)
	}
}

func TestAsrctlJobCommands(t *testing.T) {
	config := writeConfig(t, modelPath, "")
	api := startAPI(t, config)
	base := []string{"--config", config, "--api", api}

	// A queued job (no worker yet) is canceled once; a second cancel is
	// refused with the API's reason.
	queued := submitJob(t, api, "jfk.wav", jfkWAV)
	code, stdout, stderr := runCtl(t, append(base, "cancel", queued)...)
	if code != 0 || !strings.HasPrefix(stdout, "job "+queued+" canceled\n") ||
		!strings.Contains(stdout, "state:    canceled\n") {
		t.Errorf("cancel: exit %d, %s\n%s", code, stderr, stdout)
	}
	if j := getJob(t, api, queued); j.State != "canceled" {
		t.Errorf("job after asrctl cancel: %+v", j)
	}
	code, _, stderr = runCtl(t, append(base, "cancel", queued)...)
	if code != 1 || !strings.Contains(stderr, "asr-api answered 409 invalid_state") {
		t.Errorf("second cancel: exit %d, %q", code, stderr)
	}

	// A failed job is listed as failed and can be queued again.
	startDaemon(t, "asr-worker", config, "-instance", "e2e-ctl")
	failed := submitJob(t, api, "bad.wav", wavFile(16000, nil))
	waitState(t, api, failed, "failed")
	code, stdout, _ = runCtl(t, append(base, "jobs", "--state", "failed")...)
	if code != 0 || !regexp.MustCompile(failed+` +failed +1 `).MatchString(stdout) {
		t.Errorf("jobs --state failed: exit %d:\n%s", code, stdout)
	}
	code, stdout, stderr = runCtl(t, append(base, "requeue", failed)...)
	if code != 0 || !strings.HasPrefix(stdout, "job "+failed+" queued again\n") {
		t.Errorf("requeue: exit %d, %s\n%s", code, stderr, stdout)
	}
	if j := waitState(t, api, failed, "failed"); j.Attempts != 1 || j.Error == nil {
		t.Errorf("requeued job: %+v", j)
	}

	// A running job shows in the queue with its worker, and in the job
	// list, until it is canceled.
	long := submitJob(t, api, "long.wav", longSpeech(t, 16))
	waitState(t, api, long, "running")
	waitWorkerJob(t, api, long)
	code, stdout, _ = runCtl(t, append(base, "queue")...)
	worker := regexp.MustCompile(`(?m)^e2e-ctl +\S+ +\d+ +` + long + ` +\d+% +\d+ +\S+ ago$`)
	if code != 0 || !strings.HasPrefix(stdout, "queued: 0  retrying: 0  running: 1") ||
		!worker.MatchString(stdout) {
		t.Errorf("queue: exit %d:\n%s", code, stdout)
	}
	code, stdout, _ = runCtl(t, append(base, "--json", "queue")...)
	var q struct {
		Running int64 `json:"running"`
		Workers []struct {
			Name string  `json:"name"`
			Job  *string `json:"job"`
		} `json:"workers"`
	}
	if err := json.Unmarshal([]byte(stdout), &q); err != nil || code != 0 || q.Running != 1 ||
		len(q.Workers) != 1 || q.Workers[0].Name != "e2e-ctl" || *q.Workers[0].Job != long {
		t.Errorf("queue --json: exit %d, %v:\n%s", code, err, stdout)
	}
	code, stdout, _ = runCtl(t, append(base, "jobs", "--state", "running")...)
	if code != 0 || !regexp.MustCompile(long+` +running +1 `).MatchString(stdout) {
		t.Errorf("jobs --state running: exit %d:\n%s", code, stdout)
	}
	code, stdout, _ = runCtl(t, append(base, "job", long)...)
	if code != 0 || !strings.Contains(stdout, "state:    running (attempt 1)\n") ||
		!strings.Contains(stdout, "file:     long.wav (") {
		t.Errorf("job: exit %d:\n%s", code, stdout)
	}
	code, stdout, _ = runCtl(t, append(base, "cancel", long)...)
	if code != 0 || !strings.HasPrefix(stdout, "job "+long+" canceled\n") {
		t.Errorf("cancel of a running job: exit %d:\n%s", code, stdout)
	}
	if j := waitState(t, api, long, "canceled"); j.Result != nil {
		t.Errorf("canceled job has a result")
	}
}

// waitWorkerJob waits until a worker's heartbeat names job id, which the
// queue overview shows a little after the job started.
func waitWorkerJob(t *testing.T, api, id string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(api + "/v1/queue")
		if err != nil {
			t.Fatal(err)
		}
		var q struct {
			Workers []struct {
				Job *string `json:"job"`
			} `json:"workers"`
		}
		json.NewDecoder(resp.Body).Decode(&q)
		resp.Body.Close()
		for _, w := range q.Workers {
			if w.Job != nil && *w.Job == id {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no worker reports job %s", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
