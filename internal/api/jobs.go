package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/asr-server/asr-server/internal/audio"
	"github.com/asr-server/asr-server/internal/queue"
)

// multipartSlack is what a multipart body may carry besides the file:
// boundaries, part headers and small form fields.
const multipartSlack = 1 << 20

// submitJob accepts audio as a multipart form (field "file") or as the raw
// request body, queues a job for it and answers 202 with the job.
func (s *Server) submitJob(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		writeError(w, badRequest("invalid_idempotency_key", "Idempotency-Key",
			fmt.Sprintf("the Idempotency-Key header is longer than %d bytes",
				maxIdempotencyKey)))
		return
	}
	spec, aerr := s.readUpload(w, r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	spec.IdempotencyKey = key
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

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 255

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

// readUpload reads and checks the uploaded audio.
func (s *Server) readUpload(w http.ResponseWriter, r *http.Request) (queue.Spec, *apiError) {
	max := s.opts.MaxUploadBytes
	mediaType, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	multipartForm := mediaType == "multipart/form-data"
	limit := max
	if multipartForm {
		limit += multipartSlack
	}
	// A declared length over the limit is refused before any of the body
	// is read (and before a client waiting on "Expect: 100-continue" sends).
	if r.ContentLength > limit {
		return queue.Spec{}, tooLarge(max)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	hint := r.ContentLength
	var spec queue.Spec
	var aerr *apiError
	if multipartForm {
		spec, aerr = readMultipart(r.Body, params["boundary"], max, hint)
	} else {
		spec.ContentType = mediaType
		spec.Audio, aerr = readLimited(r.Body, max, hint)
	}
	if aerr != nil {
		return spec, aerr
	}
	if len(spec.Audio) == 0 {
		return spec, badRequest("empty_file", "file", "the uploaded audio file is empty")
	}
	format, err := audio.Sniff(spec.Audio)
	if err != nil {
		return spec, &apiError{Status: http.StatusUnsupportedMediaType,
			Type: typeInvalidRequest, Code: "unsupported_format", Param: optional("file"),
			Message: "the upload is not an audio file in a known format " +
				"(wav, mp3, ogg, opus, flac, m4a, webm, ...)"}
	}
	s.log.Debug("upload sniffed", "format", format.String(), "bytes", len(spec.Audio))
	return spec, nil
}

// readMultipart finds the "file" part of a multipart form; hint is the
// body's declared length, or -1.
func readMultipart(body io.Reader, boundary string, max, hint int64) (queue.Spec,
	*apiError) {
	var spec queue.Spec
	if boundary == "" {
		return spec, badRequest("invalid_multipart", "", "multipart body without a boundary")
	}
	mr := multipart.NewReader(body, boundary)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return spec, badRequest("missing_file", "file",
				`the multipart form has no "file" field with the audio`)
		}
		if err != nil {
			return spec, bodyError(err, max)
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		spec.Filename = cleanFilename(part.FileName())
		spec.ContentType = part.Header.Get("Content-Type")
		var aerr *apiError
		spec.Audio, aerr = readLimited(part, max, hint)
		return spec, aerr
	}
}

// readLimited reads r whole, failing with 413 past max bytes. A positive
// hint, the expected size, saves growing the buffer step by step.
func readLimited(r io.Reader, max, hint int64) ([]byte, *apiError) {
	var buf bytes.Buffer
	if hint > 0 {
		buf.Grow(int(min(hint, max+1)))
	}
	n, err := io.Copy(&buf, io.LimitReader(r, max+1))
	if err != nil {
		return nil, bodyError(err, max)
	}
	if n > max {
		return nil, tooLarge(max)
	}
	return buf.Bytes(), nil
}

func bodyError(err error, max int64) *apiError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(max)
	}
	return badRequest("invalid_body", "", "reading the request body failed: "+err.Error())
}

func tooLarge(max int64) *apiError {
	return &apiError{Status: http.StatusRequestEntityTooLarge, Type: typeInvalidRequest,
		Code: "file_too_large", Param: optional("file"),
		Message: fmt.Sprintf("the audio file exceeds the limit of %d bytes", max)}
}

// maxFilenameBytes bounds the stored name of an uploaded file.
const maxFilenameBytes = 255

// cleanFilename keeps the last element of a client's file name (clients
// may send a whole path, with either kind of slash), without control
// characters and at most maxFilenameBytes long.
func cleanFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	for len(name) > maxFilenameBytes {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "." || name == ".." {
		return ""
	}
	return name
}

func jobPath(id string) string { return "/v1/jobs/" + id }
