package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/asr-server/asr-server/internal/audio"
	"github.com/asr-server/asr-server/internal/redistest"
)

// writeChaosConfig writes a config for the chaos tests: its own Redis URL
// and key prefix, short Redis timeouts, a short lease, the given attempt
// limit and the generated model.
func writeChaosConfig(t *testing.T, url, prefix string, maxAttempts int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	text := fmt.Sprintf(`
[redis]
url = %q
prefix = %q
op_timeout = "500ms"
[api]
listen = "127.0.0.1:0"
[queue]
lease = "2s"
max_attempts = %d
[worker]
model = %q
threads = 1
`, url, prefix, maxAttempts, modelPath)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startAPIDaemon starts asr-api with config and returns the process and
// the base URL it serves.
func startAPIDaemon(t *testing.T, config string) (*daemon, string) {
	t.Helper()
	d := startDaemon(t, "asr-api", config)
	select {
	case addr := <-d.addr:
		return d, "http://" + addr
	case <-time.After(20 * time.Second):
		t.Fatalf("asr-api did not start:\n%s", d.log())
	}
	return nil, ""
}

// speechClip returns a WAV file with the samples of jfk.wav from second
// from to second to.
func speechClip(t *testing.T, from, to float64) []byte {
	t.Helper()
	pcm, err := audio.ParseWAV(jfkWAV)
	if err != nil {
		t.Fatal(err)
	}
	if pcm.SampleRate != 16000 || pcm.Channels != 1 {
		t.Fatalf("jfk.wav: %d Hz, %d channels, want 16000 Hz mono", pcm.SampleRate,
			pcm.Channels)
	}
	var samples []int16
	for _, v := range pcm.Samples[int(from*16000):int(to*16000)] {
		samples = append(samples, int16(v*32767))
	}
	return wavFile(16000, samples)
}

// fetchJob reads a job through the API. It returns the HTTP status and,
// for 200, the job; a transport error fails the test.
func fetchJob(t *testing.T, api, id string) (int, job) {
	t.Helper()
	resp, err := http.Get(api + "/v1/jobs/" + id)
	if err != nil {
		t.Fatalf("get job %s: %v", id, err)
	}
	defer resp.Body.Close()
	var j job
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
			t.Fatalf("get job %s: %v", id, err)
		}
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode, j
}

// finished reports whether a job is in a final state.
func finished(j job) bool { return j.State == "succeeded" || j.State == "failed" }

// awaitFinished polls the jobs until all are final or the deadline passes,
// and returns their last seen state. A job answered with anything but 200
// or 503 (Redis briefly unavailable, polled again) is lost and fails the
// test, as does the deadline.
func awaitFinished(t *testing.T, api string, ids []string, deadline time.Time) map[string]job {
	t.Helper()
	seen := map[string]job{}
	pending := append([]string(nil), ids...)
	for len(pending) > 0 {
		var next, lost []string
		for _, id := range pending {
			status, j := fetchJob(t, api, id)
			switch status {
			case http.StatusOK:
				seen[id] = j
				if !finished(j) {
					next = append(next, id)
				}
			case http.StatusServiceUnavailable:
				next = append(next, id)
			default:
				lost = append(lost, fmt.Sprintf("%s (%d)", id, status))
			}
		}
		if len(lost) > 0 {
			t.Fatalf("%d of %d jobs lost, GET answered: %s", len(lost), len(ids),
				strings.Join(lost, ", "))
		}
		pending = next
		if len(pending) > 0 && time.Now().After(deadline) {
			for _, id := range pending {
				t.Errorf("job %s not finished: %+v", id, seen[id])
			}
			t.FailNow()
		}
		if len(pending) > 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return seen
}

// checkSucceeded fails the test for every job that did not succeed with a
// result of the given duration holding at least one segment, or that used
// no attempt or more than maxAttempts. It returns the sum of attempts-1.
func checkSucceeded(t *testing.T, jobs map[string]job, duration float64,
	maxAttempts int) int {
	t.Helper()
	extra := 0
	for id, j := range jobs {
		switch {
		case j.State != "succeeded":
			t.Errorf("job %s: state %s, error %+v", id, j.State, j.Error)
		case j.Result == nil || len(j.Result.Segments) == 0:
			t.Errorf("job %s: succeeded without segments: %+v", id, j.Result)
		case math.Abs(j.Result.Duration-duration) > 0.01:
			t.Errorf("job %s: duration %v, want %v", id, j.Result.Duration, duration)
		case j.Attempts < 1 || j.Attempts > maxAttempts:
			t.Errorf("job %s: %d attempts, want 1..%d", id, j.Attempts, maxAttempts)
		}
		extra += max(j.Attempts-1, 0)
	}
	return extra
}

// startedRE matches a worker's log line (slog's text format) about the
// start of an attempt.
var startedRE = regexp.MustCompile(`msg="job started" .*\bjob_id=(\S+) attempt=(\d+)`)

// lastStarted returns the job and attempt that a worker's log says it
// started last; ok is false when it started none.
func lastStarted(log string) (id string, attempt int, ok bool) {
	for _, line := range strings.Split(log, "\n") {
		if m := startedRE.FindStringSubmatch(line); m != nil {
			id, ok = m[1], true
			attempt, _ = strconv.Atoi(m[2])
		}
	}
	return id, attempt, ok
}

// suspect is the job a killed worker started last, to be checked once the
// worker's last commands have surely been executed by Redis.
type suspect struct {
	id      string
	attempt int
	killed  time.Time
}

// TestChaosKilledWorkersLoseNothing runs 200 short jobs on three workers
// while one of them is killed with SIGKILL every half second and replaced
// by a fresh process of the same name. Every job must succeed.
func TestChaosKilledWorkersLoseNothing(t *testing.T) {
	const (
		jobs        = 200
		maxAttempts = 20
		clipFrom    = 1.0
		clipTo      = 3.5
	)
	prefixes++
	config := writeChaosConfig(t, redisURL, fmt.Sprintf("chaos%d", prefixes), maxAttempts)
	apiProc, api := startAPIDaemon(t, config)
	names := []string{"chaos-1", "chaos-2", "chaos-3"}
	workers := make([]*daemon, len(names))
	for i, name := range names {
		workers[i] = startDaemon(t, "asr-worker", config, "-instance", name)
	}
	clip := speechClip(t, clipFrom, clipTo)

	start := time.Now()
	ids := make([]string, jobs)
	for i := range ids {
		ids[i] = submitJob(t, api, fmt.Sprintf("clip-%03d.wav", i), clip)
	}
	t.Logf("submitted %d jobs of %.1f s in %v", jobs, clipTo-clipFrom,
		time.Since(start).Round(time.Millisecond))

	// Kill a random worker every half second while jobs are unfinished.
	// The job the victim started last is a suspect. Half a second later,
	// when any command the victim sent before it died has been executed,
	// a suspect still running at the attempt the victim started was
	// orphaned by the kill (no one else can own that attempt, and the
	// victim can no longer end it), so another attempt must follow.
	rng := rand.New(rand.NewPCG(1, 2))
	chaosDeadline := start.Add(2 * time.Minute)
	pending := append([]string(nil), ids...)
	var suspects []suspect
	orphans := map[string]int{} // job id -> highest orphaned attempt
	orphanKills, kills := 0, 0
	checkSuspects := func(all bool) {
		var keep []suspect
		for _, s := range suspects {
			if !all && time.Since(s.killed) < 500*time.Millisecond {
				keep = append(keep, s)
				continue
			}
			status, j := fetchJob(t, api, s.id)
			if status == http.StatusOK && j.State == "running" && j.Attempts == s.attempt {
				orphanKills++
				orphans[s.id] = max(orphans[s.id], s.attempt)
			}
		}
		suspects = keep
	}
	for len(pending) > 0 && time.Now().Before(chaosDeadline) {
		time.Sleep(500 * time.Millisecond)
		checkSuspects(false)
		// Jobs finish roughly in order: drop the finished ones at the
		// front and stop at the first unfinished one.
		for len(pending) > 0 {
			status, j := fetchJob(t, api, pending[0])
			if status == http.StatusNotFound {
				t.Fatalf("job %s: GET answered 404, the job is lost", pending[0])
			}
			if status != http.StatusOK || !finished(j) {
				break
			}
			pending = pending[1:]
		}
		if len(pending) == 0 {
			break
		}
		for i, w := range workers {
			if !w.running() {
				t.Fatalf("worker %s exited without being killed: %v", names[i], w.err)
			}
		}
		i := rng.IntN(len(workers))
		victim := workers[i]
		victim.cmd.Process.Signal(syscall.SIGKILL)
		select {
		case <-victim.exited:
		case <-time.After(30 * time.Second):
			t.Fatalf("worker %s did not die from SIGKILL", names[i])
		}
		killed := time.Now()
		kills++
		if id, attempt, ok := lastStarted(victim.log()); ok {
			suspects = append(suspects, suspect{id: id, attempt: attempt, killed: killed})
		}
		workers[i] = startDaemon(t, "asr-worker", config, "-instance", names[i])
	}
	checkSuspects(true)
	chaosEnd := time.Now()
	if len(pending) > 0 {
		t.Logf("chaos phase hit its deadline with jobs unfinished; " +
			"waiting for them without kills")
	}

	final := awaitFinished(t, api, ids, time.Now().Add(2*time.Minute))
	wall := time.Since(start)
	if len(final) != jobs {
		t.Fatalf("%d jobs seen, want %d", len(final), jobs)
	}
	reclaims := checkSucceeded(t, final, clipTo-clipFrom, maxAttempts)
	for id, attempt := range orphans {
		if j := final[id]; j.Attempts <= attempt {
			t.Errorf("job %s: attempt %d was orphaned by a kill, yet the job "+
				"ended after %d attempts", id, attempt, j.Attempts)
		}
	}
	// Each orphaned attempt is a distinct attempt that had to be followed
	// by a reclaim, so the reclaims are at least as many.
	if reclaims < orphanKills {
		t.Errorf("%d reclaims, fewer than the %d kills that orphaned a running job",
			reclaims, orphanKills)
	}
	hist := map[int]int{}
	for _, j := range final {
		hist[j.Attempts]++
	}
	t.Logf("kills %d (%d orphaned a running job, %d jobs), reclaims %d, "+
		"attempts histogram %s, chaos phase %v, wall time %v",
		kills, orphanKills, len(orphans), reclaims, histogram(hist),
		chaosEnd.Sub(start).Round(time.Millisecond), wall.Round(time.Millisecond))
	if orphanKills == 0 {
		t.Logf("no kill was seen to orphan a running job; reclaims not asserted")
	}
	if !apiProc.running() {
		t.Errorf("asr-api exited: %v", apiProc.err)
	}
	for i, w := range workers {
		if !w.running() {
			t.Errorf("worker %s exited without being killed: %v", names[i], w.err)
		}
	}
}

// histogram formats attempts -> count as "1:180 2:20".
func histogram(h map[int]int) string {
	var keys []int
	for k := range h {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d:%d", k, h[k]))
	}
	return strings.Join(parts, " ")
}

// postAudio submits audio as a multipart form and returns the status, the
// Retry-After header and the body, or the transport error.
func postAudio(api, filename string, audio []byte) (int, string, []byte, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		return 0, "", nil, err
	}
	fw.Write(audio)
	mw.Close()
	resp, err := http.Post(api+"/v1/jobs", mw.FormDataContentType(), &body)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), data, err
}

// submitRetrying submits audio until the API accepts it with 202, waiting
// as Retry-After asks after each 503, and returns the job id and the number
// of 503 answers; on503 is called on each. Any other answer, a 503 without
// Retry-After, or the deadline passing is an error.
func submitRetrying(api, filename string, audio []byte, deadline time.Time,
	on503 func()) (string, int, error) {
	unavailable := 0
	for {
		status, retryAfter, data, err := postAudio(api, filename, audio)
		switch {
		case err != nil:
			return "", unavailable, fmt.Errorf("submit %s: %w", filename, err)
		case status == http.StatusAccepted:
			var j job
			if err := json.Unmarshal(data, &j); err != nil || j.ID == "" ||
				j.State != "queued" {
				return "", unavailable, fmt.Errorf("submit %s: 202 with %s", filename, data)
			}
			return j.ID, unavailable, nil
		case status != http.StatusServiceUnavailable:
			return "", unavailable, fmt.Errorf("submit %s: status %d: %s", filename, status,
				data)
		}
		unavailable++
		on503()
		seconds, err := strconv.Atoi(retryAfter)
		if err != nil || seconds < 1 {
			return "", unavailable, fmt.Errorf("submit %s: 503 with Retry-After %q",
				filename, retryAfter)
		}
		wait := time.Duration(seconds) * time.Second
		if time.Now().Add(wait).After(deadline) {
			return "", unavailable, fmt.Errorf("submit %s: still 503 at the deadline",
				filename)
		}
		time.Sleep(wait)
	}
}

// outageProbe reads one job through the API every 20 ms until stopped and
// records when the API answered 503 (from the sending of the first request
// answered 503 to the last such answer) and the longest wait for a 503.
// Any answer but 200 or 503 (a 404 would mean the job was lost) or a
// transport error is kept as a problem.
type outageProbe struct {
	mu           sync.Mutex
	first503     time.Time
	last503      time.Time
	count503     int
	slowest503   time.Duration
	problems     []string
	problemCount int
	stop, done   chan struct{}
}

// startOutageProbe starts probing the job id through api.
func startOutageProbe(api, id string) *outageProbe {
	p := &outageProbe{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			sent := time.Now()
			resp, err := http.Get(api + "/v1/jobs/" + id)
			now := time.Now()
			p.mu.Lock()
			switch {
			case err != nil:
				p.problem(err.Error())
			case resp.StatusCode == http.StatusServiceUnavailable:
				if p.count503 == 0 {
					p.first503 = sent
				}
				p.last503 = now
				p.count503++
				p.slowest503 = max(p.slowest503, now.Sub(sent))
			case resp.StatusCode != http.StatusOK:
				p.problem(fmt.Sprintf("GET job %s: status %d", id, resp.StatusCode))
			}
			p.mu.Unlock()
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
	return p
}

// problem records a problem, keeping the first few; p.mu must be held.
func (p *outageProbe) problem(text string) {
	p.problemCount++
	if len(p.problems) < 5 {
		p.problems = append(p.problems, text)
	}
}

// finish stops the probe and waits for it.
func (p *outageProbe) finish() {
	close(p.stop)
	<-p.done
}

// TestRedisRestartMidRunLosesNothing restarts an append-only Redis while
// jobs run and are being submitted. Every job the API accepted with 202
// must succeed, and no daemon may exit.
func TestRedisRestartMidRunLosesNothing(t *testing.T) {
	const (
		batch       = 25
		maxAttempts = 3
		lease       = 2 * time.Second // as writeChaosConfig sets it
	)
	opts := redistest.Options{AppendOnly: true}
	srv := redistest.StartT(t, opts)
	config := writeChaosConfig(t, srv.URL, "restart", maxAttempts)
	apiProc, api := startAPIDaemon(t, config)
	daemons := map[string]*daemon{"asr-api": apiProc}
	for _, name := range []string{"restart-1", "restart-2"} {
		daemons[name] = startDaemon(t, "asr-worker", config, "-instance", name)
	}

	start := time.Now()
	var accepted []string
	for i := range batch {
		accepted = append(accepted, submitJob(t, api, fmt.Sprintf("before-%02d.wav", i),
			jfkWAV))
	}
	// Take Redis down once a job runs.
	var states map[string]int
	for deadline := time.Now().Add(time.Minute); states["running"] == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("no job started within a minute: %v", states)
		}
		time.Sleep(20 * time.Millisecond)
		states = map[string]int{}
		for _, id := range accepted {
			states[getJob(t, api, id).State]++
		}
	}
	probe := startOutageProbe(api, accepted[0])
	srv.Kill()
	down := time.Now()
	t.Logf("redis down with jobs %v", states)

	// Submit the second batch from now on, through the outage.
	type submitted struct {
		ids         []string
		unavailable int
		err         error
	}
	first503 := make(chan struct{})
	var once sync.Once
	on503 := func() { once.Do(func() { close(first503) }) }
	second := make(chan submitted, 1)
	go func() {
		var res submitted
		defer func() { second <- res }()
		deadline := time.Now().Add(time.Minute)
		for i := range batch {
			id, n, err := submitRetrying(api, fmt.Sprintf("after-%02d.wav", i), jfkWAV,
				deadline, on503)
			res.unavailable += n
			if err != nil {
				res.err = err
				return
			}
			res.ids = append(res.ids, id)
		}
	}()

	// Keep Redis down until a submit was refused with 503, and for at
	// least a lease, so that the leases of the running jobs expire.
	select {
	case <-first503:
	case <-time.After(30 * time.Second):
		t.Errorf("no submit answered 503 within 30 s of Redis going down")
	}
	time.Sleep(time.Until(down.Add(lease)))
	if err := srv.Restart(opts); err != nil {
		t.Fatalf("restart redis: %v", err)
	}
	downtime := time.Since(down)
	res := <-second
	probe.finish()
	if res.err != nil {
		t.Fatal(res.err)
	}
	if probe.problemCount > 0 {
		t.Errorf("%d bad answers while probing a job through the outage, the first: %s",
			probe.problemCount, strings.Join(probe.problems, "; "))
	}
	accepted = append(accepted, res.ids...)
	window := "none seen"
	if probe.count503 > 0 {
		window = fmt.Sprintf("%v (%d probes, slowest 503 took %v)",
			probe.last503.Sub(probe.first503).Round(time.Millisecond), probe.count503,
			probe.slowest503.Round(time.Millisecond))
	}
	t.Logf("redis down for %v; GET answered 503 for %s; %d submits answered 503 "+
		"and were retried", downtime.Round(time.Millisecond), window, res.unavailable)

	final := awaitFinished(t, api, accepted, time.Now().Add(2*time.Minute))
	if len(final) != 2*batch {
		t.Fatalf("%d jobs seen, want %d", len(final), 2*batch)
	}
	reclaims := checkSucceeded(t, final, 11.0, maxAttempts)
	hist := map[int]int{}
	for _, j := range final {
		hist[j.Attempts]++
	}
	t.Logf("%d jobs succeeded; extra attempts %d, attempts histogram %s; wall time %v",
		len(final), reclaims, histogram(hist), time.Since(start).Round(time.Millisecond))
	for name, d := range daemons {
		if !d.running() {
			t.Errorf("%s exited: %v", name, d.err)
		}
	}
}
