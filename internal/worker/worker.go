// Package worker is asr-worker's main loop: take a job from the queue,
// decode its audio, transcribe it and store the result, one job at a time.
//
// While a job runs, a lease keeper renews the job's lease in the queue.
// When the worker is asked to stop, the current job may run on for the
// stop budget; past it, transcription is aborted and the job handed back
// to the queue for another worker, without spending an attempt.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync/atomic"
	"time"

	"github.com/asr-server/asr-server/internal/audio"
	"github.com/asr-server/asr-server/internal/queue"
	"github.com/asr-server/asr-server/internal/transcript"
)

// Queue is the part of the job queue a worker uses.
type Queue interface {
	Register(ctx context.Context, consumer string) error
	Take(ctx context.Context, consumer string, block time.Duration) (*queue.Delivery, error)
	Renew(ctx context.Context, d *queue.Delivery) error
	Finish(ctx context.Context, d *queue.Delivery, r *transcript.Result) error
	Fail(ctx context.Context, d *queue.Delivery, reason, code string,
		retryable bool) (queue.Result, error)
	Release(ctx context.Context, d *queue.Delivery) error
	Get(ctx context.Context, id string) (*queue.Job, error)
	Progress(ctx context.Context, d *queue.Delivery, percent int) error
	Segment(ctx context.Context, d *queue.Delivery, seg transcript.Segment) error
	Heartbeat(ctx context.Context, st queue.WorkerStatus, ttl time.Duration) error
	Leave(ctx context.Context, name string) error
}

// TranscribeFunc turns 16 kHz mono samples into a transcript with the
// job's options, calling progress with a percentage now and then and
// segment with each segment as it is decoded. It must return promptly
// once ctx is done.
type TranscribeFunc func(ctx context.Context, samples []float32, opts transcript.Options,
	progress func(percent int), segment func(transcript.Segment)) (transcript.Result, error)

// DecodeFunc turns an uploaded file into 16 kHz mono samples.
type DecodeFunc func(ctx context.Context, data []byte) ([]float32, error)

// Notifier tells the service manager about the worker's state; every
// method may be a no-op.
type Notifier interface {
	Ready()
	Status(text string)
	Stopping()
}

// Options configure a Worker.
type Options struct {
	// Name identifies the worker in the queue and in logs.
	Name string
	// Lease is the queue's lease; the worker renews at a third of it.
	Lease time.Duration
	// StopTimeout is how long a job may run on after a stop request.
	StopTimeout time.Duration
	// JobTimeout bounds one attempt of a job; past it the job fails.
	JobTimeout time.Duration
	// PollInterval bounds how long one wait for a job blocks, and so how
	// quickly an idle worker notices a stop request.
	PollInterval time.Duration
	// Callbacks, if set, tells jobs' callback URLs that they ended.
	Callbacks *Callbacks
	// Classify names a transcription error's code and says whether it is
	// the input's fault, so that retrying cannot help (code "" means
	// "transcription_failed"). Decoding errors are the input's fault
	// unless the decoder itself failed.
	Classify func(error) (code string, permanent bool)
}

// Worker runs jobs from a queue.
type Worker struct {
	q          Queue
	decode     DecodeFunc
	transcribe TranscribeFunc
	notify     Notifier
	log        *slog.Logger
	opts       Options

	started  time.Time
	current  atomic.Pointer[string] // id of the running job, nil when idle
	done     atomic.Int64           // jobs finished
	activity atomic.Uint64          // steps taken by Run's goroutine; see Activity
	// audioBits holds the seconds of audio of the jobs done, as float64
	// bits; only Run's goroutine writes it.
	audioBits atomic.Uint64
	progress  atomic.Int64 // the running job's progress in percent
	// beat asks the heartbeat loop for a report now, when the worker
	// turns busy or idle.
	beat chan struct{}
}

// Activity is a count that grows whenever the worker's main loop goes
// round or its current job takes a step (decoded, a progress report, a
// segment, a try at storing the outcome). Background goroutines such as
// the lease keeper do not add to it, so a watchdog that sees it stand
// still knows that the main loop is stuck, or busy in a step that reports
// progress elsewhere, such as the engine's computation.
func (w *Worker) Activity() uint64 { return w.activity.Load() }

// Heartbeats: how often a worker reports itself, and how long the report
// lives without a successor.
const (
	heartbeatInterval = 2 * time.Second
	heartbeatTTL      = 3 * heartbeatInterval
)

// maxRenewInterval bounds the time between lease renewals, and so how long
// a worker runs on after its job was canceled.
const maxRenewInterval = time.Second

// New returns a Worker. log should already carry the worker's name.
func New(q Queue, decode DecodeFunc, transcribe TranscribeFunc, notify Notifier,
	log *slog.Logger, opts Options) *Worker {
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.Classify == nil {
		opts.Classify = func(error) (string, bool) { return "", false }
	}
	if opts.JobTimeout <= 0 {
		opts.JobTimeout = 24 * time.Hour
	}
	return &Worker{q: q, decode: decode, transcribe: transcribe, notify: notify,
		log: log, opts: opts, beat: make(chan struct{}, 1)}
}

// Causes of a job's cancellation.
var (
	errStopBudget = errors.New("worker: stop budget exceeded")
	errJobTimeout = errors.New("worker: job run-time limit exceeded")
)

// Run registers the worker and processes jobs until ctx is done. It
// returns nil after a clean stop: the current job, if any, was finished
// or handed back.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.register(ctx); err != nil {
		return err
	}
	w.started = time.Now()
	beatCtx, stopBeats := context.WithCancel(context.Background())
	beatsDone := make(chan struct{})
	go func() { defer close(beatsDone); w.heartbeats(beatCtx) }()
	defer func() {
		stopBeats()
		<-beatsDone
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		w.q.Leave(ctx, w.opts.Name)
	}()
	w.notify.Ready()
	w.setIdle()
	w.log.Info("worker ready")
	var backoff retryBackoff
	for ctx.Err() == nil {
		w.activity.Add(1)
		d, err := w.q.Take(ctx, w.opts.Name, w.opts.PollInterval)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			backoff.fail(w.log, "taking a job failed", err)
			sleep(ctx, backoff.delay())
			continue
		}
		backoff.recovered(w.log, "queue reachable again")
		if d == nil {
			continue
		}
		w.process(ctx, d)
		w.setIdle()
	}
	w.notify.Stopping()
	w.log.Info("worker stopped", "jobs_done", w.done.Load())
	return nil
}

// heartbeats reports the worker to the queue until ctx ends: every
// heartbeatInterval, and at once when the worker turns busy or idle.
func (w *Worker) heartbeats(ctx context.Context) {
	host, _ := os.Hostname()
	tick := time.NewTicker(heartbeatInterval)
	defer tick.Stop()
	for {
		if err := w.q.Heartbeat(ctx, w.status(host), heartbeatTTL); err != nil &&
			ctx.Err() == nil {
			w.log.Debug("heartbeat failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-w.beat:
		}
	}
}

// status is what the worker reports about itself now.
func (w *Worker) status(host string) queue.WorkerStatus {
	st := queue.WorkerStatus{Name: w.opts.Name, Host: host, PID: os.Getpid(),
		JobsDone: int(w.done.Load()), AudioSeconds: w.audioSeconds(), Started: w.started}
	if job := w.current.Load(); job != nil {
		st.Job = *job
		st.Progress = int(w.progress.Load())
	}
	return st
}

// kick asks the heartbeat loop for a report now.
func (w *Worker) kick() {
	select {
	case w.beat <- struct{}{}:
	default:
	}
}

func (w *Worker) audioSeconds() float64 { return math.Float64frombits(w.audioBits.Load()) }

// jobDone counts a job that succeeded with the given seconds of audio.
func (w *Worker) jobDone(seconds float64) {
	w.done.Add(1)
	if seconds > 0 && !math.IsInf(seconds, 0) {
		w.audioBits.Store(math.Float64bits(w.audioSeconds() + seconds))
	}
}

// register retries until the queue accepts the worker or ctx ends.
func (w *Worker) register(ctx context.Context) error {
	var backoff retryBackoff
	for {
		w.activity.Add(1)
		err := w.q.Register(ctx, w.opts.Name)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("worker: register %s: %w", w.opts.Name, err)
		}
		w.notify.Status("waiting for Redis: " + err.Error())
		backoff.fail(w.log, "registering with the queue failed", err)
		sleep(ctx, backoff.delay())
	}
}

func (w *Worker) setIdle() {
	w.current.Store(nil)
	w.progress.Store(0)
	w.kick()
	w.notify.Status(fmt.Sprintf("idle; %d jobs done", w.done.Load()))
}

// process runs one delivery to its end: finished, failed, handed back, or
// abandoned because another worker took it over.
func (w *Worker) process(stop context.Context, d *queue.Delivery) {
	log := w.log.With("job_id", d.Job.ID, "attempt", d.Attempt)
	w.progress.Store(0)
	w.current.Store(&d.Job.ID)
	w.kick()
	w.notify.Status(fmt.Sprintf("job %s attempt %d; %d jobs done", d.Job.ID, d.Attempt,
		w.done.Load()))
	log.Info("job started", "bytes", len(d.Audio))
	start := time.Now()

	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	timer := time.AfterFunc(w.opts.JobTimeout, func() { cancel(errJobTimeout) })
	defer timer.Stop()
	keeperDone := make(chan struct{})
	go func() {
		defer close(keeperDone)
		w.keepLease(stop, ctx, cancel, d, log)
	}()
	res, err := w.run(ctx, d)
	cause := context.Cause(ctx)
	cancel(nil)
	<-keeperDone

	w.settle(d, log, res, err, cause, time.Since(start))
}

// run decodes and transcribes; the returned error says which step failed.
func (w *Worker) run(ctx context.Context, d *queue.Delivery) (*transcript.Result, error) {
	samples, err := w.decode(ctx, d.Audio)
	w.activity.Add(1)
	if err != nil {
		permanent := ctx.Err() == nil && !errors.Is(err, audio.ErrDecoder)
		return nil, &stepError{step: "decode", err: err, permanent: permanent}
	}
	reports := w.startReports(ctx, d)
	lastPercent := -1
	progress := func(percent int) {
		w.activity.Add(1)
		if percent != lastPercent {
			lastPercent = percent
			w.progress.Store(int64(percent))
			reports.progress(percent)
		}
	}
	segment := func(seg transcript.Segment) {
		w.activity.Add(1)
		reports.segment(seg)
	}
	res, err := w.transcribe(ctx, samples, d.Job.Options, progress, segment)
	// The job's outcome is recorded after its last report.
	reports.flush(err == nil)
	if err != nil {
		code, permanent := w.opts.Classify(err)
		return nil, &stepError{step: "transcribe", err: err, errCode: code,
			permanent: permanent && ctx.Err() == nil}
	}
	return &res, nil
}

// stepError is a failed step of a job.
type stepError struct {
	step      string
	err       error
	errCode   string
	permanent bool
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// code classifies a failure for clients.
func (e *stepError) code() string {
	switch {
	case e.errCode != "":
		return e.errCode
	case e.step == "decode" && errors.Is(e.err, audio.ErrDecoder):
		return "decoder_failed"
	case e.step == "decode" && errors.Is(e.err, audio.ErrUnsupported):
		return "unsupported_format"
	case e.step == "decode" && errors.Is(e.err, audio.ErrTooLong):
		return "audio_too_long"
	case e.step == "decode":
		return "invalid_audio"
	case e.permanent:
		return "invalid_audio"
	default:
		return "transcription_failed"
	}
}

// keepLease renews d's lease until job ends. It cancels the job when the
// lease is lost, or when a stop was requested and the budget ran out.
func (w *Worker) keepLease(stop, job context.Context, cancel context.CancelCauseFunc,
	d *queue.Delivery, log *slog.Logger) {
	tick := time.NewTicker(min(w.opts.Lease/3, maxRenewInterval))
	defer tick.Stop()
	stopRequested := stop.Done()
	var budget <-chan time.Time
	var failures retryBackoff
	for {
		select {
		case <-job.Done():
			return
		case <-stopRequested:
			stopRequested = nil
			log.Info("stop requested; finishing the current job",
				"budget_s", w.opts.StopTimeout.Seconds())
			timer := time.NewTimer(w.opts.StopTimeout)
			defer timer.Stop()
			budget = timer.C
		case <-budget:
			cancel(errStopBudget)
			return
		case <-tick.C:
			err := w.q.Renew(job, d)
			switch {
			case errors.Is(err, queue.ErrLost):
				cancel(queue.ErrLost)
				return
			case err != nil && job.Err() == nil:
				failures.fail(log, "renewing the lease failed", err)
			case err == nil:
				failures.recovered(log, "lease renewed again")
			}
		}
	}
}

// settle records the outcome of a job in the queue.
func (w *Worker) settle(d *queue.Delivery, log *slog.Logger, res *transcript.Result,
	err, cause error, elapsed time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.Lease)
	defer cancel()
	var recordErr error
	switch {
	case errors.Is(cause, queue.ErrLost):
		recordErr = queue.ErrLost
	case errors.Is(cause, errJobTimeout):
		reason := fmt.Sprintf("the job ran longer than the limit of %v", w.opts.JobTimeout)
		recordErr = w.retry(ctx, log, "record failure", func() error {
			_, err := w.q.Fail(ctx, d, reason, "job_timeout", false)
			return err
		})
		if recordErr == nil {
			log.Warn("job failed: run-time limit exceeded",
				"limit_s", w.opts.JobTimeout.Seconds())
			w.callback(ctx, d)
		}
	case errors.Is(cause, errStopBudget):
		recordErr = w.retry(ctx, log, "hand back", func() error { return w.q.Release(ctx, d) })
		if recordErr == nil {
			log.Info("job handed back to the queue")
		}
	case err == nil:
		recordErr = w.retry(ctx, log, "store result",
			func() error { return w.q.Finish(ctx, d, res) })
		if recordErr == nil {
			w.jobDone(res.Duration)
			log.Info("job succeeded", "audio_s", res.Duration,
				"elapsed_s", elapsed.Seconds(), "rtf", elapsed.Seconds()/res.Duration,
				"segments", len(res.Segments))
			w.callback(ctx, d)
		}
	default:
		var se *stepError
		errors.As(err, &se)
		var outcome queue.Result
		recordErr = w.retry(ctx, log, "record failure", func() error {
			var ferr error
			outcome, ferr = w.q.Fail(ctx, d, err.Error(), se.code(), !se.permanent)
			return ferr
		})
		if recordErr == nil {
			log.Warn("job attempt failed", "err", err, "outcome", string(outcome))
			if outcome == queue.EndFailed {
				w.callback(ctx, d)
			}
		}
	}
	if errors.Is(recordErr, queue.ErrLost) {
		w.logLost(ctx, log, d)
	}
}

// callback tells the job's callback URL, if any, how the job ended.
func (w *Worker) callback(ctx context.Context, d *queue.Delivery) {
	if w.opts.Callbacks == nil || d.Job.Callback == "" {
		return
	}
	job, err := w.q.Get(ctx, d.Job.ID)
	if err != nil {
		w.log.Warn("reading a finished job for its callback failed", "job_id", d.Job.ID,
			"err", err)
		return
	}
	w.opts.Callbacks.Send(job)
}

// logLost says why the worker no longer owns d: a client canceled the job,
// or another worker took it over after the lease lapsed.
func (w *Worker) logLost(ctx context.Context, log *slog.Logger, d *queue.Delivery) {
	if j, err := w.q.Get(ctx, d.Job.ID); err == nil && j.State == queue.Canceled {
		log.Info("job canceled; stopped working on it")
		return
	}
	log.Warn("job taken over by another worker; this attempt's outcome is dropped")
}

// retry runs op until it succeeds, the lease is lost or ctx ends, and
// returns op's last error: nil, queue.ErrLost, or the error it gave up on.
func (w *Worker) retry(ctx context.Context, log *slog.Logger, what string,
	op func() error) error {
	var backoff retryBackoff
	for {
		w.activity.Add(1)
		err := op()
		switch {
		case err == nil, errors.Is(err, queue.ErrLost):
			return err
		case ctx.Err() != nil:
			log.Error("giving up on the queue; the job's lease will expire and "+
				"another worker will run it", "op", what, "err", err)
			return err
		}
		backoff.fail(log, what+" failed", err)
		sleep(ctx, backoff.delay())
	}
}
