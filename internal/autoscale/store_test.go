package autoscale

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asr-server/asr-server/internal/queue"
	"github.com/asr-server/asr-server/internal/redistest"
)

// TestScalerReadsRedis checks the figures a Scaler reads from a real
// queue.Store: queued jobs, jobs held by a worker, the oldest wait.
func TestScalerReadsRedis(t *testing.T) {
	srv := redistest.StartT(t, redistest.Options{})
	rdb, err := queue.Dial(srv.URL, time.Second, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	store := queue.New(rdb, queue.Options{Prefix: "as", Lease: 10 * time.Second,
		MaxAttempts: 3, MaxQueued: 100, ResultTTL: time.Minute, RetryBackoff: time.Second,
		RetryBackoffMax: time.Second, IdempotencyTTL: time.Minute})
	ctx := context.Background()
	if err := store.Register(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	for range 9 {
		if _, _, err := store.Submit(ctx, queue.Spec{Audio: []byte("x"), Filename: "a.wav",
			ContentType: "audio/wav"}); err != nil {
			t.Fatal(err)
		}
	}
	if d, err := store.Take(ctx, "w1", 50*time.Millisecond); d == nil || err != nil {
		t.Fatalf("take: %v, %v", d, err)
	}

	// Now: 8 queued for 1 instance, 4 per instance over 2: to 4 at once.
	log := &records{}
	f := &fakeFleet{n: 1}
	now := time.Now()
	s := New(Params{Limits: limits, Poll: time.Second, Queue: store, Fleet: f,
		Log: slog.New(log), Now: func() time.Time { return now }})
	s.Step(ctx)
	lines := log.take()
	want := "INFO scaling out reason=queue_depth instances=1 in_flight=1 queued=8 oldest_wait_s="
	if len(lines) != 2 || !strings.HasPrefix(lines[0], want) || !slices.Equal(f.scales, []int{4}) {
		t.Fatalf("logged %q, scaled to %v; want %q... and [4]", lines, f.scales, want)
	}

	// A minute later, at max, the oldest job has waited past max_wait.
	now = now.Add(time.Minute)
	s.Step(ctx)
	lines = log.take()
	want = "INFO no change reason=at_max instances=4 in_flight=1 queued=8 oldest_wait_s=60."
	if len(lines) != 1 || !strings.HasPrefix(lines[0], want) {
		t.Fatalf("logged %q, want %q...", lines, want)
	}
}
