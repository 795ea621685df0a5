package e2e

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// listedJob is a job as asrctl --json jobs prints it.
type listedJob struct {
	ID        string          `json:"id"`
	State     string          `json:"state"`
	Attempts  int             `json:"attempts"`
	Position  *int64          `json:"position"`
	RetryAt   *time.Time      `json:"retry_at"`
	CreatedAt time.Time       `json:"created_at"`
	Result    json.RawMessage `json:"result"`
}

// ctlJobs runs asrctl --json jobs with args and returns the jobs listed.
func ctlJobs(t *testing.T, base []string, args ...string) []listedJob {
	t.Helper()
	code, stdout, stderr := runCtl(t, append(append(base, "--json", "jobs"), args...)...)
	var jobs []listedJob
	if err := json.Unmarshal([]byte(stdout), &jobs); err != nil || code != 0 {
		t.Fatalf("asrctl jobs %v: exit %d, %v: %s\n%s", args, code, err, stderr, stdout)
	}
	return jobs
}

// checkListed compares a listing with the jobs it should hold, in order,
// and the positions of those that wait in the queue.
func checkListed(t *testing.T, what string, got []listedJob, names map[string]string,
	want []string, positions map[string]int64) {
	t.Helper()
	var ids []string
	for _, j := range got {
		ids = append(ids, names[j.ID])
		var pos int64
		if j.Position != nil {
			pos = *j.Position
		}
		if pos != positions[names[j.ID]] {
			t.Errorf("%s: %s at position %d, want %d", what, names[j.ID], pos,
				positions[names[j.ID]])
		}
		if j.Result != nil {
			t.Errorf("%s: %s is listed with its result", what, names[j.ID])
		}
	}
	if !slices.Equal(ids, want) {
		t.Errorf("%s: %v, want %v", what, ids, want)
	}
}

// waitRetry waits until job id has failed an attempt and waits for its
// retry time.
func waitRetry(t *testing.T, api, id string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(api + "/v1/jobs/" + id)
		if err != nil {
			t.Fatal(err)
		}
		var j listedJob
		json.NewDecoder(resp.Body).Decode(&j)
		resp.Body.Close()
		if j.State == "queued" && j.RetryAt != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s never waited for a retry: %+v", id, j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAsrctlListsEveryState puts jobs in every state with the real
// daemons and lists each state, and all of them, through asrctl.
func TestAsrctlListsEveryState(t *testing.T) {
	// A stand-in ffmpeg that dies at once: its failure is the decoder's,
	// which is retried, here only after an hour.
	dir := t.TempDir()
	ffmpeg := filepath.Join(dir, "ffmpeg")
	if err := os.WriteFile(ffmpeg, []byte("#!/bin/sh\nkill -KILL $$\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	prefixes++
	config := filepath.Join(dir, "config.toml")
	text := fmt.Sprintf(`
[redis]
url = %q
prefix = "e2e%d"
op_timeout = "600ms"
[api]
listen = "127.0.0.1:0"
[queue]
lease = "2s"
retry_backoff = "1h"
retry_backoff_max = "1h"
[worker]
model = %q
threads = 1
ffmpeg = %q
`, redisURL, prefixes, modelPath, ffmpeg)
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	api := startAPI(t, config)
	worker := startDaemon(t, "asr-worker", config, "-instance", "e2e-list")
	base := []string{"--config", config, "--api", api}
	names := map[string]string{}
	submitNamed := func(name, file string, audio []byte) string {
		id := submitJob(t, api, file, audio)
		names[id] = name
		return id
	}

	succeeded := submitNamed("succeeded", "jfk.wav", jfkWAV)
	waitState(t, api, succeeded, "succeeded")
	failed := submitNamed("failed", "empty.wav", wavFile(16000, nil))
	waitState(t, api, failed, "failed")
	retrying := submitNamed("retrying", "clip.ogg", []byte("OggS\x00\x02 and no more"))
	waitRetry(t, api, retrying)
	long := submitNamed("long", "long.wav", longSpeech(t, 16))
	waitState(t, api, long, "running")

	checkListed(t, "running", ctlJobs(t, base, "--state", "running"), names,
		[]string{"long"}, nil)
	checkListed(t, "all while running", ctlJobs(t, base), names,
		[]string{"long", "retrying", "failed", "succeeded"}, nil)
	if code, stdout, stderr := runCtl(t, append(base, "cancel", long)...); code != 0 {
		t.Fatalf("cancel: exit %d: %s\n%s", code, stderr, stdout)
	}

	// With the worker stopped, new jobs stay queued.
	worker.cmd.Process.Signal(syscall.SIGTERM)
	if code := worker.wait(t, time.Minute); code != 0 {
		t.Fatalf("worker exit code %d", code)
	}
	submitNamed("q1", "jfk.wav", jfkWAV)
	submitNamed("q2", "jfk.wav", jfkWAV)

	queued := map[string]int64{"q1": 1, "q2": 2}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--state", "queued"}, []string{"q1", "q2"}},
		{[]string{"--state", "queued", "--limit", "1"}, []string{"q1"}},
		{[]string{"--state", "running"}, nil},
		{[]string{"--state", "retrying"}, []string{"retrying"}},
		{[]string{"--state", "succeeded"}, []string{"succeeded"}},
		{[]string{"--state", "failed"}, []string{"failed"}},
		{[]string{"--state", "canceled"}, []string{"long"}},
	} {
		checkListed(t, strings.Join(tc.args, " "), ctlJobs(t, base, tc.args...), names,
			tc.want, queued)
	}

	// All states: the most recently created first, equal times by id.
	all := ctlJobs(t, base)
	byCreation := slices.Clone(all)
	slices.SortStableFunc(byCreation, func(a, b listedJob) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	var want []string
	for _, j := range byCreation {
		want = append(want, names[j.ID])
	}
	if !slices.Equal(want, []string{"q2", "q1", "long", "retrying", "failed", "succeeded"}) &&
		!slices.Equal(want, []string{"q1", "q2", "long", "retrying", "failed", "succeeded"}) {
		t.Fatalf("jobs listed: %v", want)
	}
	checkListed(t, "all", all, names, want, queued)
	checkListed(t, "all, 2", ctlJobs(t, base, "--limit", "2"), names, want[:2], queued)

	// People see the retrying job as such, and queued jobs' places.
	code, stdout, _ := runCtl(t, append(base, "jobs")...)
	rows := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^` + retrying + ` +retrying +1 +0% +clip\.ogg +.*ffmpeg.*$`),
		regexp.MustCompile(`(?m)^` + failed + ` +failed +1 +\d+% +empty\.wav +`),
		regexp.MustCompile(`(?m)^` + long + ` +canceled +1 +\d+% +long\.wav +`),
	}
	for id, name := range names {
		if p, ok := queued[name]; ok {
			rows = append(rows, regexp.MustCompile(
				fmt.Sprintf(`(?m)^%s +queued +0 +#%d +jfk\.wav +`, id, p)))
		}
	}
	for _, row := range rows {
		if code != 0 || !row.MatchString(stdout) {
			t.Errorf("asrctl jobs: exit %d, no row %s:\n%s", code, row, stdout)
		}
	}
	code, stdout, _ = runCtl(t, append(base, "jobs", "--state", "running")...)
	if code != 0 || stdout != "no running jobs\n" {
		t.Errorf("asrctl jobs --state running: exit %d: %q", code, stdout)
	}
}
