package api

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// queueView is the JSON form of the queue overview.
type queueView struct {
	Queued   int64 `json:"queued"`
	Retrying int64 `json:"retrying"`
	Running  int64 `json:"running"`
	// DeadLetters counts failed jobs that can still be queued again.
	DeadLetters int64 `json:"dead_letters"`
	// OldestQueuedSeconds is how long the longest-waiting job has waited.
	OldestQueuedSeconds float64      `json:"oldest_queued_seconds"`
	Workers             []workerView `json:"workers"`
}

type workerView struct {
	Name             string    `json:"name"`
	Host             string    `json:"host"`
	PID              int       `json:"pid"`
	Job              *string   `json:"job"`
	JobsDone         int       `json:"jobs_done"`
	StartedAt        time.Time `json:"started_at"`
	HeartbeatAgeSecs float64   `json:"heartbeat_age_seconds"`
}

// queueOverview answers with the queue's depth and its live workers.
func (s *Server) queueOverview(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.OpTimeout)
	defer cancel()
	o, err := s.store.Overview(ctx)
	if err != nil {
		s.log.Warn("queue overview failed", "err", err)
		writeError(w, storeError(err))
		return
	}
	now := time.Now()
	v := queueView{Queued: o.Queued, Retrying: o.Retrying, Running: o.Running,
		DeadLetters: o.DeadLetters, Workers: make([]workerView, 0, len(o.Workers))}
	if !o.OldestQueued.IsZero() {
		v.OldestQueuedSeconds = roundSeconds(now.Sub(o.OldestQueued))
	}
	for _, wk := range o.Workers {
		v.Workers = append(v.Workers, workerView{Name: wk.Name, Host: wk.Host, PID: wk.PID,
			Job: optional(wk.Job), JobsDone: wk.JobsDone, StartedAt: wk.Started.UTC(),
			HeartbeatAgeSecs: roundSeconds(now.Sub(wk.Seen))})
	}
	writeJSON(w, http.StatusOK, v)
}

// deadLetters lists failed jobs, most recent first; ?limit=N (1 to 1000,
// default 100) bounds the list.
func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request) {
	limit := int64(100)
	if raw := r.URL.Query().Get("limit"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, badRequest("invalid_limit", "limit",
				"limit must be a whole number from 1 to 1000"))
			return
		}
		limit = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.OpTimeout)
	defer cancel()
	jobs, err := s.store.DeadLetters(ctx, limit)
	if err != nil {
		s.log.Warn("listing dead letters failed", "err", err)
		writeError(w, storeError(err))
		return
	}
	views := make([]jobView, len(jobs))
	for i, j := range jobs {
		views[i] = newJobView(j)
	}
	writeJSON(w, http.StatusOK, struct {
		Jobs []jobView `json:"jobs"`
	}{views})
}

func roundSeconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond).Milliseconds()) / 1000
}
