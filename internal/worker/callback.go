package worker

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/asr-server/asr-server/internal/queue"
	"github.com/asr-server/asr-server/internal/transcript"
	"github.com/asr-server/asr-server/internal/webhook"
)

// Callbacks tells jobs' callback URLs that they ended. Deliveries run in
// the background, each with its own retries, so a slow receiver never
// holds up the next job.
type Callbacks struct {
	sender *webhook.Sender
	log    *slog.Logger
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// NewCallbacks returns Callbacks that deliver with sender.
func NewCallbacks(sender *webhook.Sender, log *slog.Logger) *Callbacks {
	ctx, cancel := context.WithCancel(context.Background())
	return &Callbacks{sender: sender, log: log, ctx: ctx, cancel: cancel}
}

// summary is the body of a callback.
type summary struct {
	Event string     `json:"event"`
	Job   jobSummary `json:"job"`
}

type jobSummary struct {
	ID         string             `json:"id"`
	State      queue.State        `json:"state"`
	Attempts   int                `json:"attempts"`
	CreatedAt  time.Time          `json:"created_at"`
	FinishedAt time.Time          `json:"finished_at"`
	Error      *callbackError     `json:"error"`
	Result     *transcript.Result `json:"result"`
	Self       string             `json:"self"`
}

type callbackError struct {
	Message string `json:"message"`
	Code    string `json:"code"`
}

// Send posts the end of job to its callback URL, if it has one.
func (c *Callbacks) Send(job *queue.Job) {
	if c == nil || job.Callback == "" {
		return
	}
	event := "job." + string(job.State)
	s := summary{Event: event, Job: jobSummary{ID: job.ID, State: job.State,
		Attempts: job.Attempts, CreatedAt: job.Created.UTC(), FinishedAt: job.Finished.UTC(),
		Result: job.Result, Self: "/v1/jobs/" + job.ID}}
	if job.Error != "" {
		s.Job.Error = &callbackError{Message: job.Error, Code: job.ErrorCode}
	}
	body, err := json.Marshal(s)
	if err != nil {
		c.log.Error("encoding a callback failed", "job_id", job.ID, "err", err)
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		attempts, err := c.sender.Deliver(c.ctx, job.Callback, event, body)
		if err != nil {
			c.log.Warn("callback failed", "job_id", job.ID, "attempts", attempts, "err", err)
			return
		}
		c.log.Info("callback delivered", "job_id", job.ID, "attempts", attempts)
	}()
}

// Close waits up to timeout for deliveries in progress, then abandons
// the rest.
func (c *Callbacks) Close(timeout time.Duration) {
	if c == nil {
		return
	}
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		c.log.Warn("abandoning callbacks still being delivered")
		c.cancel()
		<-done
	}
}
