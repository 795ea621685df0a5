package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The states of a job.
const (
	Queued    = "queued"
	Running   = "running"
	Succeeded = "succeeded"
	Failed    = "failed"
	Canceled  = "canceled"
)

// Final reports whether a job in state can no longer change.
func Final(state string) bool {
	return state == Succeeded || state == Failed || state == Canceled
}

// Job is a job as the API shows it.
type Job struct {
	ID         string     `json:"id"`
	State      string     `json:"state"`
	Attempts   int        `json:"attempts"`
	Progress   int        `json:"progress"`
	File       File       `json:"file"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	// Position is the place of a queued job in the queue, 1 for the next.
	Position *int64     `json:"position"`
	RetryAt  *time.Time `json:"retry_at"`
	Error    *JobError  `json:"error"`
	History  []Attempt  `json:"history"`
	Result   *Result    `json:"result"`
	// Raw is the job's JSON as the API sent it.
	Raw json.RawMessage `json:"-"`
}

// File describes a job's uploaded audio.
type File struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Bytes       int64  `json:"bytes"`
}

// JobError is the last failure of a job.
type JobError struct {
	Message string `json:"message"`
	Code    string `json:"code"`
}

// Attempt is one failed attempt of a job.
type Attempt struct {
	Attempt int       `json:"attempt"`
	Worker  string    `json:"worker"`
	Error   string    `json:"error"`
	Code    string    `json:"code"`
	At      time.Time `json:"at"`
}

// Result is the part of a transcription result that the client reads;
// GET /v1/jobs/{id}/result renders the whole of it.
type Result struct {
	Text     string    `json:"text"`
	Language string    `json:"language"`
	Duration float64   `json:"duration"`
	Model    string    `json:"model"`
	Segments []Segment `json:"segments"`
}

// Segment is one segment of a result.
type Segment struct {
	ID    int     `json:"id"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Text  string  `json:"text"`
}

// Decoding holds a job's decoding options. Zero values are left out of
// the request, so the service's defaults apply.
type Decoding struct {
	Language          string
	Prompt            string
	Temperature       float64
	Translate         bool
	WordTimestamps    bool
	BeamSize          int
	BestOf            int
	NoSpeechThreshold float64
	MaxSegmentLength  int
	SplitOnWord       bool
	// VAD, when not nil, switches voice activity detection on or off.
	VAD          *bool
	VADThreshold float64
	// CallbackURL asks the service to POST the job's outcome there.
	CallbackURL string
}

// Fields returns the options as the API's form fields.
func (d Decoding) Fields() url.Values {
	v := url.Values{}
	set := func(name, value string, ok bool) {
		if ok {
			v.Set(name, value)
		}
	}
	float := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	set("language", d.Language, d.Language != "")
	set("prompt", d.Prompt, d.Prompt != "")
	set("temperature", float(d.Temperature), d.Temperature != 0)
	set("translate", "true", d.Translate)
	set("timestamp_granularities[]", "word", d.WordTimestamps)
	set("beam_size", strconv.Itoa(d.BeamSize), d.BeamSize != 0)
	set("best_of", strconv.Itoa(d.BestOf), d.BestOf != 0)
	set("no_speech_threshold", float(d.NoSpeechThreshold), d.NoSpeechThreshold != 0)
	set("max_segment_length", strconv.Itoa(d.MaxSegmentLength), d.MaxSegmentLength != 0)
	set("split_on_word", "true", d.SplitOnWord)
	if d.VAD != nil {
		v.Set("vad", strconv.FormatBool(*d.VAD))
	}
	set("vad_threshold", float(d.VADThreshold), d.VADThreshold != 0)
	set("callback_url", d.CallbackURL, d.CallbackURL != "")
	return v
}

// Upload is one audio file to submit.
type Upload struct {
	// Name is the file name the service records.
	Name string
	// Body yields exactly Size bytes of audio.
	Body io.Reader
	Size int64
	// Options are the decoding options.
	Options Decoding
	// IdempotencyKey, when set, makes a repeated submit return the first
	// job instead of queueing another.
	IdempotencyKey string
	// Sent, when not nil, is called with the number of audio bytes read
	// for sending so far, as they are read.
	Sent func(n int64)
}

// Submit uploads the audio as a multipart form to POST /v1/jobs and
// returns the queued job. The request has a known length, so that the
// service can refuse an oversized upload before it is sent.
func (c *Client) Submit(ctx context.Context, up Upload) (*Job, error) {
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	for name, values := range up.Options.Fields() {
		for _, value := range values {
			if err := mw.WriteField(name, value); err != nil {
				return nil, fmt.Errorf("client: submit %s: %w", up.Name, err)
			}
		}
	}
	if _, err := mw.CreateFormFile("file", up.Name); err != nil {
		return nil, fmt.Errorf("client: submit %s: %w", up.Name, err)
	}
	split := head.Len()
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("client: submit %s: %w", up.Name, err)
	}
	prefix, suffix := head.Bytes()[:split], head.Bytes()[split:]
	audio := &countingReader{r: io.LimitReader(up.Body, up.Size), report: up.Sent}
	body := io.MultiReader(bytes.NewReader(prefix), audio, bytes.NewReader(suffix))

	req, err := c.newRequest(ctx, http.MethodPost, "/v1/jobs", nil, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(prefix)) + up.Size + int64(len(suffix))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if up.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", up.IdempotencyKey)
	}
	resp, err := c.send(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if audio.n != up.Size {
		return nil, fmt.Errorf("client: submit %s: sent %d of %d bytes", up.Name, audio.n,
			up.Size)
	}
	return decodeJob(resp.Body, "POST /v1/jobs")
}

// countingReader reports how much has been read through it.
type countingReader struct {
	r      io.Reader
	n      int64
	report func(int64)
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	if n > 0 && r.report != nil {
		r.report(r.n)
	}
	return n, err
}

func decodeJob(r io.Reader, what string) (*Job, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("client: %s: read answer: %w", what, err)
	}
	var j Job
	if err := json.Unmarshal(body, &j); err != nil {
		return nil, fmt.Errorf("client: %s: decode answer: %w", what, err)
	}
	j.Raw = body
	return &j, nil
}

// jobPath returns the path of a job, escaping the id.
func jobPath(id string) string { return "/v1/jobs/" + url.PathEscape(id) }

// Job returns the job with the given id.
func (c *Client) Job(ctx context.Context, id string) (*Job, error) {
	var j Job
	if err := c.call(ctx, http.MethodGet, jobPath(id), nil, &j, &j.Raw); err != nil {
		return nil, err
	}
	return &j, nil
}

// Cancel cancels a queued or running job and returns it. A job that
// already ended is an *APIError with status 409.
func (c *Client) Cancel(ctx context.Context, id string) (*Job, error) {
	var j Job
	if err := c.call(ctx, http.MethodDelete, jobPath(id), nil, &j, &j.Raw); err != nil {
		return nil, err
	}
	return &j, nil
}

// Requeue queues a failed job again and returns it.
func (c *Client) Requeue(ctx context.Context, id string) (*Job, error) {
	var j Job
	err := c.call(ctx, http.MethodPost, jobPath(id)+"/requeue", nil, &j, &j.Raw)
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// DeadLetters returns up to limit failed jobs, the most recent first.
func (c *Client) DeadLetters(ctx context.Context, limit int) ([]Job, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	return c.jobList(ctx, "/v1/dead-letters", q)
}

// Retrying names, for Jobs, the queued jobs that wait for their retry
// time after a failed attempt.
const Retrying = "retrying"

// Jobs returns up to limit jobs (1 to 1000) in state, or in any state
// when state is "": queued ones in queue order, running ones in the order
// they were queued, those waiting for a retry (state Retrying) the next
// due first, ended ones the most recently ended first, and all of them
// the most recently created first. Listed jobs carry no Result.
func (c *Client) Jobs(ctx context.Context, state string, limit int) ([]Job, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if state != "" {
		q.Set("state", state)
	}
	return c.jobList(ctx, "/v1/jobs", q)
}

// jobList reads a {"jobs": [...]} answer.
func (c *Client) jobList(ctx context.Context, path string, q url.Values) ([]Job, error) {
	var out struct {
		Jobs []json.RawMessage `json:"jobs"`
	}
	if err := c.call(ctx, http.MethodGet, path, q, &out, nil); err != nil {
		return nil, err
	}
	jobs := make([]Job, len(out.Jobs))
	for i, raw := range out.Jobs {
		if err := json.Unmarshal(raw, &jobs[i]); err != nil {
			return nil, fmt.Errorf("client: GET %s: decode job: %w", path, err)
		}
		jobs[i].Raw = raw
	}
	return jobs, nil
}

// ResultOptions shape a rendered result.
type ResultOptions struct {
	// MaxLineWidth and MaxLinesPerCue shape subtitle cues; 0 leaves the
	// service's default.
	MaxLineWidth   int
	MaxLinesPerCue int
}

// Result returns a succeeded job's result rendered in format (json, text,
// srt, vtt or verbose_json), byte for byte as the service sends it.
func (c *Client) Result(ctx context.Context, id, format string, opts ResultOptions) ([]byte,
	error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	q := url.Values{"format": {format}}
	if opts.MaxLineWidth > 0 {
		q.Set("max_line_width", strconv.Itoa(opts.MaxLineWidth))
	}
	if opts.MaxLinesPerCue > 0 {
		q.Set("max_lines_per_cue", strconv.Itoa(opts.MaxLinesPerCue))
	}
	req, err := c.newRequest(ctx, http.MethodGet, jobPath(id)+"/result", q, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("client: result of job %s: %w", id, err)
	}
	return body, nil
}

// Queue is the queue overview.
type Queue struct {
	Queued   int64 `json:"queued"`
	Retrying int64 `json:"retrying"`
	Running  int64 `json:"running"`
	// DeadLetters counts failed jobs that can still be queued again.
	DeadLetters         int64    `json:"dead_letters"`
	OldestQueuedSeconds float64  `json:"oldest_queued_seconds"`
	Workers             []Worker `json:"workers"`
	// Raw is the overview's JSON as the API sent it.
	Raw json.RawMessage `json:"-"`
}

// Worker is a live worker.
type Worker struct {
	Name string `json:"name"`
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// Job is the id of the job the worker runs, or nil.
	Job                 *string   `json:"job"`
	JobsDone            int       `json:"jobs_done"`
	StartedAt           time.Time `json:"started_at"`
	HeartbeatAgeSeconds float64   `json:"heartbeat_age_seconds"`
}

// Queue returns the queue overview.
func (c *Client) Queue(ctx context.Context) (*Queue, error) {
	var q Queue
	if err := c.call(ctx, http.MethodGet, "/v1/queue", nil, &q, &q.Raw); err != nil {
		return nil, err
	}
	return &q, nil
}
