package queue

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/asr-server/asr-server/internal/redistest"
	"github.com/asr-server/asr-server/internal/transcript"
)

var redisURL string

func TestMain(m *testing.M) {
	redistest.Main(m, func(url string) { redisURL = url })
}

var prefixes int

// newStore returns a Store with its own key prefix on the shared server.
func newStore(t *testing.T, opts Options) (*Store, *redis.Client) {
	t.Helper()
	rdb, err := Dial(redisURL, time.Second, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	prefixes++
	opts.Prefix = fmt.Sprintf("t%d", prefixes)
	if opts.Lease == 0 {
		opts.Lease = 10 * time.Second
	}
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = 3
	}
	if opts.MaxQueued == 0 {
		opts.MaxQueued = 100
	}
	if opts.ResultTTL == 0 {
		opts.ResultTTL = time.Hour
	}
	s := New(rdb, opts)
	if err := s.Register(context.Background(), "w1"); err != nil {
		t.Fatal(err)
	}
	return s, rdb
}

func submit(t *testing.T, s *Store, audio string) *Job {
	t.Helper()
	j, replayed, err := s.Submit(context.Background(),
		Spec{Audio: []byte(audio), Filename: "a.wav", ContentType: "audio/wav"})
	if err != nil || replayed {
		t.Fatalf("submit: %v (replayed %v)", err, replayed)
	}
	return j
}

func take(t *testing.T, s *Store, consumer string) *Delivery {
	t.Helper()
	d, err := s.Take(context.Background(), consumer, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func get(t *testing.T, s *Store, id string) *Job {
	t.Helper()
	j, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestLifecycleSucceeded(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t, Options{})
	sub := submit(t, s, "RIFFaudio")
	if j := get(t, s, sub.ID); j.State != Queued || j.Attempts != 0 || j.Size != 9 ||
		j.Filename != "a.wav" || j.ContentType != "audio/wav" || j.Created.IsZero() {
		t.Fatalf("after submit: %+v", j)
	}

	d := take(t, s, "w1")
	if d == nil || d.Job.ID != sub.ID || d.Attempt != 1 || string(d.Audio) != "RIFFaudio" {
		t.Fatalf("take: %+v", d)
	}
	if j := get(t, s, sub.ID); j.State != Running || j.Worker != "w1" || j.Started.IsZero() {
		t.Fatalf("after take: %+v", j)
	}
	if again := take(t, s, "w2"); again != nil {
		t.Fatalf("a running job was delivered twice: %+v", again.Job)
	}

	want := &transcript.Result{Text: "hi", Language: "en", Duration: 1.5,
		Segments: []transcript.Segment{{ID: 0, Start: 0, End: 1.5, Text: "hi"}}}
	if err := s.Finish(ctx, d, want); err != nil {
		t.Fatal(err)
	}
	j := get(t, s, sub.ID)
	if j.State != Succeeded || j.Finished.IsZero() || j.Result == nil ||
		j.Result.Text != "hi" || len(j.Result.Segments) != 1 {
		t.Fatalf("after finish: %+v", j)
	}
	if n := rdb.Exists(ctx, s.audioKey(sub.ID)).Val(); n != 0 {
		t.Errorf("audio still stored after the job ended")
	}
	if ttl := rdb.PTTL(ctx, s.jobKey(sub.ID)).Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("finished job TTL = %v, want within (0, 1h]", ttl)
	}
	if n := rdb.XLen(ctx, s.stream()).Val(); n != 0 {
		t.Errorf("depth after finish = %d, want 0", n)
	}
	if err := s.Finish(ctx, d, want); !errors.Is(err, ErrLost) {
		t.Errorf("second finish: %v, want ErrLost", err)
	}
}

func TestSubmitFullWritesNothing(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t, Options{MaxQueued: 2})
	submit(t, s, "one")
	submit(t, s, "two")
	before := rdb.Keys(ctx, "{"+s.opts.Prefix+"}:*").Val()
	if _, _, err := s.Submit(ctx, Spec{Audio: []byte("three")}); !errors.Is(err, ErrFull) {
		t.Fatalf("third submit: %v, want ErrFull", err)
	}
	after := rdb.Keys(ctx, "{"+s.opts.Prefix+"}:*").Val()
	if len(after) != len(before) {
		t.Fatalf("a refused submit wrote keys: %d before, %d after", len(before), len(after))
	}
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestExpiredLeaseIsReclaimedOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, Options{Lease: 200 * time.Millisecond})
	sub := submit(t, s, "x")
	lost := take(t, s, "w1")
	var won *Delivery
	waitFor(t, "reclaim", func() bool { won = take(t, s, "w2"); return won != nil })
	if won.Attempt != 2 || won.Job.ID != sub.ID {
		t.Fatalf("reclaimed delivery: attempt %d job %s", won.Attempt, won.Job.ID)
	}
	if err := s.Renew(ctx, lost); !errors.Is(err, ErrLost) {
		t.Errorf("renew by the lost worker: %v, want ErrLost", err)
	}
	late := &transcript.Result{Text: "late"}
	if err := s.Finish(ctx, lost, late); !errors.Is(err, ErrLost) {
		t.Errorf("finish by the lost worker: %v, want ErrLost", err)
	}
	if _, err := s.Fail(ctx, lost, "boom", "x", false); !errors.Is(err, ErrLost) {
		t.Errorf("fail by the lost worker: %v, want ErrLost", err)
	}
	if err := s.Finish(ctx, won, &transcript.Result{Text: "won"}); err != nil {
		t.Fatal(err)
	}
	j := get(t, s, sub.ID)
	if j.State != Succeeded || j.Result.Text != "won" || j.Attempts != 2 || j.Worker != "w2" {
		t.Fatalf("final job: %+v result %+v", j, j.Result)
	}
	want := []Attempt{{Attempt: 1, Worker: "w1", Error: "the worker stopped renewing its lease",
		Code: "worker_lost", AtMS: j.History[0].AtMS}}
	if fmt.Sprint(j.History) != fmt.Sprint(want) || j.History[0].AtMS < sub.Created.UnixMilli() {
		t.Errorf("history %+v, want %+v", j.History, want)
	}
}

func TestRenewedLeaseIsNotReclaimed(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, Options{Lease: 300 * time.Millisecond})
	submit(t, s, "x")
	d := take(t, s, "w1")
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		if err := s.Renew(ctx, d); err != nil {
			t.Fatal(err)
		}
		if other := take(t, s, "w2"); other != nil {
			t.Fatalf("job taken from a live worker: attempt %d", other.Attempt)
		}
	}
}

// clock is a settable time source for backoff tests.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func TestFailRetriesAfterBackoffThenEnds(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t, Options{MaxAttempts: 2, RetryBackoff: time.Minute,
		RetryBackoffMax: time.Hour})
	c := &clock{now: time.Now()}
	s.Now = c.Now
	sub := submit(t, s, "x")
	d := take(t, s, "w1")
	res, err := s.Fail(ctx, d, "decoder hiccup", "transcription_failed", true)
	if err != nil || res != Retrying {
		t.Fatalf("first failure: %v %v", res, err)
	}
	j := get(t, s, sub.ID)
	wait := j.RetryAt.Sub(c.now)
	if j.State != Queued || j.Attempts != 1 || j.Error != "decoder hiccup" ||
		wait < 48*time.Second || wait > time.Minute || j.Position != 0 {
		t.Fatalf("after retryable failure: %+v (retry in %v)", j, wait)
	}
	if d := take(t, s, "w1"); d != nil {
		t.Fatalf("job retried before its backoff ended")
	}
	c.now = c.now.Add(time.Minute)
	d = take(t, s, "w1")
	if d == nil || d.Attempt != 2 {
		t.Fatalf("retry delivery: %+v", d)
	}
	res, err = s.Fail(ctx, d, "decoder hiccup again", "transcription_failed", true)
	if err != nil || res != EndFailed {
		t.Fatalf("last failure: %v %v", res, err)
	}
	j = get(t, s, sub.ID)
	if j.State != Failed || j.ErrorCode != "transcription_failed" || j.Finished.IsZero() {
		t.Fatalf("after last failure: %+v", j)
	}
	want := []Attempt{
		{Attempt: 1, Worker: "w1", Error: "decoder hiccup", Code: "transcription_failed",
			AtMS: c.now.Add(-time.Minute).UnixMilli()},
		{Attempt: 2, Worker: "w1", Error: "decoder hiccup again",
			Code: "transcription_failed", AtMS: c.now.UnixMilli()},
	}
	if fmt.Sprint(j.History) != fmt.Sprint(want) {
		t.Errorf("history %+v, want %+v", j.History, want)
	}
	// A dead letter keeps its audio so that it can be queued again.
	if rdb.Exists(ctx, s.audioKey(sub.ID)).Val() != 1 {
		t.Errorf("audio of a failed job was deleted")
	}
	dead, err := s.DeadLetters(ctx, 10)
	if err != nil || len(dead) != 1 || dead[0].ID != sub.ID {
		t.Fatalf("dead letters: %v %v", dead, err)
	}
	if err := s.Requeue(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	if j := get(t, s, sub.ID); j.State != Queued || j.Attempts != 0 || len(j.History) != 2 {
		t.Fatalf("requeued job: %+v", j)
	}
	if dead, _ := s.DeadLetters(ctx, 10); len(dead) != 0 {
		t.Errorf("requeued job still a dead letter")
	}
	if d := take(t, s, "w2"); d == nil || d.Attempt != 1 {
		t.Fatalf("requeued job not delivered: %+v", d)
	}
	if err := s.Requeue(ctx, sub.ID); !errors.Is(err, ErrNotFailed) {
		t.Errorf("requeue of a running job: %v, want ErrNotFailed", err)
	}
}

func TestPermanentFailureEndsAtOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, Options{})
	sub := submit(t, s, "x")
	d := take(t, s, "w1")
	if res, err := s.Fail(ctx, d, "not audio", "invalid_audio", false); res != EndFailed ||
		err != nil {
		t.Fatalf("fail: %v %v", res, err)
	}
	if j := get(t, s, sub.ID); j.State != Failed || j.Attempts != 1 {
		t.Fatalf("job: %+v", j)
	}
}

func TestLostWorkersExhaustAttempts(t *testing.T) {
	s, _ := newStore(t, Options{Lease: 100 * time.Millisecond, MaxAttempts: 2})
	sub := submit(t, s, "x")
	take(t, s, "w1")
	var second *Delivery
	waitFor(t, "second attempt", func() bool { second = take(t, s, "w2"); return second != nil })
	waitFor(t, "attempts exhausted", func() bool {
		take(t, s, "w3")
		return get(t, s, sub.ID).State == Failed
	})
	j := get(t, s, sub.ID)
	if j.ErrorCode != "attempts_exhausted" || j.Attempts != 2 || len(j.History) != 2 {
		t.Fatalf("job: %+v", j)
	}
	for i, a := range j.History {
		if a.Attempt != i+1 || a.Code != "worker_lost" {
			t.Errorf("history[%d] = %+v", i, a)
		}
	}
}

func TestReleaseKeepsAttempts(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, Options{})
	sub := submit(t, s, "x")
	d := take(t, s, "w1")
	if err := s.Release(ctx, d); err != nil {
		t.Fatal(err)
	}
	if j := get(t, s, sub.ID); j.State != Queued || j.Attempts != 0 || j.Worker != "" {
		t.Fatalf("after release: %+v", j)
	}
	d = take(t, s, "w2")
	if d == nil || d.Attempt != 1 || d.Job.ID != sub.ID {
		t.Fatalf("after release, take: %+v", d)
	}
}

func TestGetUnknown(t *testing.T) {
	s, _ := newStore(t, Options{})
	for _, id := range []string{"", "nope", "../../etc", "0123456789abcdef0123456789abcdef"} {
		if _, err := s.Get(context.Background(), id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestJobsSubmittedBeforeAnyWorkerAreDelivered(t *testing.T) {
	rdb, err := Dial(redisURL, time.Second, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	s := New(rdb, Options{Prefix: "early", Lease: time.Second, MaxAttempts: 1,
		MaxQueued: 10, ResultTTL: time.Minute})
	sub := submit(t, s, "x")
	if err := s.Register(context.Background(), "late-worker"); err != nil {
		t.Fatal(err)
	}
	if d := take(t, s, "late-worker"); d == nil || d.Job.ID != sub.ID {
		t.Fatalf("job submitted before the group existed was not delivered: %+v", d)
	}
}

func TestIdempotentSubmit(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t, Options{})
	spec := Spec{Audio: []byte("x"), IdempotencyKey: "client-42/upload-7"}
	first, replayed, err := s.Submit(ctx, spec)
	if err != nil || replayed {
		t.Fatalf("first submit: %v %v", replayed, err)
	}
	again, replayed, err := s.Submit(ctx, spec)
	if err != nil || !replayed || again.ID != first.ID {
		t.Fatalf("repeated submit: job %v replayed %v err %v", again, replayed, err)
	}
	other, replayed, err := s.Submit(ctx, Spec{Audio: []byte("x"), IdempotencyKey: "other"})
	if err != nil || replayed || other.ID == first.ID {
		t.Fatalf("other key: %v %v %v", other, replayed, err)
	}
	if n := rdb.XLen(ctx, s.stream()).Val(); n != 2 {
		t.Errorf("depth %d, want 2", n)
	}
}

func TestCancel(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t, Options{})
	queued := submit(t, s, "q")
	running := submit(t, s, "r")
	if prev, err := s.Cancel(ctx, queued.ID); err != nil || prev != Queued {
		t.Fatalf("cancel queued: %v %v", prev, err)
	}
	d := take(t, s, "w1")
	if d == nil || d.Job.ID != running.ID {
		t.Fatalf("the canceled job was delivered or the other was not: %+v", d)
	}
	if prev, err := s.Cancel(ctx, running.ID); err != nil || prev != Running {
		t.Fatalf("cancel running: %v %v", prev, err)
	}
	if err := s.Renew(ctx, d); !errors.Is(err, ErrLost) {
		t.Errorf("renew of a canceled job: %v, want ErrLost", err)
	}
	if err := s.Finish(ctx, d, &transcript.Result{Text: "late"}); !errors.Is(err, ErrLost) {
		t.Errorf("finish of a canceled job: %v, want ErrLost", err)
	}
	for _, id := range []string{queued.ID, running.ID} {
		j := get(t, s, id)
		if j.State != Canceled || j.Result != nil || j.Finished.IsZero() {
			t.Errorf("job %s: %+v", id, j)
		}
		if rdb.Exists(ctx, s.audioKey(id)).Val() != 0 {
			t.Errorf("audio of canceled job %s kept", id)
		}
	}
	if _, err := s.Cancel(ctx, running.ID); !errors.Is(err, ErrFinal) {
		t.Errorf("second cancel: %v, want ErrFinal", err)
	}
	if n := rdb.XLen(ctx, s.stream()).Val(); n != 0 {
		t.Errorf("depth after cancels = %d", n)
	}
}

func TestPositionAndOverview(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, Options{})
	var jobs []*Job
	for i := 0; i < 3; i++ {
		jobs = append(jobs, submit(t, s, "x"))
	}
	for i, j := range jobs {
		if got := get(t, s, j.ID).Position; got != int64(i+1) {
			t.Errorf("job %d position %d, want %d", i, got, i+1)
		}
	}
	d := take(t, s, "w1")
	if got := get(t, s, jobs[1].ID).Position; got != 1 {
		t.Errorf("after one start, second job position %d, want 1", got)
	}
	if err := s.Heartbeat(ctx, WorkerStatus{Name: "w1", Host: "h", PID: 7,
		Job: d.Job.ID, JobsDone: 4, Started: time.UnixMilli(1000)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	o, err := s.Overview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The oldest queued time is the stream entry's, from Redis's clock; the
	// job's creation time is the API's. They differ by milliseconds.
	skew := o.OldestQueued.Sub(jobs[1].Created)
	if o.Queued != 2 || o.Running != 1 || o.Retrying != 0 || o.DeadLetters != 0 ||
		skew < -time.Second || skew > time.Second || len(o.Workers) != 1 {
		t.Fatalf("overview %+v (oldest want %v)", o, jobs[1].Created)
	}
	w := o.Workers[0]
	if w.Name != "w1" || w.Host != "h" || w.PID != 7 || w.Job != d.Job.ID || w.JobsDone != 4 ||
		w.Seen.IsZero() {
		t.Errorf("worker %+v", w)
	}
	if err := s.Leave(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Register(ctx, "idle"); err != nil {
		t.Fatal(err)
	}
	if err := s.Leave(ctx, "idle"); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, c := range s.rdb.XInfoConsumers(ctx, s.stream(), group).Val() {
		names[c.Name] = true
	}
	if !names["w1"] || names["idle"] {
		t.Errorf("consumers after leaving %v: want w1 kept (it holds a job), idle gone", names)
	}
	if o, _ := s.Overview(ctx); len(o.Workers) != 0 {
		t.Errorf("worker still listed after leaving: %+v", o.Workers)
	}
}

func TestFinishedJobsExpire(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t, Options{ResultTTL: 300 * time.Millisecond})
	sub := submit(t, s, "x")
	if err := s.Finish(ctx, take(t, s, "w1"), &transcript.Result{Text: "t"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "expiry", func() bool {
		_, err := s.Get(ctx, sub.ID)
		return errors.Is(err, ErrNotFound)
	})
	if keys := rdb.Keys(ctx, "{"+s.opts.Prefix+"}:*"+sub.ID).Val(); len(keys) != 0 {
		t.Errorf("keys left after expiry: %v", keys)
	}
}
