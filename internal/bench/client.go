package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"time"
)

// newClient returns an HTTP client that keeps up to conns connections to
// one server open.
func newClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     time.Minute,
	}}
}

// field is one form field.
type field struct{ name, value string }

// form is a multipart/form-data body with the audio in the field "file".
type form struct {
	body        []byte
	contentType string
}

func newForm(audio []byte, fields ...field) (form, error) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range fields {
		if err := mw.WriteField(f.name, f.value); err != nil {
			return form{}, fmt.Errorf("bench: form: %w", err)
		}
	}
	fw, err := mw.CreateFormFile("file", "audio.wav")
	if err != nil {
		return form{}, fmt.Errorf("bench: form: %w", err)
	}
	fw.Write(audio)
	if err := mw.Close(); err != nil {
		return form{}, fmt.Errorf("bench: form: %w", err)
	}
	return form{body: b.Bytes(), contentType: mw.FormDataContentType()}, nil
}

// ErrHTTPStatus reports an HTTP answer with an unexpected status.
var ErrHTTPStatus = errors.New("bench: unexpected HTTP status")

// post sends f to url and returns the answer's body and headers; any
// status but want is an error.
func post(ctx context.Context, c *http.Client, url string, f form,
	want int) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(f.body))
	if err != nil {
		return nil, nil, fmt.Errorf("bench: %w", err)
	}
	req.Header.Set("Content-Type", f.contentType)
	return do(c, req, want)
}

func get(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	body, _, err := do(c, req, http.StatusOK)
	return body, err
}

func do(c *http.Client, req *http.Request, want int) ([]byte, http.Header, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: %s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != want {
		return nil, nil, fmt.Errorf("%w: %s %s: %d %s", ErrHTTPStatus, req.Method,
			req.URL.Path, resp.StatusCode, truncate(body, 200))
	}
	return body, resp.Header, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// jobState is what the benchmarks read from a job.
type jobState struct {
	ID         string     `json:"id"`
	State      string     `json:"state"`
	Attempts   int        `json:"attempts"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

func (j jobState) final() bool {
	return j.State == "succeeded" || j.State == "failed" || j.State == "canceled"
}

// submitJob queues f through POST /v1/jobs and returns the job's id.
func submitJob(ctx context.Context, c *http.Client, api string, f form) (string, error) {
	body, _, err := post(ctx, c, api+"/v1/jobs", f, http.StatusAccepted)
	if err != nil {
		return "", err
	}
	var j jobState
	if err := json.Unmarshal(body, &j); err != nil || j.ID == "" {
		return "", fmt.Errorf("bench: submit answered %q", truncate(body, 200))
	}
	return j.ID, nil
}

// getJob reads a job through GET /v1/jobs/{id}.
func getJob(ctx context.Context, c *http.Client, api, id string) (jobState, error) {
	body, err := get(ctx, c, api+"/v1/jobs/"+id)
	if err != nil {
		return jobState{}, err
	}
	var j jobState
	if err := json.Unmarshal(body, &j); err != nil {
		return jobState{}, fmt.Errorf("bench: job %s: %w", id, err)
	}
	return j, nil
}

// awaitJob polls a job every interval until it ends, and requires that it
// succeeded.
func awaitJob(ctx context.Context, c *http.Client, api, id string,
	interval time.Duration) (jobState, error) {
	for {
		j, err := getJob(ctx, c, api, id)
		if err != nil {
			return j, err
		}
		if j.final() {
			if j.State != "succeeded" {
				return j, fmt.Errorf("bench: job %s ended %s", id, j.State)
			}
			return j, nil
		}
		select {
		case <-ctx.Done():
			return j, fmt.Errorf("bench: waiting for job %s: %w", id, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// queueView is what GET /v1/queue says.
type queueView struct {
	Queued   int64 `json:"queued"`
	Retrying int64 `json:"retrying"`
	Running  int64 `json:"running"`
}

func getQueue(ctx context.Context, c *http.Client, api string) (queueView, error) {
	body, err := get(ctx, c, api+"/v1/queue")
	if err != nil {
		return queueView{}, err
	}
	var q queueView
	if err := json.Unmarshal(body, &q); err != nil {
		return queueView{}, fmt.Errorf("bench: queue: %w", err)
	}
	return q, nil
}
