package metrics

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/asr-server/asr-server/internal/metrics/metricstest"
	"github.com/asr-server/asr-server/internal/queue"
	"github.com/asr-server/asr-server/internal/redistest"
	"github.com/asr-server/asr-server/internal/transcript"
)

var redisURL string

func TestMain(m *testing.M) {
	redistest.Main(m, func(url string) { redisURL = url })
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

var prefixes int

// newStore returns a store with its own key prefix whose clock reads *now.
func newStore(t *testing.T, now *time.Time) *queue.Store {
	t.Helper()
	prefixes++
	return openStore(t, fmt.Sprintf("m%d", prefixes), now)
}

// openStore returns a store over a connection of its own.
func openStore(t *testing.T, prefix string, now *time.Time) *queue.Store {
	t.Helper()
	rdb, err := queue.Dial(redisURL, time.Second, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	s := queue.New(rdb, queue.Options{Prefix: prefix,
		Lease: time.Minute, MaxAttempts: 3, MaxQueued: 100, ResultTTL: time.Hour})
	s.Now = func() time.Time { return *now }
	if err := s.Register(context.Background(), "w1"); err != nil {
		t.Fatal(err)
	}
	return s
}

// scrape serves c as asr-api does and parses one scrape.
func scrape(t *testing.T, c *Collector) *metricstest.Scrape {
	t.Helper()
	srv := httptest.NewServer(Handler(c))
	defer srv.Close()
	s, err := metricstest.Fetch(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func submit(t *testing.T, s *queue.Store) *queue.Job {
	t.Helper()
	j, _, err := s.Submit(context.Background(), queue.Spec{Audio: []byte("RIFF")})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func take(t *testing.T, s *queue.Store, id string) *queue.Delivery {
	t.Helper()
	d, err := s.Take(context.Background(), "w1", 10*time.Millisecond)
	if err != nil || d == nil || d.Job.ID != id {
		t.Fatalf("take: %+v, %v; want job %s", d, err, id)
	}
	return d
}

func check(t *testing.T, got *metricstest.Scrape, want map[string]float64) {
	t.Helper()
	for key, v := range want {
		if g, ok := got.Values[key]; !ok || g != v {
			t.Errorf("%s = %v (present: %v), want %v", key, g, ok, v)
		}
	}
}

// TestFleetFigures runs jobs through the queue on a settable clock and
// checks every figure of one scrape.
func TestFleetFigures(t *testing.T) {
	ctx := context.Background()
	t0 := time.UnixMilli(1_700_000_000_000)
	now := t0
	s := newStore(t, &now)
	a, b, c, d := submit(t, s), submit(t, s), submit(t, s), submit(t, s)

	// a waits 1.5 s, runs 2 s over 4 s of audio and succeeds.
	now = t0.Add(1500 * time.Millisecond)
	da := take(t, s, a.ID)
	now = t0.Add(3500 * time.Millisecond)
	if err := s.Finish(ctx, da, &transcript.Result{Text: "a", Duration: 4}); err != nil {
		t.Fatal(err)
	}
	// b waits 3.5 s, runs 0.25 s and fails for good.
	db := take(t, s, b.ID)
	now = t0.Add(3750 * time.Millisecond)
	if _, err := s.Fail(ctx, db, "broken", "invalid_audio", false); err != nil {
		t.Fatal(err)
	}
	// c waits 3.75 s, runs 1 s and fails with a code the product does not
	// define; it waits to be retried.
	dc := take(t, s, c.ID)
	now = t0.Add(4750 * time.Millisecond)
	if res, err := s.Fail(ctx, dc, "odd", "engine_exploded", true); res != queue.Retrying ||
		err != nil {
		t.Fatalf("fail c: %v %v", res, err)
	}
	if _, err := s.Cancel(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	idle := queue.WorkerStatus{Name: "w1", JobsDone: 1, AudioSeconds: 4, Started: t0}
	busy := queue.WorkerStatus{Name: "w2", Job: c.ID, Progress: 40, Started: t0}
	for _, st := range []queue.WorkerStatus{idle, busy} {
		if err := s.Heartbeat(ctx, st, time.Minute); err != nil {
			t.Fatal(err)
		}
	}

	col := NewCollector(s, discard, time.Second)
	col.Now = func() time.Time { return now.Add(2500 * time.Millisecond) }
	got := scrape(t, col)
	check(t, got, map[string]float64{
		`asr_queue_jobs{state="queued"}`:                        0,
		`asr_queue_jobs{state="retrying"}`:                      1,
		`asr_queue_jobs{state="running"}`:                       0,
		`asr_queue_oldest_queued_age_seconds`:                   0,
		`asr_workers`:                                           2,
		`asr_dead_letters`:                                      1,
		`asr_jobs_finished_total{state="succeeded"}`:            1,
		`asr_jobs_finished_total{state="failed"}`:               1,
		`asr_jobs_finished_total{state="canceled"}`:             1,
		`asr_job_attempt_failures_total{code="invalid_audio"}`:  1,
		`asr_job_attempt_failures_total{code="other"}`:          1,
		`asr_job_attempt_failures_total{code="worker_lost"}`:    0,
		`asr_audio_transcribed_seconds_total`:                   4,
		`asr_job_wait_seconds_count`:                            3,
		`asr_job_wait_seconds_sum`:                              8.75,
		`asr_job_wait_seconds_bucket{le="1"}`:                   0,
		`asr_job_wait_seconds_bucket{le="2.5"}`:                 1,
		`asr_job_wait_seconds_bucket{le="5"}`:                   3,
		`asr_job_wait_seconds_bucket{le="+Inf"}`:                3,
		`asr_job_run_seconds_count`:                             3,
		`asr_job_run_seconds_sum`:                               3.25,
		`asr_job_run_seconds_bucket{le="0.5"}`:                  1,
		`asr_job_run_seconds_bucket{le="1"}`:                    2,
		`asr_job_run_seconds_bucket{le="2.5"}`:                  3,
		`asr_job_real_time_factor_count`:                        1,
		`asr_job_real_time_factor_sum`:                          0.5,
		`asr_job_real_time_factor_bucket{le="0.3"}`:             0,
		`asr_job_real_time_factor_bucket{le="0.5"}`:             1,
		`asr_worker_jobs_done_total{instance="w1"}`:             1,
		`asr_worker_audio_seconds_total{instance="w1"}`:         4,
		`asr_worker_busy{instance="w1"}`:                        0,
		`asr_worker_job_progress_ratio{instance="w1"}`:          0,
		`asr_worker_heartbeat_age_seconds{instance="w1"}`:       2.5,
		`asr_worker_jobs_done_total{instance="w2"}`:             0,
		`asr_worker_busy{instance="w2"}`:                        1,
		`asr_worker_job_progress_ratio{instance="w2"}`:          0.4,
		`asr_worker_heartbeat_age_seconds{instance="w2"}`:       2.5,
		`asr_job_attempt_failures_total{code="decoder_failed"}`: 0,
	})
	// Every state and code is present, and nothing unlisted: 3 queue
	// gauges, 3 more gauges, 3 states, the codes, audio, three histograms
	// (buckets, +Inf, sum, count) and 5 figures per worker.
	codes := len(queue.AttemptCodes())
	samples := 3 + 3 + 3 + codes + 1 + (11 + 3) + (12 + 3) + (10 + 3) + 2*5
	if len(got.Values) != samples {
		t.Errorf("%d samples, want %d: %v", len(got.Values), samples, got.Values)
	}
	if codes != 9 {
		t.Errorf("%d attempt codes, want the 8 known ones and other", codes)
	}
}

// TestMetricTypes checks the name and type of every metric family.
func TestMetricTypes(t *testing.T) {
	now := time.Now()
	s := newStore(t, &now)
	if err := s.Heartbeat(context.Background(), queue.WorkerStatus{Name: "w1"},
		time.Minute); err != nil {
		t.Fatal(err)
	}
	got := scrape(t, NewCollector(s, discard, time.Second))
	counter, gauge, hist := dto.MetricType_COUNTER, dto.MetricType_GAUGE,
		dto.MetricType_HISTOGRAM
	want := map[string]dto.MetricType{
		"asr_queue_jobs":                      gauge,
		"asr_queue_oldest_queued_age_seconds": gauge,
		"asr_workers":                         gauge,
		"asr_dead_letters":                    gauge,
		"asr_jobs_finished_total":             counter,
		"asr_job_attempt_failures_total":      counter,
		"asr_audio_transcribed_seconds_total": counter,
		"asr_job_wait_seconds":                hist,
		"asr_job_run_seconds":                 hist,
		"asr_job_real_time_factor":            hist,
		"asr_worker_jobs_done_total":          counter,
		"asr_worker_audio_seconds_total":      counter,
		"asr_worker_busy":                     gauge,
		"asr_worker_job_progress_ratio":       gauge,
		"asr_worker_heartbeat_age_seconds":    gauge,
	}
	if len(got.Types) != len(want) {
		t.Errorf("%d families, want %d: %v", len(got.Types), len(want), got.Types)
	}
	for name, kind := range want {
		if k, ok := got.Types[name]; !ok || k != kind {
			t.Errorf("%s: type %v (present: %v), want %v", name, k, ok, kind)
		}
	}
}

// TestReplicasAgreeAndWorkersLeave checks that two collectors with their
// own connections report the same counts, and that a worker that left is
// no longer reported.
func TestReplicasAgreeAndWorkersLeave(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	s := newStore(t, &now)
	j := submit(t, s)
	if err := s.Finish(ctx, take(t, s, j.ID), &transcript.Result{Duration: 2.5}); err != nil {
		t.Fatal(err)
	}
	if err := s.Heartbeat(ctx, queue.WorkerStatus{Name: "w1", JobsDone: 1},
		time.Minute); err != nil {
		t.Fatal(err)
	}
	first := scrape(t, NewCollector(s, discard, time.Second))
	other := openStore(t, fmt.Sprintf("m%d", prefixes), &now)
	second := scrape(t, NewCollector(other, discard, time.Second))
	for _, key := range []string{`asr_jobs_finished_total{state="succeeded"}`,
		`asr_audio_transcribed_seconds_total`, `asr_job_run_seconds_count`,
		`asr_worker_jobs_done_total{instance="w1"}`} {
		if first.Values[key] != second.Values[key] || second.Values[key] == 0 {
			t.Errorf("%s: %v and %v", key, first.Values[key], second.Values[key])
		}
	}
	if v := second.Values[`asr_audio_transcribed_seconds_total`]; v != 2.5 {
		t.Errorf("audio seconds %v, want 2.5", v)
	}
	if err := s.Leave(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	after := scrape(t, NewCollector(other, discard, time.Second))
	if after.Values[`asr_workers`] != 0 {
		t.Errorf("asr_workers = %v after the worker left", after.Values[`asr_workers`])
	}
	if _, ok := after.Values[`asr_worker_busy{instance="w1"}`]; ok {
		t.Errorf("a worker that left is still reported")
	}
}

// TestRedisDownFailsTheScrape checks that a scrape that cannot read Redis
// answers 500 rather than zeros.
func TestRedisDownFailsTheScrape(t *testing.T) {
	srv := redistest.StartT(t, redistest.Options{})
	rdb, err := queue.Dial(srv.URL, 200*time.Millisecond, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	s := queue.New(rdb, queue.Options{Prefix: "down", ResultTTL: time.Hour})
	srv.Kill()
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	h := httptest.NewServer(Handler(NewCollector(s, log, time.Second)))
	defer h.Close()
	resp, err := http.Get(h.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status %d, want 500: %s", resp.StatusCode, body)
	}
	if !bytes.Contains(logged.Bytes(), []byte("reading metrics from redis failed")) {
		t.Errorf("log does not report the failure: %s", logged.String())
	}
}

// TestWorkerNamesThatCollide: names that differ only in bytes that are
// not UTF-8, or that equal another name once those are escaped, must not
// fail the scrape.
func TestWorkerNamesThatCollide(t *testing.T) {
	now := time.Now()
	s := newStore(t, &now)
	for _, n := range []string{"w\xff", "w\xfe", `w\xfe`} {
		st := queue.WorkerStatus{Name: n, Host: "h", PID: 1, Started: now}
		if err := s.Heartbeat(context.Background(), st, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	c := NewCollector(s, discard, 5*time.Second)
	c.Now = func() time.Time { return now }
	srv := httptest.NewServer(Handler(c))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d:\n%s", resp.StatusCode, body)
	}
	for _, want := range []string{`asr_worker_busy{instance="w\\xff"} 0`,
		`asr_worker_busy{instance="w\\xfe"} 0`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("scrape lacks %s:\n%s", want, body)
		}
	}
	if n := bytes.Count(body, []byte("asr_worker_busy{")); n != 2 {
		t.Errorf("%d worker series, want 2", n)
	}
}
