// Package metrics exposes the fleet's figures to Prometheus.
//
// Every figure is read from Redis at scrape time: the queue's depth and
// live workers from the queue overview, the counts and histograms from the
// statistics that the queue's scripts keep as jobs change state, and each
// worker's own figures from its heartbeat. So every asr-api replica reports
// the same numbers, and the counts survive restarts of the API.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/asr-server/asr-server/internal/queue"
)

// Source is the part of the job store that the collector reads.
type Source interface {
	Overview(ctx context.Context) (*queue.Overview, error)
	Stats(ctx context.Context) (*queue.Stats, error)
}

// Collector is a prometheus.Collector that reads the fleet's figures from
// a Source on every scrape.
type Collector struct {
	src     Source
	log     *slog.Logger
	timeout time.Duration
	// Now is the clock ages are measured with; tests may replace it before
	// first use.
	Now func() time.Time
}

// NewCollector returns a Collector over src; one scrape's reads are
// bounded by timeout.
func NewCollector(src Source, log *slog.Logger, timeout time.Duration) *Collector {
	return &Collector{src: src, log: log, timeout: timeout, Now: time.Now}
}

// Handler returns the HTTP handler of a registry that holds only c. A
// scrape during which Redis cannot be read answers 500.
func Handler(c *Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(c.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.HTTPErrorOnError,
	})
}

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// The metrics; README.md's "Metrics" section lists them for operators.
var (
	queueJobs = newDesc("asr_queue_jobs",
		"Unfinished jobs: queued for a worker, retrying (waiting for the retry "+
			"time after a failed attempt) or running.", "state")
	oldestQueued = newDesc("asr_queue_oldest_queued_age_seconds",
		"How long the longest-waiting queued job has waited; 0 when none waits.")
	workers = newDesc("asr_workers",
		"Workers whose heartbeat is current.")
	deadLetters = newDesc("asr_dead_letters",
		"Failed jobs still kept, which can be queued again.")
	jobsFinished = newDesc("asr_jobs_finished_total",
		"Jobs that reached a final state (a job queued again after failing "+
			"counts again when it ends).", "state")
	attemptFailures = newDesc("asr_job_attempt_failures_total",
		"Failed attempts by error code; codes the product does not define "+
			"count as \"other\".", "code")
	audioSeconds = newDesc("asr_audio_transcribed_seconds_total",
		"Seconds of audio in succeeded jobs.")
	waitSeconds = newDesc("asr_job_wait_seconds",
		"Time from a job's creation to its first start by a worker.")
	runSeconds = newDesc("asr_job_run_seconds",
		"Time from a worker starting an attempt to the worker recording its "+
			"outcome, succeeded or failed.")
	realTimeFactor = newDesc("asr_job_real_time_factor",
		"Run time of a succeeded attempt divided by the duration of its audio.")
	workerJobs = newDesc("asr_worker_jobs_done_total",
		"Jobs the worker process completed successfully.", "instance")
	workerAudio = newDesc("asr_worker_audio_seconds_total",
		"Seconds of audio in the jobs the worker process completed.", "instance")
	workerBusy = newDesc("asr_worker_busy",
		"1 while the worker runs a job, else 0.", "instance")
	workerProgress = newDesc("asr_worker_job_progress_ratio",
		"Progress of the worker's current job, from 0 to 1; 0 when idle.", "instance")
	workerHeartbeat = newDesc("asr_worker_heartbeat_age_seconds",
		"Time since the worker's last heartbeat.", "instance")
)

var allDescs = []*prometheus.Desc{queueJobs, oldestQueued, workers, deadLetters,
	jobsFinished, attemptFailures, audioSeconds, waitSeconds, runSeconds, realTimeFactor,
	workerJobs, workerAudio, workerBusy, workerProgress, workerHeartbeat}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector. When Redis cannot be read it
// reports an invalid metric, which fails the scrape.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	o, err := c.src.Overview(ctx)
	if err != nil {
		c.fail(ch, queueJobs, err)
		return
	}
	st, err := c.src.Stats(ctx)
	if err != nil {
		c.fail(ch, jobsFinished, err)
		return
	}
	now := c.Now()
	c.collectQueue(ch, o, now)
	collectStats(ch, st)
	collectWorkers(ch, o.Workers, now)
}

func (c *Collector) fail(ch chan<- prometheus.Metric, d *prometheus.Desc, err error) {
	c.log.Warn("reading metrics from redis failed", "err", err)
	ch <- prometheus.NewInvalidMetric(d, fmt.Errorf("metrics: %w", err))
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func (c *Collector) collectQueue(ch chan<- prometheus.Metric, o *queue.Overview,
	now time.Time) {
	ch <- gauge(queueJobs, float64(o.Queued), "queued")
	ch <- gauge(queueJobs, float64(o.Retrying), "retrying")
	ch <- gauge(queueJobs, float64(o.Running), "running")
	age := 0.0
	if !o.OldestQueued.IsZero() {
		age = max(now.Sub(o.OldestQueued).Seconds(), 0)
	}
	ch <- gauge(oldestQueued, age)
	ch <- gauge(workers, float64(len(o.Workers)))
	ch <- gauge(deadLetters, float64(o.DeadLetters))
}

func collectStats(ch chan<- prometheus.Metric, st *queue.Stats) {
	for _, state := range []queue.State{queue.Succeeded, queue.Failed, queue.Canceled} {
		ch <- counter(jobsFinished, float64(st.Finished[state]), string(state))
	}
	for _, code := range queue.AttemptCodes() {
		ch <- counter(attemptFailures, float64(st.AttemptsFailed[code]), code)
	}
	ch <- counter(audioSeconds, st.AudioSeconds)
	for d, h := range map[*prometheus.Desc]queue.Histogram{waitSeconds: st.Wait,
		runSeconds: st.Run, realTimeFactor: st.RealTimeFactor} {
		ch <- prometheus.MustNewConstHistogram(d, h.Count, h.Sum, h.Buckets)
	}
}

func collectWorkers(ch chan<- prometheus.Metric, live []queue.WorkerStatus, now time.Time) {
	seen := make(map[string]bool, len(live))
	for _, w := range live {
		// A label value must be UTF-8; a worker's name is whatever its
		// operator chose. Two names that still end up the same would fail
		// the whole scrape: the second is left out.
		name := labelValue(w.Name)
		if seen[name] {
			continue
		}
		seen[name] = true
		busy, progress := 0.0, 0.0
		if w.Job != "" {
			busy, progress = 1, float64(min(max(w.Progress, 0), 100))/100
		}
		ch <- counter(workerJobs, float64(w.JobsDone), name)
		ch <- counter(workerAudio, w.AudioSeconds, name)
		ch <- gauge(workerBusy, busy, name)
		ch <- gauge(workerProgress, progress, name)
		ch <- gauge(workerHeartbeat, max(now.Sub(w.Seen).Seconds(), 0), name)
	}
}

// labelValue returns s as valid UTF-8, with each byte that is not part of
// a valid sequence written as \xNN.
func labelValue(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
