package bench

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/asr-server/asr-server/internal/queue"
	"github.com/asr-server/asr-server/internal/redistest"
)

func TestOurDispatchDrainsEveryJob(t *testing.T) {
	srv := redistest.StartT(t, redistest.Options{})
	rdb, err := queue.Dial(srv.URL, time.Second, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	for _, consumers := range []int{1, 3} {
		run, err := ourDispatch(ctx, &Redis{Client: rdb}, 40, consumers)
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]float64{"enqueue": run.enqueue, "drain": run.drain} {
			if !(v > 0) || math.IsInf(v, 0) {
				t.Errorf("%d consumers: %s rate %v", consumers, name, v)
			}
		}
		store := queue.New(rdb, queue.Options{Prefix: "bench", ResultTTL: time.Hour})
		o, err := store.Overview(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if o.Queued != 0 || o.Running != 0 || o.Retrying != 0 || o.DeadLetters != 0 {
			t.Errorf("%d consumers: queue after the drain: %+v", consumers, o)
		}
		keys, err := rdb.Keys(ctx, "{bench}:job:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if state := rdb.HGet(ctx, k, "state").Val(); state != "succeeded" {
				t.Errorf("%s is %q, want succeeded", k, state)
			}
		}
		if len(keys) != 40 {
			t.Errorf("%d jobs stored, want 40", len(keys))
		}
	}
}
