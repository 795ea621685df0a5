package api

import (
	"time"

	"github.com/asr-server/asr-server/internal/queue"
	"github.com/asr-server/asr-server/internal/transcript"
)

// jobView is the JSON form of a job.
type jobView struct {
	ID         string             `json:"id"`
	State      queue.State        `json:"state"`
	Attempts   int                `json:"attempts"`
	Progress   int                `json:"progress"`
	File       fileView           `json:"file"`
	Options    transcript.Options `json:"options"`
	Callback   string             `json:"callback_url,omitempty"`
	CreatedAt  time.Time          `json:"created_at"`
	StartedAt  *time.Time         `json:"started_at"`
	FinishedAt *time.Time         `json:"finished_at"`
	Position   *int64             `json:"position,omitempty"`
	RetryAt    *time.Time         `json:"retry_at,omitempty"`
	Error      *jobErrorView      `json:"error"`
	History    []attemptView      `json:"history"`
	Result     *transcript.Result `json:"result"`
	Links      map[string]string  `json:"links"`
}

// attemptView is one failed attempt in a job's history.
type attemptView struct {
	Attempt int       `json:"attempt"`
	Worker  string    `json:"worker"`
	Error   string    `json:"error"`
	Code    string    `json:"code"`
	At      time.Time `json:"at"`
}

type fileView struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Bytes       int64  `json:"bytes"`
}

type jobErrorView struct {
	Message string `json:"message"`
	Code    string `json:"code"`
}

func newJobView(j *queue.Job) jobView {
	v := jobView{
		ID:        j.ID,
		State:     j.State,
		Attempts:  j.Attempts,
		Progress:  j.Progress,
		File:      fileView{Name: j.Filename, ContentType: j.ContentType, Bytes: j.Size},
		Options:   j.Options,
		Callback:  j.Callback,
		CreatedAt: j.Created.UTC(),
		Result:    j.Result,
		Links:     map[string]string{"self": jobPath(j.ID)},
	}
	v.StartedAt = optionalTime(j.Started)
	v.FinishedAt = optionalTime(j.Finished)
	if j.State == queue.Queued {
		v.RetryAt = optionalTime(j.RetryAt)
	}
	if j.Position > 0 {
		v.Position = &j.Position
	}
	v.History = make([]attemptView, len(j.History))
	for i, a := range j.History {
		v.History[i] = attemptView{Attempt: a.Attempt, Worker: a.Worker, Error: a.Error,
			Code: a.Code, At: time.UnixMilli(a.AtMS).UTC()}
	}
	if j.Error != "" {
		v.Error = &jobErrorView{Message: j.Error, Code: j.ErrorCode}
	}
	return v
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
