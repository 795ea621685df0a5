package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestWaitEventsReturnsWhatFollows(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx := context.Background()
	j := submit(t, s, "audio")
	first, err := s.WaitEvents(ctx, j.ID, "", 10, time.Minute)
	if err != nil || len(first) != 1 || first[0].Type != "state" ||
		string(first[0].Data) != `{"state":"queued"}` {
		t.Fatalf("first events: %+v %v", first, err)
	}
	if none, err := s.WaitEvents(ctx, j.ID, first[0].ID, 10, 20*time.Millisecond); err != nil ||
		len(none) != 0 {
		t.Fatalf("events after the last one: %+v %v", none, err)
	}
	got := make(chan []Event, 1)
	go func() {
		events, err := s.WaitEvents(ctx, j.ID, first[0].ID, 10, time.Minute)
		if err != nil {
			t.Error(err)
		}
		got <- events
	}()
	if d := take(t, s, "w1"); d == nil || d.Job.ID != j.ID {
		t.Fatalf("took %+v, want job %s", d, j.ID)
	}
	events := <-got
	var running struct {
		State   State  `json:"state"`
		Attempt int    `json:"attempt"`
		Worker  string `json:"worker"`
	}
	if len(events) != 1 || events[0].Type != "state" ||
		json.Unmarshal(events[0].Data, &running) != nil || running.State != Running ||
		running.Attempt != 1 || running.Worker != "w1" {
		t.Fatalf("woke with %+v, want one state event: running, attempt 1, worker w1",
			events)
	}
	if _, err := s.WaitEvents(ctx, "not-an-id", "", 10, time.Second); err != ErrNotFound {
		t.Fatalf("invalid id: %v", err)
	}
}

// xreadCounter counts the blocking reads in flight on a client, and the
// non-blocking reads of each event stream.
type xreadCounter struct {
	mu                sync.Mutex
	inFlight, maxSeen int
	ranges            map[string]int
}

func (c *xreadCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *xreadCounter) ProcessPipelineHook(
	next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (c *xreadCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		switch cmd.Name() {
		case "xread":
			c.inFlight++
			c.maxSeen = max(c.maxSeen, c.inFlight)
		case "xrange":
			c.ranges[fmt.Sprint(cmd.Args()[1])]++
		}
		c.mu.Unlock()
		err := next(ctx, cmd)
		if cmd.Name() == "xread" {
			c.mu.Lock()
			c.inFlight--
			c.mu.Unlock()
		}
		return err
	}
}

func (c *xreadCounter) state() (inFlight, maxSeen, polled int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inFlight, c.maxSeen, len(c.ranges)
}

// TestWaitEventsBlocksOnHalfThePool checks that waiting callers leave
// half of the connection pool to other commands: past that, they poll.
func TestWaitEventsBlocksOnHalfThePool(t *testing.T) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	opts.PoolSize = 4
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	counter := &xreadCounter{ranges: map[string]int{}}
	rdb.AddHook(counter)
	prefixes++
	s := New(rdb, Options{Prefix: fmt.Sprintf("t%d", prefixes), Lease: time.Minute,
		MaxAttempts: 1, MaxQueued: 100, ResultTTL: time.Minute})
	ctx := context.Background()

	const waiters = 5
	type result struct {
		id     string
		events []Event
		err    error
	}
	results := make(chan result, waiters)
	var ids, lasts []string
	for range waiters {
		j := submit(t, s, "audio")
		queued, err := s.Events(ctx, j.ID, "", 10)
		if err != nil || len(queued) != 1 {
			t.Fatalf("events of a new job: %+v %v", queued, err)
		}
		ids, lasts = append(ids, j.ID), append(lasts, queued[0].ID)
	}
	counter.mu.Lock()
	clear(counter.ranges)
	counter.mu.Unlock()
	for i, id := range ids {
		go func() {
			events, err := s.WaitEvents(ctx, id, lasts[i], 10, time.Minute)
			results <- result{id, events, err}
		}()
	}
	// Two waiters block and three poll; other commands still find a
	// connection.
	deadline := time.Now().Add(20 * time.Second)
	for {
		inFlight, _, polled := counter.state()
		if inFlight == 2 && polled == waiters-2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d blocking reads and %d polled streams, want 2 and %d", inFlight,
				polled, waiters-2)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if j := get(t, s, submit(t, s, "other").ID); j.State != Queued {
		t.Fatalf("a job submitted while callers wait: %+v", j)
	}
	// Each cancel appends the event its waiter waits for.
	for _, id := range ids {
		if _, err := s.Cancel(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	woken := map[string]bool{}
	for range waiters {
		r := <-results
		if r.err != nil || len(r.events) != 1 || string(r.events[0].Data) !=
			`{"state":"canceled"}` {
			t.Errorf("job %s: woke with %+v %v, want its cancel", r.id, r.events, r.err)
		}
		woken[r.id] = true
	}
	if _, maxSeen, _ := counter.state(); maxSeen != 2 || len(woken) != waiters {
		t.Fatalf("%d blocking reads at most, want 2; %d waiters woke, want %d", maxSeen,
			len(woken), waiters)
	}
}
