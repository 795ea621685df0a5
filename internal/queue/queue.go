// Package queue is the job queue and job store, kept in Redis.
//
// Jobs are hashes; their audio is a separate string, deleted when a job
// succeeds or is canceled and kept with a failed job so that it can be
// queued again. Delivery uses a Redis stream with one consumer group: a
// worker reads an entry, owns it while it keeps renewing its lease (the
// entry's idle time), and acknowledges it when the job ends. An entry whose
// worker stopped renewing for longer than the lease is claimed by another
// worker, which runs the job again as a new attempt. A job whose attempt
// failed in a way worth retrying waits in a sorted set until its backoff
// ends. Every state change is one Lua script (see scripts.go), so a worker
// that lost its lease cannot overwrite the job's newer state.
package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Errors returned by the Store.
var (
	ErrNotFound     = errors.New("queue: job not found")
	ErrFull         = errors.New("queue: queue is full")
	ErrLost         = errors.New("queue: job no longer owned by this worker")
	ErrFinal        = errors.New("queue: job already ended")
	ErrNotFailed    = errors.New("queue: only failed jobs can be queued again")
	ErrAudioExpired = errors.New("queue: the job's audio has expired")
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
	// RetryBackoff is the wait before the second attempt of a job whose
	// first failed; it doubles for each further attempt up to
	// RetryBackoffMax.
	RetryBackoff    time.Duration
	RetryBackoffMax time.Duration
	// IdempotencyTTL is how long an idempotency key is remembered.
	IdempotencyTTL time.Duration
}

// Store is the queue and job store. It is safe for concurrent use.
type Store struct {
	rdb  redis.UniversalClient
	opts Options
	// Now is the clock; tests may replace it before first use.
	Now func() time.Time
	// waits holds a token for each WaitEvents call blocking in Redis.
	waits chan struct{}
}

// New returns a Store over an existing client.
func New(rdb redis.UniversalClient, opts Options) *Store {
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = time.Second
	}
	if opts.RetryBackoffMax < opts.RetryBackoff {
		opts.RetryBackoffMax = opts.RetryBackoff
	}
	if opts.IdempotencyTTL <= 0 {
		opts.IdempotencyTTL = 24 * time.Hour
	}
	return &Store{rdb: rdb, opts: opts, Now: time.Now,
		waits: make(chan struct{}, waitSlots(rdb))}
}

// key returns the name of one of the deployment's keys.
func (s *Store) key(parts ...string) string {
	return "{" + s.opts.Prefix + "}:" + strings.Join(parts, ":")
}

func (s *Store) stream() string             { return s.key("jobs") }
func (s *Store) jobKey(id string) string    { return s.key("job", id) }
func (s *Store) audioKey(id string) string  { return s.key("audio", id) }
func (s *Store) delayed() string            { return s.key("delayed") }
func (s *Store) dead() string               { return s.key("dead") }
func (s *Store) seq() string                { return s.key("seq") }
func (s *Store) startedSeq() string         { return s.key("started-seq") }
func (s *Store) eventsKey(id string) string { return s.key("events", id) }

// idemKey hashes a client's idempotency key, which may be any string.
func (s *Store) idemKey(k string) string {
	sum := sha256.Sum256([]byte(k))
	return s.key("idem", hex.EncodeToString(sum[:]))
}

func (s *Store) nowMS() int64 { return s.Now().UnixMilli() }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("queue: ping redis: %w", err)
	}
	return nil
}

// Submit stores a job with its audio and queues it. It returns ErrFull,
// with nothing stored, when MaxQueued jobs are unfinished. With an
// idempotency key that already names a job, it returns that job and
// replayed = true instead.
func (s *Store) Submit(ctx context.Context, spec Spec) (job *Job, replayed bool, err error) {
	id, err := newID()
	if err != nil {
		return nil, false, err
	}
	idem, idemTTL, seen := s.idemKey("none"), int64(0), ""
	if spec.IdempotencyKey != "" {
		idem, idemTTL = s.idemKey(spec.IdempotencyKey), s.opts.IdempotencyTTL.Milliseconds()
		first, err := s.replay(ctx, idem)
		if first != nil || err != nil {
			return first, first != nil, err
		}
		seen, _ = s.rdb.Get(ctx, idem).Result()
	}
	keys := []string{s.stream(), s.jobKey(id), s.audioKey(id), s.delayed(), idem, s.seq(),
		s.startedSeq(), s.eventsKey(id)}
	options, err := json.Marshal(spec.Options)
	if err != nil {
		return nil, false, fmt.Errorf("queue: encode options: %w", err)
	}
	now := s.nowMS()
	res, err := submitScript.Run(ctx, s.rdb, keys, id, s.opts.MaxQueued, now,
		spec.Filename, spec.ContentType, spec.Audio, idemTTL, seen, options,
		spec.Callback).Slice()
	if err != nil {
		return nil, false, fmt.Errorf("queue: submit: %w", err)
	}
	status, _ := res[0].(string)
	switch status {
	case "full":
		return nil, false, ErrFull
	case "duplicate":
		firstID, _ := res[1].(string)
		first, err := s.Get(ctx, firstID)
		return first, err == nil, err
	}
	position, _ := res[2].(int64)
	return &Job{
		ID:          id,
		State:       Queued,
		Filename:    spec.Filename,
		ContentType: spec.ContentType,
		Size:        int64(len(spec.Audio)),
		Options:     spec.Options,
		Callback:    spec.Callback,
		Created:     time.UnixMilli(now),
		Position:    position,
	}, false, nil
}

// replay returns the live job an idempotency key names, if any.
func (s *Store) replay(ctx context.Context, idem string) (*Job, error) {
	id, err := s.rdb.Get(ctx, idem).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("queue: idempotency key: %w", err)
	}
	job, err := s.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return job, err
}

// Get returns the job with the given id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Job, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	pipe := s.rdb.Pipeline()
	hash := pipe.HGetAll(ctx, s.jobKey(id))
	started := pipe.Get(ctx, s.startedSeq())
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("queue: get job %s: %w", id, err)
	}
	h := hash.Val()
	if len(h) == 0 {
		return nil, ErrNotFound
	}
	return fromHash(id, h, started.Val())
}

// Cancel ends a queued or running job canceled and returns the state it
// was in. A running job's worker stops at its next lease renewal. It
// returns ErrNotFound, or an error wrapping ErrFinal for a job that
// already ended.
func (s *Store) Cancel(ctx context.Context, id string) (State, error) {
	if !ValidID(id) {
		return "", ErrNotFound
	}
	keys := []string{s.stream(), s.jobKey(id), s.audioKey(id), s.delayed(),
		s.canceledIndex(), s.statsKey(), s.eventsKey(id)}
	prev, err := cancelScript.Run(ctx, s.rdb, keys, group, id, s.nowMS(),
		s.opts.ResultTTL.Milliseconds()).Text()
	if err != nil {
		return "", fmt.Errorf("queue: cancel job %s: %w", id, err)
	}
	switch State(prev) {
	case "":
		return "", ErrNotFound
	case Queued, Running:
		return State(prev), nil
	default:
		return State(prev), fmt.Errorf("%w: it is %s", ErrFinal, prev)
	}
}

// Requeue queues a failed job again with its attempts reset. It returns
// ErrNotFound, ErrNotFailed (wrapped, naming the state) or ErrAudioExpired.
func (s *Store) Requeue(ctx context.Context, id string) error {
	if !ValidID(id) {
		return ErrNotFound
	}
	keys := []string{s.stream(), s.jobKey(id), s.audioKey(id), s.dead(), s.seq(),
		s.eventsKey(id)}
	res, err := requeueScript.Run(ctx, s.rdb, keys, id).Text()
	if err != nil {
		return fmt.Errorf("queue: requeue job %s: %w", id, err)
	}
	switch res {
	case "requeued":
		return nil
	case "":
		return ErrNotFound
	case "no_audio":
		return ErrAudioExpired
	default:
		return fmt.Errorf("%w: it is %s", ErrNotFailed, res)
	}
}

// ensureGroup creates the stream and its consumer group if missing. The
// group starts at the stream's beginning so that jobs submitted before any
// worker existed are delivered.
func (s *Store) ensureGroup(ctx context.Context) error {
	err := s.rdb.XGroupCreateMkStream(ctx, s.stream(), group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("queue: create consumer group: %w", err)
	}
	return nil
}

// Register makes consumer known to the group, so that it shows among the
// workers before it takes its first job.
func (s *Store) Register(ctx context.Context, consumer string) error {
	if err := s.ensureGroup(ctx); err != nil {
		return err
	}
	err := s.rdb.XGroupCreateConsumer(ctx, s.stream(), group, consumer).Err()
	if err != nil {
		return fmt.Errorf("queue: register consumer %s: %w", consumer, err)
	}
	return nil
}

func isNoGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOGROUP")
}
