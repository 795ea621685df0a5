package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/asr-server/asr-server/internal/audio"
	"github.com/asr-server/asr-server/internal/queue"
	"github.com/asr-server/asr-server/internal/redistest"
	"github.com/asr-server/asr-server/internal/transcript"
)

type nopNotifier struct{}

func (nopNotifier) Ready()        {}
func (nopNotifier) Status(string) {}
func (nopNotifier) Stopping()     {}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func newQueue(t *testing.T, lease time.Duration) *queue.Store {
	t.Helper()
	srv := redistest.StartT(t, redistest.Options{})
	rdb, err := queue.Dial(srv.URL, time.Second, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return queue.New(rdb, queue.Options{Prefix: "w", Lease: lease, MaxAttempts: 3,
		MaxQueued: 100, ResultTTL: time.Minute, RetryBackoff: 10 * time.Millisecond})
}

func fixedDecode(ctx context.Context, data []byte) ([]float32, error) {
	switch string(data) {
	case "bad":
		return nil, fmt.Errorf("%w: broken header", audio.ErrMalformed)
	case "decoder down":
		return nil, fmt.Errorf("%w: ffmpeg was killed", audio.ErrDecoder)
	}
	return make([]float32, 16000), nil
}

// runWorker runs w until the returned stop function is called.
func runWorker(t *testing.T, w *Worker) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("worker did not stop")
		}
	}
}

func waitFinal(t *testing.T, q *queue.Store, id string) *queue.Job {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := q.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State.Final() {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s", id, j.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLongJobKeepsItsLease(t *testing.T) {
	const lease = 300 * time.Millisecond
	q := newQueue(t, lease)
	var calls sync.Map
	transcribe := func(ctx context.Context, s []float32, _ transcript.Options,
		_ func(int), _ func(transcript.Segment)) (transcript.Result, error) {
		calls.Store(time.Now(), true)
		select {
		case <-time.After(4 * lease):
		case <-ctx.Done():
			return transcript.Result{}, ctx.Err()
		}
		return transcript.Result{Text: "done", Duration: 1}, nil
	}
	w := New(q, fixedDecode, transcribe, nopNotifier{}, discard,
		Options{Name: "busy", Lease: lease, StopTimeout: time.Minute,
			PollInterval: 50 * time.Millisecond})
	stop := runWorker(t, w)
	defer stop()

	job, _, err := q.Submit(context.Background(), queue.Spec{Audio: []byte("ok")})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, q, job.ID, queue.Running)
	// A second consumer polls for work the whole time; a renewed lease
	// must never let it take the running job.
	for {
		j, _ := q.Get(context.Background(), job.ID)
		if j.State.Final() {
			break
		}
		if d, err := q.Take(context.Background(), "thief", 20*time.Millisecond); err != nil ||
			d != nil {
			t.Fatalf("second consumer got %+v, %v", d, err)
		}
	}
	j := waitFinal(t, q, job.ID)
	if j.State != queue.Succeeded || j.Attempts != 1 || j.Result.Text != "done" {
		t.Fatalf("job: %+v", j)
	}
	n := 0
	calls.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Fatalf("transcribed %d times, want once", n)
	}
}

func TestFailureClassification(t *testing.T) {
	q := newQueue(t, 5*time.Second)
	errFlaky := errors.New("engine hiccup")
	errInput := errors.New("audio too short")
	transcribe := func(ctx context.Context, s []float32, _ transcript.Options,
		_ func(int), _ func(transcript.Segment)) (transcript.Result, error) {
		return transcript.Result{}, errFlaky
	}
	w := New(q, fixedDecode, transcribe, nopNotifier{}, discard,
		Options{Name: "w", Lease: 5 * time.Second, StopTimeout: time.Minute,
			PollInterval: 50 * time.Millisecond,
			Classify: func(err error) (string, bool) {
				return "", errors.Is(err, errInput)
			}})
	stop := runWorker(t, w)
	defer stop()

	bad, _, _ := q.Submit(context.Background(), queue.Spec{Audio: []byte("bad")})
	flaky, _, _ := q.Submit(context.Background(), queue.Spec{Audio: []byte("ok")})
	decoder, _, _ := q.Submit(context.Background(), queue.Spec{Audio: []byte("decoder down")})
	wantReason := "decode: " + fmt.Errorf("%w: broken header", audio.ErrMalformed).Error()
	j := waitFinal(t, q, bad.ID)
	if j.State != queue.Failed || j.Attempts != 1 || j.ErrorCode != "invalid_audio" ||
		j.Error != wantReason {
		t.Errorf("bad audio: %+v", j)
	}
	j = waitFinal(t, q, flaky.ID)
	if j.State != queue.Failed || j.Attempts != 3 || j.ErrorCode != "transcription_failed" ||
		j.Error != "transcribe: engine hiccup" {
		t.Errorf("retryable failure: %+v", j)
	}
	j = waitFinal(t, q, decoder.ID)
	if j.State != queue.Failed || j.Attempts != 3 || j.ErrorCode != "decoder_failed" ||
		len(j.History) != 3 {
		t.Errorf("failed decoder: %+v", j)
	}
}

func TestCancelStopsTheRunningJob(t *testing.T) {
	q := newQueue(t, 3*time.Second)
	aborted := make(chan struct{})
	transcribe := func(ctx context.Context, s []float32, _ transcript.Options,
		_ func(int), _ func(transcript.Segment)) (transcript.Result, error) {
		<-ctx.Done()
		close(aborted)
		return transcript.Result{}, ctx.Err()
	}
	w := New(q, fixedDecode, transcribe, nopNotifier{}, discard,
		Options{Name: "w", Lease: 3 * time.Second, StopTimeout: time.Minute,
			PollInterval: 50 * time.Millisecond})
	stop := runWorker(t, w)
	defer stop()
	job, _, _ := q.Submit(context.Background(), queue.Spec{Audio: []byte("ok")})
	waitState(t, q, job.ID, queue.Running)
	if _, err := q.Cancel(context.Background(), job.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-aborted:
	case <-time.After(20 * time.Second):
		t.Fatal("transcription not aborted after cancel")
	}
	if j := waitFinal(t, q, job.ID); j.State != queue.Canceled || j.Result != nil {
		t.Fatalf("job: %+v", j)
	}
}

func TestJobTimeoutFailsTheJob(t *testing.T) {
	q := newQueue(t, 3*time.Second)
	transcribe := func(ctx context.Context, s []float32, _ transcript.Options,
		_ func(int), _ func(transcript.Segment)) (transcript.Result, error) {
		<-ctx.Done()
		return transcript.Result{}, ctx.Err()
	}
	w := New(q, fixedDecode, transcribe, nopNotifier{}, discard,
		Options{Name: "w", Lease: 3 * time.Second, StopTimeout: time.Minute,
			JobTimeout: 200 * time.Millisecond, PollInterval: 50 * time.Millisecond})
	stop := runWorker(t, w)
	defer stop()
	job, _, _ := q.Submit(context.Background(), queue.Spec{Audio: []byte("ok")})
	j := waitFinal(t, q, job.ID)
	if j.State != queue.Failed || j.ErrorCode != "job_timeout" || j.Attempts != 1 ||
		j.Error != "the job ran longer than the limit of 200ms" {
		t.Fatalf("job: %+v", j)
	}
}

func TestHeartbeatListsTheWorker(t *testing.T) {
	q := newQueue(t, 3*time.Second)
	w := New(q, fixedDecode, nil, nopNotifier{}, discard,
		Options{Name: "beating", Lease: 3 * time.Second, StopTimeout: time.Minute,
			PollInterval: 50 * time.Millisecond})
	stop := runWorker(t, w)
	var o *queue.Overview
	deadline := time.Now().Add(10 * time.Second)
	for o == nil || len(o.Workers) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("worker never listed")
		}
		time.Sleep(10 * time.Millisecond)
		o, _ = q.Overview(context.Background())
	}
	if got := o.Workers[0]; got.Name != "beating" || got.Job != "" || got.PID == 0 {
		t.Errorf("worker status %+v", got)
	}
	stop()
	if o, _ := q.Overview(context.Background()); len(o.Workers) != 0 {
		t.Errorf("stopped worker still listed: %+v", o.Workers)
	}
}

func waitState(t *testing.T, q *queue.Store, id string, state queue.State) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := q.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s, want %s", id, j.State, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestActivityTellsHungFromBusy checks the count a watchdog reads: it grows
// while the worker idles and while its job reports progress, and stands
// still while the job is stuck in a step that reports nothing.
func TestActivityTellsHungFromBusy(t *testing.T) {
	q := newQueue(t, 3*time.Second)
	hang, busy := make(chan struct{}), make(chan struct{})
	transcribe := func(ctx context.Context, s []float32, _ transcript.Options,
		progress func(int), _ func(transcript.Segment)) (transcript.Result, error) {
		for i := 0; ; i++ {
			select {
			case <-busy:
				return transcript.Result{Text: "done", Duration: 1}, nil
			case <-hang:
				progress(i % 100)
				time.Sleep(10 * time.Millisecond)
			case <-ctx.Done():
				return transcript.Result{}, ctx.Err()
			}
		}
	}
	w := New(q, fixedDecode, transcribe, nopNotifier{}, discard,
		Options{Name: "w", Lease: 3 * time.Second, StopTimeout: time.Minute,
			PollInterval: 20 * time.Millisecond})
	stop := runWorker(t, w)
	defer stop()
	grows := func() bool {
		before := w.Activity()
		time.Sleep(150 * time.Millisecond)
		return w.Activity() != before
	}
	if !grows() {
		t.Fatal("idle worker: activity stands still, want it to grow with each poll")
	}
	job, _, _ := q.Submit(context.Background(), queue.Spec{Audio: []byte("ok")})
	waitState(t, q, job.ID, queue.Running)
	time.Sleep(50 * time.Millisecond)
	if grows() {
		t.Fatal("job stuck without progress: activity grows, want it to stand still")
	}
	close(hang) // the job now reports progress every 10 ms
	if !grows() {
		t.Fatal("job reporting progress: activity stands still, want it to grow")
	}
	close(busy)
	if j := waitFinal(t, q, job.ID); j.State != queue.Succeeded {
		t.Fatalf("job: %+v", j)
	}
}
