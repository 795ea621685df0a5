package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/asr-server/asr-server/internal/formats"
	"github.com/asr-server/asr-server/internal/queue"
)

// A waiting OpenAI-compatible request follows its job's event stream and
// answers as soon as the job's final state is appended to it. syncCheck
// bounds each blocking read of the stream: it is how often the request
// looks at the job itself while no event arrives (a safety net for a job
// whose events expired or that vanished), and how long a read outlives a
// client that went away. syncEvents is how many events one read takes.
const (
	syncCheck  = time.Second
	syncEvents = 100
)

// transcribe serves POST /v1/audio/transcriptions.
func (s *Server) transcribe(w http.ResponseWriter, r *http.Request) {
	s.submitAndWait(w, r, false, nil)
}

// translate serves POST /v1/audio/translations.
func (s *Server) translate(w http.ResponseWriter, r *http.Request) {
	s.submitAndWait(w, r, true, nil)
}

// inferenceFields maps whisper.cpp server's field names to ours.
var inferenceFields = map[string]string{
	"max_len":         "max_segment_length",
	"no_speech_thold": "no_speech_threshold",
	"vad_thold":       "vad_threshold",
}

// inference serves POST /inference, whisper.cpp server's endpoint, so that
// its clients can move over unchanged.
func (s *Server) inference(w http.ResponseWriter, r *http.Request) {
	s.submitAndWait(w, r, false, inferenceFields)
}

// submitAndWait queues a job as OpenAI's audio endpoints describe it and
// answers with its result in the requested format once it is done. Past
// the sync wait it answers 504 with the job's address; the job runs on.
func (s *Server) submitAndWait(w http.ResponseWriter, r *http.Request, translation bool,
	aliases map[string]string) {
	max := s.opts.MaxUploadBytes
	if s.opts.OpenAIMaxUploadBytes > 0 {
		max = s.opts.OpenAIMaxUploadBytes
	}
	up, aerr := s.readUpload(w, r, max)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	for from, to := range aliases {
		if v, ok := up.fields[from]; ok {
			up.fields[to] = v
		}
	}
	spec := up.spec
	var format formats.Format
	if spec.Options, format, aerr = parseOptions(up.fields, translation); aerr != nil {
		writeError(w, aerr)
		return
	}
	if spec.Options.WordTimestamps && format != formats.VerboseJSON {
		writeError(w, badRequest("invalid_timestamp_granularities",
			"timestamp_granularities[]",
			"timestamp granularities need response_format verbose_json"))
		return
	}
	key, aerr := idempotencyKey(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	spec.IdempotencyKey = key
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.OpTimeout)
	job, replayed, err := s.store.Submit(ctx, spec)
	cancel()
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	if !replayed {
		s.log.Info("job queued", "job_id", job.ID, "bytes", job.Size, "sync", true)
	}
	w.Header().Set("X-Job-Id", job.ID)
	// The job exists now: a client that sent the request again would queue
	// the same audio twice, so OpenAI's clients are told not to.
	w.Header().Set("X-Should-Retry", "false")

	job, err = s.waitFinal(r.Context(), job.ID)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		w.Header().Set("Location", jobPath(job.ID))
		writeError(w, &apiError{Status: http.StatusGatewayTimeout, Type: typeServer,
			Code: "sync_wait_exceeded",
			Message: fmt.Sprintf("the transcription is still running after %v; fetch it "+
				"later from %s/result (job %s)", s.opts.SyncWait, jobPath(job.ID), job.ID)})
		return
	case err != nil:
		// The client went away or the store failed; the job runs on.
		s.log.Info("stopped waiting for a job", "job_id", job.ID, "err", err)
		writeError(w, storeError(err))
		return
	}
	s.renderJob(w, job, format, formats.Options{})
}

// waitFinal waits until the job reaches a final state and returns it. It
// reads the job's events from the first on, so none can slip past between
// two reads, and fetches the job after its final event. Past the sync wait
// it returns context.DeadlineExceeded; when ctx ends, ctx's error.
func (s *Server) waitFinal(ctx context.Context, id string) (*queue.Job, error) {
	deadline := time.Now().Add(s.opts.SyncWait)
	pending := &queue.Job{ID: id}
	last := ""
	for {
		block := min(syncCheck, time.Until(deadline))
		events, err := s.store.WaitEvents(ctx, id, last, syncEvents, block)
		switch {
		case ctx.Err() != nil:
			return pending, ctx.Err()
		case err != nil:
			return pending, err
		}
		final := false
		for _, ev := range events {
			last = ev.ID
			final = final || isFinalEvent(ev)
		}
		if final || len(events) == 0 {
			job, err := s.getWithTimeout(ctx, id)
			switch {
			case err != nil:
				return pending, err
			case job.State.Final():
				return job, nil
			}
		}
		if !time.Now().Before(deadline) {
			return pending, context.DeadlineExceeded
		}
	}
}

// renderJob answers with a final job: its result in format, or its error.
func (s *Server) renderJob(w http.ResponseWriter, job *queue.Job, format formats.Format,
	opts formats.Options) {
	switch job.State {
	case queue.Succeeded:
	case queue.Failed:
		writeError(w, jobFailure(job))
		return
	default:
		writeError(w, &apiError{Status: http.StatusConflict, Type: typeInvalidRequest,
			Code:    "invalid_state",
			Message: fmt.Sprintf("job %s is %s and has no result", job.ID, job.State)})
		return
	}
	var body bytes.Buffer
	if err := formats.Render(&body, job.Result, format, opts); err != nil {
		s.log.Error("rendering a result failed", "job_id", job.ID, "err", err)
		writeError(w, &apiError{Status: http.StatusInternalServerError, Type: typeServer,
			Code: "render_failed", Message: "the result could not be rendered"})
		return
	}
	w.Header().Set("Content-Type", format.ContentType())
	w.WriteHeader(http.StatusOK)
	w.Write(body.Bytes())
}

// jobFailure turns a failed job into an error response: the client's
// fault (bad audio) is 400, anything else 500.
func jobFailure(job *queue.Job) *apiError {
	switch job.ErrorCode {
	case "invalid_audio", "unsupported_format", "audio_too_long":
		return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest,
			Code: job.ErrorCode, Param: optional("file"), Message: job.Error}
	case "invalid_language":
		return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest,
			Code: job.ErrorCode, Param: optional("language"), Message: job.Error}
	}
	return &apiError{Status: http.StatusInternalServerError, Type: typeServer,
		Code: "transcription_failed", Message: "transcription failed: " + job.Error}
}

// jobResult serves GET /v1/jobs/{id}/result?format=...; subtitle formats
// take max_line_width and max_lines_per_cue. A job without a result
// (queued, running, failed or canceled) answers 409.
func (s *Server) jobResult(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format := formats.JSON
	if v := q.Get("format"); v != "" {
		f, err := formats.Parse(v)
		if err != nil {
			writeError(w, badRequest("invalid_format", "format", err.Error()))
			return
		}
		format = f
	}
	var opts formats.Options
	for _, p := range []struct {
		name string
		dst  *int
	}{{"max_line_width", &opts.MaxLineWidth}, {"max_lines_per_cue", &opts.MaxLinesPerCue}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				writeError(w, badRequest("invalid_"+p.name, p.name,
					p.name+" must be a whole number from 1 to 1000"))
				return
			}
			*p.dst = n
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.OpTimeout)
	defer cancel()
	job, err := s.store.Get(ctx, chi.URLParam(r, "id"))
	if err != nil {
		writeError(w, storeError(err))
		return
	}
	if job.State == queue.Failed {
		writeError(w, &apiError{Status: http.StatusConflict, Type: typeInvalidRequest,
			Code:    "invalid_state",
			Message: fmt.Sprintf("job %s failed and has no result: %s", job.ID, job.Error)})
		return
	}
	s.renderJob(w, job, format, opts)
}

// models serves GET /v1/models, OpenAI's model list: "whisper-1", the
// name OpenAI clients send, and the configured model file's name. Both
// mean the model the workers have loaded.
func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	list := []model{{ID: "whisper-1", Object: "model", OwnedBy: "asr-server"}}
	if s.opts.ModelName != "" {
		list = append(list, model{ID: s.opts.ModelName, Object: "model", OwnedBy: "asr-server"})
	}
	writeJSON(w, http.StatusOK, struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{"list", list})
}
