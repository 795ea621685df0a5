package queue

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/asr-server/asr-server/internal/transcript"
)

// State is where a job is in its life.
type State string

// The states of a job. Queued and Running are live; the others are final.
const (
	Queued    State = "queued"
	Running   State = "running"
	Succeeded State = "succeeded"
	Failed    State = "failed"
	Canceled  State = "canceled"
)

// Final reports whether no further transition can leave s.
func (s State) Final() bool {
	return s == Succeeded || s == Failed || s == Canceled
}

// Spec is what a client submits.
type Spec struct {
	Audio       []byte
	Filename    string
	ContentType string
	// IdempotencyKey, when set, makes a repeated submit with the same key
	// return the first job instead of queueing another.
	IdempotencyKey string
	// Options are the client's decoding choices.
	Options transcript.Options
	// Callback, when set, is the URL told of the job's end.
	Callback string
}

// Job is the stored record of one transcription request.
type Job struct {
	ID          string
	State       State
	Attempts    int
	Worker      string
	Filename    string
	ContentType string
	Size        int64
	Options     transcript.Options
	Callback    string
	Created     time.Time
	Started     time.Time // zero until a worker first takes the job
	Finished    time.Time // zero until the job reaches a final state
	// Error is the last failure's reason; ErrorCode classifies it.
	Error     string
	ErrorCode string
	// Result is set once the job succeeded.
	Result *transcript.Result
	// History holds every failed attempt, oldest first.
	History []Attempt
	// RetryAt is when a job waiting after a failed attempt is queued
	// again; zero otherwise.
	RetryAt time.Time
	// Progress is the running or last attempt's progress in percent.
	Progress int
	// Position is the number of jobs ahead of a queued job plus one, or 0
	// when the job is not waiting in the queue. It is approximate when
	// jobs were handed back or reclaimed.
	Position int64
}

// Attempt is one failed attempt of a job.
type Attempt struct {
	Attempt int    `json:"attempt"`
	Worker  string `json:"worker"`
	Error   string `json:"error"`
	Code    string `json:"code"`
	AtMS    int64  `json:"at"`
}

// newID returns a random job id.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("queue: job id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// ValidID reports whether s has the shape of a job id, so that arbitrary
// client input never becomes part of a Redis key.
func ValidID(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// Fields of the job hash.
const (
	fState       = "state"
	fAttempts    = "attempts"
	fWorker      = "worker"
	fFilename    = "filename"
	fContentType = "content_type"
	fSize        = "size"
	fCreated     = "created_ms"
	fStarted     = "started_ms"
	fFinished    = "finished_ms"
	fError       = "error"
	fErrorCode   = "error_code"
	fResult      = "result"
	fEntry       = "entry"
	fSeq         = "seq"
	fHistory     = "history"
	fRetry       = "retry_ms"
	fOptions     = "options"
	fProgress    = "progress"
	fCallback    = "callback"
)

func jobFromHash(id string, h map[string]string) (*Job, error) {
	j := &Job{
		ID:          id,
		State:       State(h[fState]),
		Worker:      h[fWorker],
		Filename:    h[fFilename],
		ContentType: h[fContentType],
		Error:       h[fError],
		ErrorCode:   h[fErrorCode],
		Callback:    h[fCallback],
	}
	j.Attempts, _ = strconv.Atoi(h[fAttempts])
	j.Size, _ = strconv.ParseInt(h[fSize], 10, 64)
	j.Progress, _ = strconv.Atoi(h[fProgress])
	j.Created = msTime(h[fCreated])
	j.Started = msTime(h[fStarted])
	j.Finished = msTime(h[fFinished])
	j.RetryAt = msTime(h[fRetry])
	if raw := h[fHistory]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &j.History); err != nil {
			return nil, fmt.Errorf("queue: job %s: stored history: %w", id, err)
		}
	}
	if raw := h[fOptions]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &j.Options); err != nil {
			return nil, fmt.Errorf("queue: job %s: stored options: %w", id, err)
		}
	}
	if r := h[fResult]; r != "" {
		j.Result = new(transcript.Result)
		if err := json.Unmarshal([]byte(r), j.Result); err != nil {
			return nil, fmt.Errorf("queue: job %s: stored result: %w", id, err)
		}
	}
	return j, nil
}

// fromHash decodes a job's hash. A job waiting in the stream gets its
// estimated Position from startedSeq, the highest sequence number that a
// worker started.
func fromHash(id string, h map[string]string, startedSeq string) (*Job, error) {
	job, err := jobFromHash(id, h)
	if err != nil {
		return nil, err
	}
	if job.State == Queued && h[fEntry] != "" {
		seq, _ := strconv.ParseInt(h[fSeq], 10, 64)
		started, _ := strconv.ParseInt(startedSeq, 10, 64)
		job.Position = max(seq-started, 1)
	}
	return job, nil
}

func msTime(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
