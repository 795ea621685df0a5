// Package api is asr-api's HTTP interface: it validates uploads, stores
// jobs in the queue and reports their state and results. It never runs
// inference, and it keeps accepting jobs while no worker is running.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/asr-server/asr-server/internal/queue"
	"github.com/asr-server/asr-server/internal/webhook"
)

// Store is the part of the job store that the API uses.
type Store interface {
	Submit(ctx context.Context, spec queue.Spec) (job *queue.Job, replayed bool, err error)
	Get(ctx context.Context, id string) (*queue.Job, error)
	Cancel(ctx context.Context, id string) (queue.State, error)
	Requeue(ctx context.Context, id string) error
	DeadLetters(ctx context.Context, limit int64) ([]*queue.Job, error)
	List(ctx context.Context, f queue.Filter, limit int64) ([]*queue.Job, error)
	Overview(ctx context.Context) (*queue.Overview, error)
	Events(ctx context.Context, id, after string, count int64) ([]queue.Event, error)
	WaitEvents(ctx context.Context, id, after string, count int64,
		block time.Duration) ([]queue.Event, error)
	Ping(ctx context.Context) error
}

// Options configure a Server.
type Options struct {
	// MaxUploadBytes bounds one uploaded audio file; OpenAIMaxUploadBytes,
	// when positive, bounds it on the OpenAI-compatible endpoints.
	MaxUploadBytes       int64
	OpenAIMaxUploadBytes int64
	// OpTimeout bounds each call to the store, so that a hung Redis
	// turns into a quick 503 rather than a hanging request.
	OpTimeout time.Duration
	// SyncWait bounds how long the OpenAI-compatible endpoints wait.
	SyncWait time.Duration
	// Tokens, when any are set, are the bearer tokens /v1 requires.
	Tokens []string
	// ModelName is the configured model's file name, for /v1/models.
	ModelName string
	// Callbacks lists where a job's callback_url may point; nil refuses
	// every callback.
	Callbacks *webhook.AllowList
	// Metrics, when set, serves GET /metrics. Like /healthz it needs no
	// token: it shows counts, never a job or its content.
	Metrics http.Handler
}

// Server serves the HTTP API.
type Server struct {
	store  Store
	log    *slog.Logger
	opts   Options
	router chi.Router
}

// New returns a Server over store.
func New(store Store, log *slog.Logger, opts Options) *Server {
	s := &Server{store: store, log: log, opts: opts}
	r := chi.NewRouter()
	r.Use(s.recoverer, s.logRequests, jsonMethodNotAllowed, middleware.GetHead)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Type: typeNotFound,
			Code: "route_not_found", Message: "no such endpoint: " + r.URL.Path})
	})
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	if opts.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", opts.Metrics)
	}
	r.With(s.requireToken).Post("/inference", s.inference)
	r.Route("/v1", func(r chi.Router) {
		r.Use(s.requireToken)
		r.Route("/jobs", func(r chi.Router) {
			r.Post("/", s.submitJob)
			r.Get("/", s.listJobs)
			r.Get("/{id}", s.getJob)
			r.Delete("/{id}", s.cancelJob)
			r.Get("/{id}/result", s.jobResult)
			r.Get("/{id}/events", s.jobEvents)
			r.Post("/{id}/requeue", s.requeueJob)
		})
		r.Get("/dead-letters", s.deadLetters)
		r.Get("/queue", s.queueOverview)
		r.Get("/models", s.models)
		r.Post("/audio/transcriptions", s.transcribe)
		r.Post("/audio/translations", s.translate)
	})
	s.router = r
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.router.ServeHTTP(w, r)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when Redis answers, else 503.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.OpTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		writeError(w, unavailable())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// unavailable turns a store failure into a 503 that asks to retry. The
// cause stays in the server's log: clients need not see internal addresses.
func unavailable() *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Type: typeUnavailable,
		Code: "queue_unavailable", RetryAfter: 2,
		Message: "the job store is unavailable; retry shortly"}
}

// storeError maps an error of the store to a response.
func storeError(err error) *apiError {
	switch {
	case errors.Is(err, queue.ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Type: typeNotFound,
			Code: "job_not_found", Message: "no job with this id (it may have expired)"}
	case errors.Is(err, queue.ErrFull):
		return &apiError{Status: http.StatusTooManyRequests, Type: typeRateLimit,
			Code: "queue_full", RetryAfter: 5,
			Message: "the queue is full; retry later"}
	case errors.Is(err, queue.ErrFinal), errors.Is(err, queue.ErrNotFailed):
		return &apiError{Status: http.StatusConflict, Type: typeInvalidRequest,
			Code: "invalid_state", Message: strings.TrimPrefix(err.Error(), "queue: ")}
	case errors.Is(err, queue.ErrAudioExpired):
		return &apiError{Status: http.StatusGone, Type: typeInvalidRequest,
			Code:    "audio_expired",
			Message: "the job's audio has expired; submit the file again"}
	default:
		return unavailable()
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

// Unwrap lets http.ResponseController reach the connection, to flush.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		level := slog.LevelDebug
		if rec.status >= 500 {
			level = slog.LevelWarn
		}
		s.log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "duration_ms", time.Since(start).Milliseconds())
	})
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panic", "panic", v, "path", r.URL.Path)
				writeError(w, &apiError{Status: http.StatusInternalServerError,
					Type: typeServer, Code: "internal_error", Message: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// jsonMethodNotAllowed gives the router's 405 answers, which carry the
// Allow header, the JSON error body every other error has.
func jsonMethodNotAllowed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&notAllowedWriter{ResponseWriter: w, r: r}, r)
	})
}

type notAllowedWriter struct {
	http.ResponseWriter
	r        *http.Request
	replaced bool
}

func (w *notAllowedWriter) WriteHeader(status int) {
	if status == http.StatusMethodNotAllowed && w.Header().Get("Content-Type") == "" {
		w.replaced = true
		writeError(w.ResponseWriter, &apiError{Status: status, Type: typeInvalidRequest,
			Code:    "method_not_allowed",
			Message: "method " + w.r.Method + " is not allowed on " + w.r.URL.Path})
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the connection, to flush.
func (w *notAllowedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *notAllowedWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}
