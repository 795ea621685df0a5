package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/asr-server/asr-server/internal/metrics/metricstest"
)

func scrapeMetrics(t *testing.T, api string) *metricstest.Scrape {
	t.Helper()
	s, err := metricstest.Fetch(api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func checkMetrics(t *testing.T, when string, s *metricstest.Scrape, want map[string]float64) {
	t.Helper()
	for key, v := range want {
		if got, ok := s.Values[key]; !ok || got != v {
			t.Errorf("%s: %s = %v (present: %v), want %v", when, key, got, ok, v)
		}
	}
}

// TestMetricsCountTheFleetsJobs runs a known set of jobs through the real
// daemons and checks the exact figures of /metrics, from two API replicas.
func TestMetricsCountTheFleetsJobs(t *testing.T) {
	config := writeConfig(t, modelPath, "")
	api := startAPI(t, config)

	// Everything is queued before the worker starts, so the cancel finds
	// its job queued and the worker takes the others in order.
	good := []string{
		submitJob(t, api, "jfk.wav", jfkWAV),
		submitJob(t, api, "jfk.wav", jfkWAV),
		submitJob(t, api, "tone.wav", wavFile(16000, tone(16000, 2.5))),
	}
	const audioSeconds = 11 + 11 + 2.5
	bad := submitJob(t, api, "truncated.wav", wavFile(16000, tone(16000, 1))[:30])
	canceled := submitJob(t, api, "jfk.wav", jfkWAV)
	req, _ := http.NewRequest("DELETE", api+"/v1/jobs/"+canceled, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel: status %d", resp.StatusCode)
	}
	checkMetrics(t, "before any worker", scrapeMetrics(t, api), map[string]float64{
		`asr_queue_jobs{state="queued"}`:            4,
		`asr_queue_jobs{state="running"}`:           0,
		`asr_workers`:                               0,
		`asr_jobs_finished_total{state="canceled"}`: 1,
		`asr_job_wait_seconds_count`:                0,
	})

	const instance = "e2e-metrics"
	startDaemon(t, "asr-worker", config, "-instance", instance)
	for _, id := range good {
		if j := waitState(t, api, id, "succeeded", "failed"); j.State != "succeeded" {
			t.Fatalf("job %s: %+v", id, j)
		}
	}
	if j := waitState(t, api, bad, "succeeded", "failed"); j.State != "failed" ||
		j.Attempts != 1 || j.Error == nil || j.Error.Code != "invalid_audio" {
		t.Fatalf("undecodable job: %+v", j)
	}

	// The worker reports its own figures with its next heartbeat, which it
	// sends as soon as it is idle again.
	busy := `asr_worker_busy{instance="` + instance + `"}`
	done := `asr_worker_jobs_done_total{instance="` + instance + `"}`
	var s *metricstest.Scrape
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		s = scrapeMetrics(t, api)
		if s.Values[busy] == 0 && s.Values[done] == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker figures never settled: busy %v, jobs done %v", s.Values[busy],
				s.Values[done])
		}
	}
	checkMetrics(t, "after the jobs", s, map[string]float64{
		`asr_queue_jobs{state="queued"}`:                              0,
		`asr_queue_jobs{state="retrying"}`:                            0,
		`asr_queue_jobs{state="running"}`:                             0,
		`asr_queue_oldest_queued_age_seconds`:                         0,
		`asr_workers`:                                                 1,
		`asr_dead_letters`:                                            1,
		`asr_jobs_finished_total{state="succeeded"}`:                  3,
		`asr_jobs_finished_total{state="failed"}`:                     1,
		`asr_jobs_finished_total{state="canceled"}`:                   1,
		`asr_job_attempt_failures_total{code="invalid_audio"}`:        1,
		`asr_job_attempt_failures_total{code="worker_lost"}`:          0,
		`asr_job_attempt_failures_total{code="other"}`:                0,
		`asr_audio_transcribed_seconds_total`:                         audioSeconds,
		`asr_job_wait_seconds_count`:                                  4,
		`asr_job_wait_seconds_bucket{le="+Inf"}`:                      4,
		`asr_job_run_seconds_count`:                                   4,
		`asr_job_real_time_factor_count`:                              3,
		done:                                                          3,
		`asr_worker_audio_seconds_total{instance="` + instance + `"}`: audioSeconds,
		`asr_worker_job_progress_ratio{instance="` + instance + `"}`:  0,
	})
	age := s.Values[`asr_worker_heartbeat_age_seconds{instance="`+instance+`"}`]
	if age < 0 || age > 6 {
		t.Errorf("heartbeat age %v s, want within the heartbeat's 6 s lifetime", age)
	}
	if s.Values[`asr_job_run_seconds_sum`] <= 0 || s.Values[`asr_job_wait_seconds_sum`] <= 0 {
		t.Errorf("run time sum %v, wait sum %v: want both above 0",
			s.Values[`asr_job_run_seconds_sum`], s.Values[`asr_job_wait_seconds_sum`])
	}

	// A second API replica, started only now, reports the same figures:
	// they live in Redis, not in the process.
	other := scrapeMetrics(t, startAPI(t, config))
	first := scrapeMetrics(t, api)
	if len(other.Values) != len(first.Values) {
		t.Errorf("replicas report %d and %d samples", len(first.Values), len(other.Values))
	}
	for key, v := range first.Values {
		if strings.HasPrefix(key, "asr_worker_heartbeat_age_seconds") {
			continue
		}
		if other.Values[key] != v {
			t.Errorf("%s: %v on one replica, %v on the other", key, v, other.Values[key])
		}
	}
}
