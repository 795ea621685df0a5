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

// Event is one entry of a job's event stream: a change of state
// ("state"), progress ("progress") or a decoded segment ("segment").
type Event struct {
	// ID orders the events of a job; a client resumes after it.
	ID   string
	Type string
	Data json.RawMessage
}

// Events returns up to count events of job id that follow the event
// after ("" for the first).
func (s *Store) Events(ctx context.Context, id, after string, count int64) ([]Event, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	start := "-"
	if after != "" {
		start = "(" + after
	}
	msgs, err := s.rdb.XRangeN(ctx, s.eventsKey(id), start, "+", count).Result()
	if err != nil {
		return nil, fmt.Errorf("queue: events of job %s: %w", id, err)
	}
	return toEvents(msgs), nil
}

func toEvents(msgs []redis.XMessage) []Event {
	events := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		kind, _ := m.Values["type"].(string)
		data, _ := m.Values["data"].(string)
		events = append(events, Event{ID: m.ID, Type: kind, Data: json.RawMessage(data)})
	}
	return events
}

// waitPoll is how often WaitEvents looks for events while every blocking
// slot is taken.
const waitPoll = 50 * time.Millisecond

// WaitEvents is Events that waits: when no event follows after yet, it
// waits up to block for one to be appended and returns none if none was.
//
// The wait is a blocking read, which holds one of the client's pooled
// connections until an event arrives or block passes. So that waiting
// callers cannot starve every other command, at most half of the pool
// (see waitSlots) blocks at once; a caller that finds no slot free looks
// every waitPoll instead. When ctx ends, WaitEvents returns its error at
// once; a blocking read it leaves behind keeps its connection and slot
// until it returns, so callers keep block short.
func (s *Store) WaitEvents(ctx context.Context, id, after string, count int64,
	block time.Duration) ([]Event, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	deadline := time.Now().Add(block)
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("queue: wait for events of job %s: %w", id, err)
		}
		left := time.Until(deadline)
		// XREAD counts its wait in whole milliseconds, and 0 means forever.
		if left < time.Millisecond {
			return s.Events(ctx, id, after, count)
		}
		select {
		case s.waits <- struct{}{}:
			return s.blockingRead(ctx, id, after, count, left)
		default:
		}
		events, err := s.Events(ctx, id, after, count)
		if err != nil || len(events) > 0 {
			return events, err
		}
		timer := time.NewTimer(min(waitPoll, left))
		select {
		case <-ctx.Done():
			timer.Stop()
		case <-timer.C:
		}
	}
}

// blockingRead runs readEvents for a caller that holds a slot in s.waits,
// and frees the slot when the read returns, which may be after ctx ended
// and blockingRead returned.
func (s *Store) blockingRead(ctx context.Context, id, after string, count int64,
	block time.Duration) ([]Event, error) {
	type read struct {
		events []Event
		err    error
	}
	done := make(chan read, 1)
	go func() {
		defer func() { <-s.waits }()
		// A canceled context does not interrupt a read in go-redis, and a
		// deadline shorter than block would turn into a broken connection.
		events, err := s.readEvents(context.WithoutCancel(ctx), id, after, count, block)
		done <- read{events, err}
	}()
	select {
	case r := <-done:
		return r.events, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("queue: wait for events of job %s: %w", id, ctx.Err())
	}
}

// readEvents reads the events that follow after, blocking up to block
// (at least a millisecond) for the first.
func (s *Store) readEvents(ctx context.Context, id, after string, count int64,
	block time.Duration) ([]Event, error) {
	if after == "" {
		after = "0-0"
	}
	streams, err := s.rdb.XRead(ctx, &redis.XReadArgs{
		Streams: []string{s.eventsKey(id), after},
		Count:   count,
		Block:   block,
	}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("queue: wait for events of job %s: %w", id, err)
	}
	var events []Event
	for _, st := range streams {
		events = append(events, toEvents(st.Messages)...)
	}
	return events, nil
}

// waitSlots is how many WaitEvents calls of a Store may block at once:
// half of its client's connection pool.
func waitSlots(rdb redis.UniversalClient) int {
	pool := 0
	switch c := rdb.(type) {
	case *redis.Client:
		pool = c.Options().PoolSize
	case *redis.ClusterClient:
		pool = c.Options().PoolSize
	}
	if pool <= 0 {
		// Another kind of client: assume a small pool.
		pool = 10
	}
	return max(pool/2, 1)
}

// ValidEventID reports whether s has the shape of an event id.
func ValidEventID(s string) bool {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(ms, 10, 64)
	_, err2 := strconv.ParseUint(seq, 10, 64)
	return err1 == nil && err2 == nil
}

// Progress records how far the running job of d has come, in percent.
func (s *Store) Progress(ctx context.Context, d *Delivery, percent int) error {
	data := fmt.Sprintf(`{"percent":%d}`, percent)
	return s.report(ctx, d, "progress", []byte(data), strconv.Itoa(percent))
}

// Segment records a segment of d's job as soon as it is decoded.
func (s *Store) Segment(ctx context.Context, d *Delivery, seg transcript.Segment) error {
	data, err := json.Marshal(struct {
		Start float64 `json:"start"`
		End   float64 `json:"end"`
		Text  string  `json:"text"`
	}{seg.Start, seg.End, seg.Text})
	if err != nil {
		return fmt.Errorf("queue: encode segment: %w", err)
	}
	return s.report(ctx, d, "segment", data, "")
}

func (s *Store) report(ctx context.Context, d *Delivery, kind string, data []byte,
	percent string) error {
	keys := []string{s.stream(), s.jobKey(d.Job.ID), s.eventsKey(d.Job.ID)}
	ok, err := reportScript.Run(ctx, s.rdb, keys, group, d.entry, d.Consumer, d.Attempt,
		kind, data, percent).Int()
	if err != nil {
		return fmt.Errorf("queue: report %s of job %s: %w", kind, d.Job.ID, err)
	}
	if ok == 0 {
		return ErrLost
	}
	return nil
}
