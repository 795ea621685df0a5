// Package queue is the job queue and job store, kept in Redis.
//
// Jobs are hashes; their audio is a separate string deleted when the job
// ends. Delivery uses a Redis stream with one consumer group: a worker
// reads an entry, owns it while it keeps renewing its lease (the entry's
// idle time), and acknowledges it when the job ends. An entry whose worker
// stopped renewing for longer than the lease is claimed by another worker,
// which runs the job again as a new attempt. Every state change is one Lua
// script (see scripts.go), so a worker that lost its lease cannot overwrite
// the job's newer state.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/asr-server/asr-server/internal/transcript"
)

// Errors returned by the Store.
var (
	ErrNotFound = errors.New("queue: job not found")
	ErrFull     = errors.New("queue: queue is full")
	ErrLost     = errors.New("queue: job no longer owned by this worker")
)

// group is the stream's consumer group that all workers share.
const group = "workers"

// Options configure a Store.
type Options struct {
	// Prefix starts every key; it becomes a hash tag so that a Redis
	// Cluster keeps all of a deployment's keys in one slot.
	Prefix string
	// Lease is how long a delivery may go unrenewed before another worker
	// may claim it.
	Lease time.Duration
	// MaxAttempts bounds how often a job is started.
	MaxAttempts int
	// MaxQueued bounds the number of unfinished jobs.
	MaxQueued int64
	// ResultTTL is how long a finished job is kept.
	ResultTTL time.Duration
}

// Store is the queue and job store. It is safe for concurrent use.
type Store struct {
	rdb  redis.UniversalClient
	opts Options
	// Now is the clock; tests may replace it before first use.
	Now func() time.Time

	stream string
}

// New returns a Store over an existing client.
func New(rdb redis.UniversalClient, opts Options) *Store {
	return &Store{
		rdb:    rdb,
		opts:   opts,
		Now:    time.Now,
		stream: "{" + opts.Prefix + "}:jobs",
	}
}

func (s *Store) jobKey(id string) string   { return "{" + s.opts.Prefix + "}:job:" + id }
func (s *Store) audioKey(id string) string { return "{" + s.opts.Prefix + "}:audio:" + id }

func (s *Store) nowMS() string { return strconv.FormatInt(s.Now().UnixMilli(), 10) }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("queue: ping redis: %w", err)
	}
	return nil
}

// Submit stores a job with its audio and queues it. It returns ErrFull,
// with nothing stored, when MaxQueued jobs are unfinished.
func (s *Store) Submit(ctx context.Context, spec Spec) (*Job, error) {
	id, err := newID()
	if err != nil {
		return nil, err
	}
	now := s.Now()
	keys := []string{s.stream, s.jobKey(id), s.audioKey(id)}
	res, err := submitScript.Run(ctx, s.rdb, keys,
		id, s.opts.MaxQueued, now.UnixMilli(), spec.Filename, spec.ContentType, spec.Audio,
	).Int()
	if err != nil {
		return nil, fmt.Errorf("queue: submit: %w", err)
	}
	if res == 0 {
		return nil, ErrFull
	}
	return &Job{
		ID:          id,
		State:       Queued,
		Filename:    spec.Filename,
		ContentType: spec.ContentType,
		Size:        int64(len(spec.Audio)),
		Created:     time.UnixMilli(now.UnixMilli()),
	}, nil
}

// Get returns the job with the given id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Job, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	h, err := s.rdb.HGetAll(ctx, s.jobKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("queue: get job %s: %w", id, err)
	}
	if len(h) == 0 {
		return nil, ErrNotFound
	}
	return jobFromHash(id, h)
}

// Depth returns the number of unfinished (queued or running) jobs.
func (s *Store) Depth(ctx context.Context) (int64, error) {
	n, err := s.rdb.XLen(ctx, s.stream).Result()
	if err != nil {
		return 0, fmt.Errorf("queue: depth: %w", err)
	}
	return n, nil
}

// EnsureGroup creates the stream and its consumer group if missing. The
// group starts at the stream's beginning so that jobs submitted before any
// worker existed are delivered.
func (s *Store) EnsureGroup(ctx context.Context) error {
	err := s.rdb.XGroupCreateMkStream(ctx, s.stream, group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("queue: create consumer group: %w", err)
	}
	return nil
}

// Register makes consumer known to the group, so that it shows among the
// workers before it takes its first job.
func (s *Store) Register(ctx context.Context, consumer string) error {
	if err := s.EnsureGroup(ctx); err != nil {
		return err
	}
	err := s.rdb.XGroupCreateConsumer(ctx, s.stream, group, consumer).Err()
	if err != nil {
		return fmt.Errorf("queue: register consumer %s: %w", consumer, err)
	}
	return nil
}

// Delivery is a job that a worker has started and owns.
type Delivery struct {
	Job      *Job
	Audio    []byte
	Attempt  int
	Consumer string
	entry    string
}

// Result is returned by Finish and Fail to say what happened to the job.
type Result string

// Outcomes of Fail.
const (
	Requeued  Result = "requeued"
	EndFailed Result = "failed"
)

// Take returns the next job for consumer, waiting up to block for one.
// It first claims deliveries whose lease expired, then reads new entries.
// It returns nil and no error when no job arrived in time.
func (s *Store) Take(ctx context.Context, consumer string, block time.Duration) (*Delivery, error) {
	claimed, _, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream:   s.stream,
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
		Streams:  []string{s.stream, ">"},
		Count:    1,
		Block:    block,
	}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, nil
	case isNoGroup(err):
		// The stream was removed (Redis flushed or restarted empty).
		return nil, s.EnsureGroup(ctx)
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

func isNoGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOGROUP")
}

// startFirst starts the first of msgs that is still a live job; stale
// entries are removed by the start script.
func (s *Store) startFirst(ctx context.Context, consumer string,
	msgs []redis.XMessage) (*Delivery, error) {
	for _, m := range msgs {
		id, _ := m.Values["job"].(string)
		if !ValidID(id) {
			s.rdb.XAck(ctx, s.stream, group, m.ID)
			s.rdb.XDel(ctx, s.stream, m.ID)
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
	keys := []string{s.stream, s.jobKey(id), s.audioKey(id)}
	res, err := startScript.Run(ctx, s.rdb, keys, group, entry, consumer, s.nowMS(),
		s.opts.MaxAttempts, s.opts.ResultTTL.Milliseconds()).Slice()
	if err != nil {
		return nil, fmt.Errorf("queue: start job %s: %w", id, err)
	}
	if len(res) != 2 || res[0] != "started" {
		return nil, nil
	}
	attempt, _ := res[1].(int64)
	job, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	audio, err := s.rdb.Get(ctx, s.audioKey(id)).Bytes()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("queue: read audio of job %s: %w", id, err)
	}
	return &Delivery{
		Job:      job,
		Audio:    audio,
		Attempt:  int(attempt),
		Consumer: consumer,
		entry:    entry,
	}, nil
}

// Renew extends the lease on d. It returns ErrLost when the worker no
// longer owns the job, in which case it must stop working on it.
func (s *Store) Renew(ctx context.Context, d *Delivery) error {
	keys := []string{s.stream, s.jobKey(d.Job.ID)}
	ok, err := renewScript.Run(ctx, s.rdb, keys, group, d.entry, d.Consumer, d.Attempt).Int()
	if err != nil {
		return fmt.Errorf("queue: renew lease of job %s: %w", d.Job.ID, err)
	}
	if ok == 0 {
		return ErrLost
	}
	return nil
}

// Finish stores the result of d and ends the job succeeded. It returns
// ErrLost, storing nothing, when the worker no longer owns the job.
func (s *Store) Finish(ctx context.Context, d *Delivery, r *transcript.Result) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("queue: encode result of job %s: %w", d.Job.ID, err)
	}
	keys := []string{s.stream, s.jobKey(d.Job.ID), s.audioKey(d.Job.ID)}
	ok, err := finishScript.Run(ctx, s.rdb, keys, group, d.entry, d.Consumer, d.Attempt,
		s.nowMS(), body, s.opts.ResultTTL.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("queue: finish job %s: %w", d.Job.ID, err)
	}
	if ok == 0 {
		return ErrLost
	}
	return nil
}

// Fail records a failed attempt of d. A retryable failure queues the job
// again while attempts remain; any other ends it failed. The reason and
// code are kept on the job for clients to read.
func (s *Store) Fail(ctx context.Context, d *Delivery, reason, code string,
	retryable bool) (Result, error) {
	retry := "0"
	if retryable {
		retry = "1"
	}
	keys := []string{s.stream, s.jobKey(d.Job.ID), s.audioKey(d.Job.ID)}
	res, err := failScript.Run(ctx, s.rdb, keys, group, d.entry, d.Consumer, d.Attempt,
		s.nowMS(), reason, code, retry, s.opts.MaxAttempts,
		s.opts.ResultTTL.Milliseconds(), d.Job.ID).Text()
	if err != nil {
		return "", fmt.Errorf("queue: fail job %s: %w", d.Job.ID, err)
	}
	if res == "lost" {
		return "", ErrLost
	}
	return Result(res), nil
}

// Release hands d back to the queue without spending an attempt, for a
// worker that stops before it could finish the job.
func (s *Store) Release(ctx context.Context, d *Delivery) error {
	keys := []string{s.stream, s.jobKey(d.Job.ID)}
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
