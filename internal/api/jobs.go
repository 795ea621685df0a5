package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/asr-server/asr-server/internal/queue"
)

// submitJob accepts audio as a multipart form (field "file") or as the raw
// request body, queues a job for it and answers 202 with the job.
func (s *Server) submitJob(w http.ResponseWriter, r *http.Request) {
	key, aerr := idempotencyKey(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	up, aerr := s.readUpload(w, r, s.opts.MaxUploadBytes)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	spec := up.spec
	spec.IdempotencyKey = key
	if spec.Options, _, aerr = parseOptions(up.fields, false); aerr != nil {
		writeError(w, aerr)
		return
	}
	if spec.Callback, aerr = s.callback(up.fields.Get("callback_url")); aerr != nil {
		writeError(w, aerr)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.OpTimeout)
	defer cancel()
	job, replayed, err := s.store.Submit(ctx, spec)
	if err != nil {
		if !errors.Is(err, queue.ErrFull) {
			s.log.Warn("submit failed", "err", err)
		}
		writeError(w, storeError(err))
		return
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	} else {
		s.log.Info("job queued", "job_id", job.ID, "bytes", job.Size,
			"filename", job.Filename)
	}
	w.Header().Set("Location", jobPath(job.ID))
	writeJSON(w, http.StatusAccepted, newJobView(job))
}

// callback checks a job's callback URL against the allow-list.
func (s *Server) callback(url string) (string, *apiError) {
	if url == "" {
		return "", nil
	}
	if s.opts.Callbacks == nil {
		return "", badRequest("callbacks_disabled", "callback_url",
			"this server sends no callbacks (webhook.allow is empty)")
	}
	if err := s.opts.Callbacks.Check(url); err != nil {
		return "", badRequest("callback_not_allowed", "callback_url",
			strings.TrimPrefix(err.Error(), "webhook: "))
	}
	return url, nil
}

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 255

// idempotencyKey returns the request's Idempotency-Key, or "".
func idempotencyKey(r *http.Request) (string, *apiError) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		return "", badRequest("invalid_idempotency_key", "Idempotency-Key",
			fmt.Sprintf("the Idempotency-Key header is longer than %d bytes",
				maxIdempotencyKey))
	}
	return key, nil
}

// cancelJob cancels a queued or running job and answers with it.
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.OpTimeout)
	defer cancel()
	id := chi.URLParam(r, "id")
	prev, err := s.store.Cancel(ctx, id)
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	s.log.Info("job canceled", "job_id", id, "was", string(prev))
	s.writeJob(ctx, w, id, http.StatusOK)
}

// requeueJob queues a failed job again.
func (s *Server) requeueJob(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.OpTimeout)
	defer cancel()
	id := chi.URLParam(r, "id")
	if err := s.store.Requeue(ctx, id); err != nil {
		writeError(w, storeError(err))
		return
	}
	s.log.Info("job queued again", "job_id", id)
	s.writeJob(ctx, w, id, http.StatusAccepted)
}

// writeJob answers with the current state of a job.
func (s *Server) writeJob(ctx context.Context, w http.ResponseWriter, id string, status int) {
	job, err := s.store.Get(ctx, id)
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	writeJSON(w, status, newJobView(job))
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.OpTimeout)
	defer cancel()
	job, err := s.store.Get(ctx, chi.URLParam(r, "id"))
	if err != nil {
		if !errors.Is(err, queue.ErrNotFound) {
			s.log.Warn("get job failed", "err", err)
		}
		writeError(w, storeError(err))
		return
	}
	writeJSON(w, http.StatusOK, newJobView(job))
}

func jobPath(id string) string { return "/v1/jobs/" + id }
