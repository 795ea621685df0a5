package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// APILoad sends n submissions of a 32 KB WAV from clients concurrent
// clients to asr-api with no worker running, then checks that every
// accepted job is there.
func (e *Env) APILoad(ctx context.Context, rep *Report, n, clients int) error {
	item := "6 API under load"
	r, err := e.StartRedis()
	if err != nil {
		return err
	}
	defer r.Stop()
	api, err := e.StartAPI(r)
	if err != nil {
		return err
	}
	defer api.Stop(10 * time.Second)
	f, err := newForm(SizedWAV(32<<10), field{"language", "en"})
	if err != nil {
		return err
	}

	c := newClient(clients)
	latency := make([]time.Duration, n)
	ids := make([]string, n)
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t := time.Now()
				id, err := submitJob(ctx, c, api.URL, f)
				latency[i] = time.Since(t)
				if err != nil {
					failed.Add(1)
					once.Do(func() { firstErr = err })
					continue
				}
				ids[i] = id
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)

	// Every accepted job must be there: in the queue's count and by id.
	q, err := getQueue(ctx, c, api.URL)
	if err != nil {
		return err
	}
	var present atomic.Int64
	err = parallel(n, 16, func(i int) error {
		if ids[i] == "" {
			return nil
		}
		j, err := getJob(ctx, c, api.URL, ids[i])
		if err != nil {
			return err
		}
		if j.State == "queued" {
			present.Add(1)
		}
		return nil
	})
	if err != nil {
		return err
	}
	accepted := float64(n - int(failed.Load()))
	lat := msList(latency)
	note := fmt.Sprintf("%d multipart submissions of a 32 KiB WAV, %d clients, no worker",
		n, clients)
	rep.Add(Row{Item: item, Name: "submissions per second", Value: float64(n) /
		wall.Seconds(), Unit: "req/s", Note: note})
	rep.Add(Row{Item: item, Name: "latency p50", Value: Percentile(lat, 50), Unit: "ms",
		Note: note})
	rep.Add(Row{Item: item, Name: "latency p99", Value: Percentile(lat, 99), Unit: "ms",
		Note: note})
	errNote := "target 0"
	if firstErr != nil {
		errNote += "; first: " + firstErr.Error()
	}
	rep.Add(Row{Item: item, Name: "errors", Value: float64(failed.Load()), Unit: "",
		Note: errNote})
	rep.Add(Row{Item: item, Name: "jobs found queued by id afterwards",
		Value: float64(present.Load()), Unit: "", Anchor: "submissions",
		AnchorValue: float64(n), Note: "GET /v1/jobs/{id} of every accepted job"})
	rep.Add(Row{Item: item, Name: "queued per GET /v1/queue afterwards",
		Value: float64(q.Queued), Unit: "", Anchor: "accepted", AnchorValue: accepted,
		Note: "the stream's count"})
	return nil
}

// RedisPerJob submits jobs of 1 MiB audio with no worker running and
// reports Redis's used_memory growth per job.
func (e *Env) RedisPerJob(ctx context.Context, rep *Report, jobs int) error {
	r, err := e.StartRedis()
	if err != nil {
		return err
	}
	defer r.Stop()
	api, err := e.StartAPI(r)
	if err != nil {
		return err
	}
	defer api.Stop(10 * time.Second)
	const size = 1 << 20
	f, err := newForm(SizedWAV(size), field{"language", "en"})
	if err != nil {
		return err
	}
	c := newClient(1)
	// One job first, so that the keys every job shares already exist.
	if _, err := submitJob(ctx, c, api.URL, f); err != nil {
		return err
	}
	before, err := r.UsedMemory(ctx)
	if err != nil {
		return err
	}
	for range jobs {
		if _, err := submitJob(ctx, c, api.URL, f); err != nil {
			return err
		}
	}
	after, err := r.UsedMemory(ctx)
	if err != nil {
		return err
	}
	per := float64(after-before) / float64(jobs)
	rep.Add(Row{Item: "5 memory", Name: "Redis used_memory per queued job of 1 MiB audio",
		Value: per / 1024, Unit: "KiB", Anchor: "upload size", AnchorValue: size / 1024,
		Note: fmt.Sprintf("growth over %d queued jobs, no worker", jobs)})
	return nil
}
