package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// WorkerStatus is what a live worker reports about itself.
type WorkerStatus struct {
	Name string
	Host string
	PID  int
	Job  string // id of the job it runs, or ""
	// JobsDone and AudioSeconds count the jobs this worker process
	// completed successfully and the seconds of audio they held.
	JobsDone     int
	AudioSeconds float64
	// Progress is the current job's progress in percent; 0 when idle.
	Progress int
	Started  time.Time
	Seen     time.Time // time of the last heartbeat
}

func (s *Store) workerKey(name string) string { return s.key("worker", name) }
func (s *Store) workers() string              { return s.key("workers") }

// Heartbeat records st as the worker's state; it is forgotten when no
// heartbeat follows within ttl.
func (s *Store) Heartbeat(ctx context.Context, st WorkerStatus, ttl time.Duration) error {
	key := s.workerKey(st.Name)
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, key, "name", st.Name, "host", st.Host, "pid", st.PID, "job", st.Job,
		"jobs_done", st.JobsDone, "audio_s", secondsArg(st.AudioSeconds),
		"progress", st.Progress, "started_ms", st.Started.UnixMilli(), "seen_ms", s.nowMS())
	pipe.PExpire(ctx, key, ttl)
	pipe.SAdd(ctx, s.workers(), st.Name)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("queue: heartbeat of %s: %w", st.Name, err)
	}
	return nil
}

// leaveScript forgets a worker, and removes it from the stream's consumers
// unless it holds a job. It is one step, so that a worker of the same name
// elsewhere cannot take a job between the check and the removal (removing
// a consumer drops its pending entries, which then nobody can reclaim).
//
//	KEYS[1] stream, KEYS[2] worker hash, KEYS[3] live workers set
//	ARGV[1] group, ARGV[2] worker name
var leaveScript = redis.NewScript(`
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[2])
local held = redis.pcall('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if type(held) ~= 'table' or held.err or #held > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// Leave removes a stopping worker from the list of live workers, and from
// the stream's consumers unless it still holds a job (which another
// worker will then claim).
func (s *Store) Leave(ctx context.Context, name string) error {
	keys := []string{s.stream(), s.workerKey(name), s.workers()}
	if err := leaveScript.Run(ctx, s.rdb, keys, group, name).Err(); err != nil {
		return fmt.Errorf("queue: remove worker %s: %w", name, err)
	}
	return nil
}

// Overview is the state of the queue and its workers at one moment.
type Overview struct {
	// Queued jobs wait for a worker; Retrying ones wait for their retry
	// time after a failed attempt; Running ones are held by a worker.
	Queued   int64
	Retrying int64
	Running  int64
	// DeadLetters counts failed jobs still kept.
	DeadLetters int64
	// OldestQueued is when the longest-waiting queued job was queued;
	// zero when none waits.
	OldestQueued time.Time
	Workers      []WorkerStatus
}

// Overview returns the current state of the queue.
func (s *Store) Overview(ctx context.Context) (*Overview, error) {
	if err := s.pruneDead(ctx); err != nil {
		return nil, err
	}
	pipe := s.rdb.Pipeline()
	length := pipe.XLen(ctx, s.stream())
	retrying := pipe.ZCard(ctx, s.delayed())
	dead := pipe.ZCard(ctx, s.dead())
	names := pipe.SMembers(ctx, s.workers())
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("queue: overview: %w", err)
	}
	o := &Overview{Retrying: retrying.Val(), DeadLetters: dead.Val()}
	var err error
	if o.Running, o.OldestQueued, err = s.deliveryState(ctx); err != nil {
		return nil, err
	}
	o.Queued = max(length.Val()-o.Running, 0)
	if o.Workers, err = s.liveWorkers(ctx, names.Val()); err != nil {
		return nil, err
	}
	return o, nil
}

// deliveryState returns the number of delivered, unacknowledged entries
// and the time the oldest undelivered entry was added.
func (s *Store) deliveryState(ctx context.Context) (int64, time.Time, error) {
	groups, err := s.rdb.XInfoGroups(ctx, s.stream()).Result()
	if err != nil && !strings.Contains(err.Error(), "no such key") {
		return 0, time.Time{}, fmt.Errorf("queue: stream groups: %w", err)
	}
	var pending int64
	after := "-"
	for _, g := range groups {
		if g.Name == group {
			pending = g.Pending
			after = "(" + g.LastDeliveredID
		}
	}
	next, err := s.rdb.XRangeN(ctx, s.stream(), after, "+", 1).Result()
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("queue: oldest queued job: %w", err)
	}
	if len(next) == 0 {
		return pending, time.Time{}, nil
	}
	ms, _, _ := strings.Cut(next[0].ID, "-")
	n, _ := strconv.ParseInt(ms, 10, 64)
	return pending, time.UnixMilli(n), nil
}

// liveWorkers reads the status of each named worker, forgetting those
// whose heartbeats stopped.
func (s *Store) liveWorkers(ctx context.Context, names []string) ([]WorkerStatus, error) {
	var live []WorkerStatus
	for _, name := range names {
		h, err := s.rdb.HGetAll(ctx, s.workerKey(name)).Result()
		if err != nil {
			return nil, fmt.Errorf("queue: worker %s: %w", name, err)
		}
		if len(h) == 0 {
			s.rdb.SRem(ctx, s.workers(), name)
			continue
		}
		st := WorkerStatus{Name: name, Host: h["host"], Job: h["job"],
			Started: msTime(h["started_ms"]), Seen: msTime(h["seen_ms"])}
		st.PID, _ = strconv.Atoi(h["pid"])
		st.JobsDone, _ = strconv.Atoi(h["jobs_done"])
		st.AudioSeconds, _ = strconv.ParseFloat(h["audio_s"], 64)
		st.Progress, _ = strconv.Atoi(h["progress"])
		live = append(live, st)
	}
	return live, nil
}

// pruneDead forgets dead letters older than the result lifetime, whose
// jobs Redis has expired.
func (s *Store) pruneDead(ctx context.Context) error {
	cutoff := s.Now().Add(-s.opts.ResultTTL).UnixMilli()
	err := s.rdb.ZRemRangeByScore(ctx, s.dead(), "-inf", strconv.FormatInt(cutoff, 10)).Err()
	if err != nil {
		return fmt.Errorf("queue: prune dead letters: %w", err)
	}
	return nil
}

// DeadLetters returns up to limit failed jobs, the most recent first.
func (s *Store) DeadLetters(ctx context.Context, limit int64) ([]*Job, error) {
	if err := s.pruneDead(ctx); err != nil {
		return nil, err
	}
	ids, err := s.rdb.ZRevRange(ctx, s.dead(), 0, limit-1).Result()
	if err != nil {
		return nil, fmt.Errorf("queue: dead letters: %w", err)
	}
	jobs := make([]*Job, 0, len(ids))
	for _, id := range ids {
		job, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			s.rdb.ZRem(ctx, s.dead(), id)
			continue
		}
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, job)
	}
	return jobs, nil
}
