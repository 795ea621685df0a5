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
	j, err := s.Submit(context.Background(),
		Spec{Audio: []byte(audio), Filename: "a.wav", ContentType: "audio/wav"})
	if err != nil {
		t.Fatal(err)
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
	if n, _ := s.Depth(ctx); n != 0 {
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
	if _, err := s.Submit(ctx, Spec{Audio: []byte("three")}); !errors.Is(err, ErrFull) {
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

func TestFailRetriesThenEnds(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t, Options{MaxAttempts: 2})
	sub := submit(t, s, "x")
	d := take(t, s, "w1")
	res, err := s.Fail(ctx, d, "decoder hiccup", "transcription_failed", true)
	if err != nil || res != Requeued {
		t.Fatalf("first failure: %v %v", res, err)
	}
	if j := get(t, s, sub.ID); j.State != Queued || j.Attempts != 1 || j.Error != "decoder hiccup" {
		t.Fatalf("after retryable failure: %+v", j)
	}
	d = take(t, s, "w1")
	if d == nil || d.Attempt != 2 {
		t.Fatalf("retry delivery: %+v", d)
	}
	res, err = s.Fail(ctx, d, "decoder hiccup again", "transcription_failed", true)
	if err != nil || res != EndFailed {
		t.Fatalf("last failure: %v %v", res, err)
	}
	j := get(t, s, sub.ID)
	if j.State != Failed || j.ErrorCode != "transcription_failed" || j.Finished.IsZero() {
		t.Fatalf("after last failure: %+v", j)
	}
	if rdb.Exists(ctx, s.audioKey(sub.ID)).Val() != 0 {
		t.Errorf("audio kept after the job failed")
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
	if j := get(t, s, sub.ID); j.ErrorCode != "attempts_exhausted" || j.Attempts != 2 {
		t.Fatalf("job: %+v", j)
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
