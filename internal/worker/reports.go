package worker

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/asr-server/asr-server/internal/queue"
	"github.com/asr-server/asr-server/internal/transcript"
)

// Recording a job's progress: reportTimeout bounds recording one report,
// and maxPendingReports the reports waiting to be recorded.
const (
	reportTimeout     = 500 * time.Millisecond
	maxPendingReports = 256
)

// reports records a job's progress and segments in the queue from a
// goroutine of its own, in the order they came, so that transcription
// never waits for Redis. Reports are brief: one that cannot be recorded
// is skipped, not retried. A progress report still waiting when a newer
// one comes is replaced by it; segments all wait their turn, up to
// maxPendingReports, past which reports are skipped too.
type reports struct {
	w   *Worker
	ctx context.Context // the job's
	d   *queue.Delivery

	mu      sync.Mutex
	pending []report // guarded by mu
	closed  bool     // guarded by mu; no report comes any more
	wake    chan struct{}
	done    chan struct{} // closed when the goroutine has recorded all
}

// report is a progress report, or a segment when seg is set.
type report struct {
	percent int
	seg     *transcript.Segment
}

// startReports starts recording reports of d's job while ctx lasts.
func (w *Worker) startReports(ctx context.Context, d *queue.Delivery) *reports {
	r := &reports{w: w, ctx: ctx, d: d, wake: make(chan struct{}, 1),
		done: make(chan struct{})}
	go r.run()
	return r
}

func isProgress(rep report) bool { return rep.seg == nil }

// progress queues a progress report.
func (r *reports) progress(percent int) { r.add(report{percent: percent}) }

// segment queues a decoded segment.
func (r *reports) segment(seg transcript.Segment) { r.add(report{seg: &seg}) }

func (r *reports) add(rep report) {
	r.mu.Lock()
	n := len(r.pending)
	switch {
	case r.closed:
	case isProgress(rep) && n > 0 && isProgress(r.pending[n-1]):
		r.pending[n-1] = rep
	case n < maxPendingReports:
		r.pending = append(r.pending, rep)
	default:
		r.w.log.Debug("recording progress falls behind; report skipped",
			"job_id", r.d.Job.ID)
	}
	r.mu.Unlock()
	r.signal()
}

func (r *reports) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// flush waits until every queued report was recorded or skipped; once
// one fails after flush was called, those left are skipped, so that a
// queue that does not answer delays the job's outcome by little more than
// one report's timeout. With
// succeeded set, progress reports still waiting are dropped: the job's
// outcome, recorded next, sets its progress to 100. No report may be
// queued after flush.
func (r *reports) flush(succeeded bool) {
	r.mu.Lock()
	r.closed = true
	if succeeded {
		r.pending = slices.DeleteFunc(r.pending, isProgress)
	}
	r.mu.Unlock()
	r.signal()
	<-r.done
}

func (r *reports) run() {
	defer close(r.done)
	for {
		r.mu.Lock()
		if len(r.pending) == 0 {
			closed := r.closed
			r.mu.Unlock()
			if closed {
				return
			}
			<-r.wake
			continue
		}
		next := r.pending[0]
		r.pending = r.pending[1:]
		r.mu.Unlock()
		if err := r.record(next); err != nil {
			if r.ctx.Err() == nil {
				r.w.log.Debug("recording progress failed", "job_id", r.d.Job.ID,
					"err", err)
			}
			r.mu.Lock()
			if r.closed {
				r.pending = nil
			}
			r.mu.Unlock()
		}
	}
}

func (r *reports) record(rep report) error {
	ctx, cancel := context.WithTimeout(r.ctx, reportTimeout)
	defer cancel()
	if rep.seg != nil {
		return r.w.q.Segment(ctx, r.d, *rep.seg)
	}
	return r.w.q.Progress(ctx, r.d, rep.percent)
}
