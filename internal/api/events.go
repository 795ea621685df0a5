package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/asr-server/asr-server/internal/queue"
)

// Pacing of an event stream: how often it looks for new events, how often
// it checks the job when there are none, and how often it sends a comment
// so that proxies keep an idle connection open.
const (
	eventPoll      = 200 * time.Millisecond
	eventJobCheck  = 2 * time.Second
	eventKeepAlive = 15 * time.Second
)

// jobEvents streams a job's events as Server-Sent Events: "state",
// "progress" and "segment", each with its id so that a client can resume
// with Last-Event-ID (or ?last_event_id=). The stream ends after the job's
// final state.
func (s *Server) jobEvents(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id")
	}
	if last != "" && !queue.ValidEventID(last) {
		writeError(w, badRequest("invalid_last_event_id", "Last-Event-ID",
			"Last-Event-ID must be an event id from this stream"))
		return
	}
	if _, err := s.getWithTimeout(r.Context(), id); err != nil {
		writeError(w, storeError(err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()

	ctx := r.Context()
	lastCheck, lastWrite := time.Now(), time.Now()
	for {
		opCtx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
		events, err := s.store.Events(opCtx, id, last, 100)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("reading job events failed", "job_id", id, "err", err)
			}
			return
		}
		final := false
		for _, ev := range events {
			fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, ev.Data)
			last = ev.ID
			final = final || isFinalEvent(ev)
		}
		switch {
		case len(events) > 0:
			rc.Flush()
			lastWrite = time.Now()
		case time.Since(lastWrite) > eventKeepAlive:
			fmt.Fprint(w, ": keep-alive\n\n")
			rc.Flush()
			lastWrite = time.Now()
		}
		if final {
			return
		}
		if len(events) == 0 && time.Since(lastCheck) > eventJobCheck {
			// A job whose events expired, or that vanished, ends the stream.
			lastCheck = time.Now()
			job, err := s.getWithTimeout(ctx, id)
			if err != nil || job.State.Final() {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(eventPoll):
		}
	}
}

func isFinalEvent(ev queue.Event) bool {
	if ev.Type != "state" {
		return false
	}
	var st struct {
		State queue.State `json:"state"`
	}
	return json.Unmarshal(ev.Data, &st) == nil && st.State.Final()
}

func (s *Server) getWithTimeout(ctx context.Context, id string) (*queue.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	return s.store.Get(ctx, id)
}
