package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/asr-server/asr-server/internal/transcript"
)

// Delivery is a job that a worker has started and owns.
type Delivery struct {
	Job      *Job
	Audio    []byte
	Attempt  int
	Consumer string
	entry    string
}

// Result is returned by Fail to say what happened to the job.
type Result string

// Outcomes of Fail.
const (
	Retrying  Result = "retrying"
	EndFailed Result = "failed"
)

// Take returns the next job for consumer, waiting up to block for one.
// It first queues jobs whose retry time has come and claims deliveries
// whose lease expired, then reads new entries. It returns nil and no
// error when no job arrived in time.
func (s *Store) Take(ctx context.Context, consumer string, block time.Duration) (*Delivery, error) {
	if err := s.promoteDue(ctx); err != nil {
		return nil, err
	}
	claimed, _, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream:   s.stream(),
		Group:    group,
		Consumer: consumer,
		MinIdle:  s.opts.Lease,
		Start:    "0-0",
		Count:    10,
	}).Result()
	if err != nil && !isNoGroup(err) {
		return nil, fmt.Errorf("queue: claim expired jobs: %w", err)
	}
	if d, err := s.startFirst(ctx, consumer, claimed); d != nil || err != nil {
		return d, err
	}
	streams, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group:    group,
		Consumer: consumer,
		Streams:  []string{s.stream(), ">"},
		Count:    1,
		Block:    block,
	}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, nil
	case isNoGroup(err):
		// The stream was removed (Redis flushed or restarted empty).
		return nil, s.ensureGroup(ctx)
	case err != nil:
		return nil, fmt.Errorf("queue: read jobs: %w", err)
	}
	for _, st := range streams {
		if d, err := s.startFirst(ctx, consumer, st.Messages); d != nil || err != nil {
			return d, err
		}
	}
	return nil, nil
}

// promoteDue queues again the jobs whose retry time has come.
func (s *Store) promoteDue(ctx context.Context) error {
	due, err := s.rdb.ZRangeByScore(ctx, s.delayed(), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(s.nowMS(), 10), Count: 16,
	}).Result()
	if err != nil {
		return fmt.Errorf("queue: find jobs due for retry: %w", err)
	}
	for _, id := range due {
		keys := []string{s.stream(), s.jobKey(id), s.delayed(), s.seq(), s.eventsKey(id)}
		if err := promoteScript.Run(ctx, s.rdb, keys, id).Err(); err != nil {
			return fmt.Errorf("queue: retry job %s: %w", id, err)
		}
	}
	return nil
}

// startFirst starts the first of msgs that is still a live job; stale
// entries are removed by the start script.
func (s *Store) startFirst(ctx context.Context, consumer string,
	msgs []redis.XMessage) (*Delivery, error) {
	for _, m := range msgs {
		id, _ := m.Values["job"].(string)
		if !ValidID(id) {
			s.rdb.XAck(ctx, s.stream(), group, m.ID)
			s.rdb.XDel(ctx, s.stream(), m.ID)
			continue
		}
		d, err := s.start(ctx, consumer, id, m.ID)
		if d != nil || err != nil {
			return d, err
		}
	}
	return nil, nil
}

func (s *Store) start(ctx context.Context, consumer, id, entry string) (*Delivery, error) {
	keys := []string{s.stream(), s.jobKey(id), s.audioKey(id), s.dead(), s.startedSeq(),
		s.statsKey(), s.eventsKey(id)}
	res, err := startScript.Run(ctx, s.rdb, keys, group, entry, consumer, s.nowMS(),
		s.opts.MaxAttempts, s.opts.ResultTTL.Milliseconds(), id).Slice()
	if err != nil {
		return nil, fmt.Errorf("queue: start job %s: %w", id, err)
	}
	if len(res) != 2 || res[0] != "started" {
		return nil, nil
	}
	attempt, _ := res[1].(int64)
	// The job as started and its audio, in one round trip.
	pipe := s.rdb.Pipeline()
	hash := pipe.HGetAll(ctx, s.jobKey(id))
	data := pipe.Get(ctx, s.audioKey(id))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("queue: read started job %s: %w", id, err)
	}
	if len(hash.Val()) == 0 {
		return nil, ErrNotFound
	}
	job, err := jobFromHash(id, hash.Val())
	if err != nil {
		return nil, err
	}
	audio, _ := data.Bytes()
	return &Delivery{
		Job:      job,
		Audio:    audio,
		Attempt:  int(attempt),
		Consumer: consumer,
		entry:    entry,
	}, nil
}

// Renew extends the lease on d. It returns ErrLost when the worker no
// longer owns the job (another worker took it over, or it was canceled),
// in which case the worker must stop working on it.
func (s *Store) Renew(ctx context.Context, d *Delivery) error {
	keys := []string{s.stream(), s.jobKey(d.Job.ID), s.eventsKey(d.Job.ID)}
	ok, err := renewScript.Run(ctx, s.rdb, keys, group, d.entry, d.Consumer, d.Attempt).Int()
	if err != nil {
		return fmt.Errorf("queue: renew lease of job %s: %w", d.Job.ID, err)
	}
	if ok == 0 {
		return ErrLost
	}
	return nil
}

// Finish stores the result of d and ends the job succeeded, counting the
// result's duration in the stats. It returns ErrLost, storing nothing,
// when the worker no longer owns the job.
func (s *Store) Finish(ctx context.Context, d *Delivery, r *transcript.Result) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("queue: encode result of job %s: %w", d.Job.ID, err)
	}
	keys := []string{s.stream(), s.jobKey(d.Job.ID), s.audioKey(d.Job.ID), s.statsKey(),
		s.eventsKey(d.Job.ID)}
	ok, err := finishScript.Run(ctx, s.rdb, keys, group, d.entry, d.Consumer, d.Attempt,
		s.nowMS(), body, s.opts.ResultTTL.Milliseconds(), secondsArg(r.Duration)).Int()
	if err != nil {
		return fmt.Errorf("queue: finish job %s: %w", d.Job.ID, err)
	}
	if ok == 0 {
		return ErrLost
	}
	return nil
}

// Fail records a failed attempt of d. A retryable failure queues the job
// again after a backoff while attempts remain; any other ends it failed.
// The reason and code are kept in the job's history; the attempt is
// counted in the stats under its code, or OtherCode for a code not in
// AttemptCodes.
func (s *Store) Fail(ctx context.Context, d *Delivery, reason, code string,
	retryable bool) (Result, error) {
	retry := "0"
	if retryable {
		retry = "1"
	}
	now := s.Now()
	retryAt := now.Add(s.backoff(d.Attempt)).UnixMilli()
	keys := []string{s.stream(), s.jobKey(d.Job.ID), s.audioKey(d.Job.ID), s.delayed(),
		s.dead(), s.statsKey(), s.eventsKey(d.Job.ID)}
	res, err := failScript.Run(ctx, s.rdb, keys, group, d.entry, d.Consumer, d.Attempt,
		now.UnixMilli(), reason, code, retry, s.opts.MaxAttempts,
		s.opts.ResultTTL.Milliseconds(), d.Job.ID, retryAt, countedCode(code)).Text()
	if err != nil {
		return "", fmt.Errorf("queue: fail job %s: %w", d.Job.ID, err)
	}
	if res == "lost" {
		return "", ErrLost
	}
	return Result(res), nil
}

// backoff is the wait after a failed attempt: RetryBackoff doubled for each
// earlier attempt, capped at RetryBackoffMax, less up to a fifth at random
// so that jobs that failed together do not return together.
func (s *Store) backoff(attempt int) time.Duration {
	d := s.opts.RetryBackoff << min(max(attempt-1, 0), 20)
	d = min(d, s.opts.RetryBackoffMax)
	return d - rand.N(d/5+1)
}

// Release hands d back to the queue without spending an attempt, for a
// worker that stops before it could finish the job.
func (s *Store) Release(ctx context.Context, d *Delivery) error {
	keys := []string{s.stream(), s.jobKey(d.Job.ID), s.seq(), s.eventsKey(d.Job.ID)}
	ok, err := releaseScript.Run(ctx, s.rdb, keys, group, d.entry, d.Consumer, d.Attempt,
		d.Job.ID).Int()
	if err != nil {
		return fmt.Errorf("queue: hand back job %s: %w", d.Job.ID, err)
	}
	if ok == 0 {
		return ErrLost
	}
	return nil
}
