package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Concurrency of the throughput clients: how many submit to our API at
// once, and how many requests whisper-server receives at once.
const (
	submitters    = 16
	serverClients = 8
)

// throughputConfig is one shape of the service: workers of threads each.
type throughputConfig struct{ workers, threads int }

func (c throughputConfig) String() string {
	return fmt.Sprintf("%d worker(s) x %d thread(s)", c.workers, c.threads)
}

// APIMemory is asr-api's resident memory idle and under load.
type APIMemory struct {
	Idle, LoadPeak int64
}

// Throughput submits jobs of jfk.wav at once to 1, 2 and 4 workers of 1
// or 2 threads, and sends whisper-server the same requests from
// concurrent clients, and reports audio seconds per wall second, the
// median of rounds rounds that each run every configuration once. It
// returns asr-api's memory idle and at its highest under the load.
func (e *Env) Throughput(ctx context.Context, rep *Report, jobs, rounds int) (APIMemory,
	error) {
	samples, err := DecodeSpeech(e.JFK)
	if err != nil {
		return APIMemory{}, err
	}
	audioS := float64(jobs) * Seconds(samples)
	item := "2 throughput"

	var apiMem APIMemory
	var configs []throughputConfig
	for _, w := range []int{1, 2, 4} {
		for _, t := range []int{1, 2} {
			configs = append(configs, throughputConfig{w, t})
		}
	}
	oursRuns := map[throughputConfig][]float64{}
	serverRuns := map[int][]float64{}
	for round := range rounds {
		for _, cfg := range configs {
			e.Logf("throughput: %v, %d jobs, round %d of %d", cfg, jobs, round+1, rounds)
			wall, mem, err := e.serviceThroughput(ctx, cfg, jobs)
			if err != nil {
				return apiMem, fmt.Errorf("%v: %w", cfg, err)
			}
			oursRuns[cfg] = append(oursRuns[cfg], audioS/wall.Seconds())
			if apiMem.Idle == 0 {
				apiMem.Idle = mem.Idle
			}
			apiMem.LoadPeak = max(apiMem.LoadPeak, mem.LoadPeak)
		}
		for _, t := range []int{1, 2} {
			e.Logf("throughput: whisper-server, %d thread(s), %d requests, round %d of %d",
				t, jobs, round+1, rounds)
			wall, err := e.serverThroughput(ctx, t, jobs)
			if err != nil {
				return apiMem, fmt.Errorf("whisper-server, %d thread(s): %w", t, err)
			}
			serverRuns[t] = append(serverRuns[t], audioS/wall.Seconds())
		}
	}
	ours := map[throughputConfig]float64{}
	for cfg, xs := range oursRuns {
		ours[cfg] = Median(xs)
	}
	servers := map[int]float64{}
	for t, xs := range serverRuns {
		servers[t] = Median(xs)
	}

	bestT, bestServer := 0, 0.0
	for t, v := range servers {
		if v > bestServer || (v == bestServer && t < bestT) {
			bestT, bestServer = t, v
		}
	}
	anchor := fmt.Sprintf("whisper-server best (%d thread(s))", bestT)
	for _, t := range []int{1, 2} {
		if v, ok := servers[t]; ok {
			rep.Add(Row{Item: item, Name: fmt.Sprintf("whisper-server, %d thread(s), %d "+
				"concurrent clients", t, serverClients), Value: v, Unit: "audio-s/s",
				Note: fmt.Sprintf("%d requests, median of %d", jobs, rounds)})
		}
	}
	var best throughputConfig
	for _, cfg := range configs {
		v, ok := ours[cfg]
		if !ok {
			continue
		}
		if v > ours[best] {
			best = cfg
		}
		note := fmt.Sprintf("%d jobs submitted at once, median of %d", jobs, rounds)
		if base, ok := ours[throughputConfig{1, cfg.threads}]; ok && cfg.workers > 1 {
			note += fmt.Sprintf("; scaling efficiency %.0f%% (against %d x the "+
				"1-worker figure)", 100*v/(float64(cfg.workers)*base), cfg.workers)
		}
		rep.Add(Row{Item: item, Name: "ours: " + cfg.String(), Value: v, Unit: "audio-s/s",
			Anchor: anchor, AnchorValue: bestServer, Note: note})
	}
	if best.workers > 0 {
		one := ours[throughputConfig{1, 1}]
		note := "best configuration on this machine"
		if one > 0 {
			note += fmt.Sprintf("; %.2fx 1 worker x 1 thread with %d threads in all, "+
				"efficiency %.0f%%", ours[best]/one, best.workers*best.threads,
				100*ours[best]/one/float64(best.workers*best.threads))
		}
		rep.Add(Row{Item: item, Name: "ours best: " + best.String(), Value: ours[best],
			Unit: "audio-s/s", Anchor: anchor, AnchorValue: bestServer, Note: note})
	}
	return apiMem, nil
}

// serviceThroughput runs one configuration: it submits jobs at once and
// returns the wall time until the last one finished.
func (e *Env) serviceThroughput(ctx context.Context, cfg throughputConfig,
	jobs int) (time.Duration, APIMemory, error) {
	var mem APIMemory
	r, err := e.StartRedis()
	if err != nil {
		return 0, mem, err
	}
	defer r.Stop()
	api, err := e.StartAPI(r)
	if err != nil {
		return 0, mem, err
	}
	defer api.Stop(10 * time.Second)
	workers, err := e.StartWorkers(r, cfg.workers, WorkerSpec{Model: e.TinyModel,
		Threads: cfg.threads})
	if err != nil {
		return 0, mem, err
	}
	defer stopAll(workers)
	f, err := newForm(e.JFK, field{"language", "en"}, field{"best_of", "2"})
	if err != nil {
		return 0, mem, err
	}
	idle, err := ReadMemory(api.PID())
	if err != nil {
		return 0, mem, err
	}
	mem.Idle = idle.RSS

	c := newClient(submitters)
	start := time.Now()
	ids := make([]string, jobs)
	err = parallel(jobs, submitters, func(i int) error {
		id, err := submitJob(ctx, c, api.URL, f)
		ids[i] = id
		return err
	})
	if err == nil {
		err = awaitDrained(ctx, c, api.URL)
	}
	if err != nil {
		return 0, mem, err
	}
	// The API started just before the load, so its peak is the load's.
	loaded, err := ReadMemory(api.PID())
	if err != nil {
		return 0, mem, err
	}
	mem.LoadPeak = loaded.Peak
	last, err := lastFinished(ctx, c, api.URL, ids)
	if err != nil {
		return 0, mem, err
	}
	return last.Sub(start), mem, nil
}

// awaitDrained waits until no job is queued, retrying or running.
func awaitDrained(ctx context.Context, c *http.Client, api string) error {
	for {
		q, err := getQueue(ctx, c, api)
		if err != nil {
			return err
		}
		if q.Queued+q.Retrying+q.Running == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: waiting for the queue to drain: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lastFinished checks that every job succeeded and returns when the last
// one finished.
func lastFinished(ctx context.Context, c *http.Client, api string,
	ids []string) (time.Time, error) {
	var mu sync.Mutex
	var last time.Time
	err := parallel(len(ids), submitters, func(i int) error {
		j, err := getJob(ctx, c, api, ids[i])
		if err != nil {
			return err
		}
		if j.State != "succeeded" || j.FinishedAt == nil {
			return fmt.Errorf("bench: job %s ended %s", j.ID, j.State)
		}
		mu.Lock()
		if j.FinishedAt.After(last) {
			last = *j.FinishedAt
		}
		mu.Unlock()
		return nil
	})
	return last, err
}

// serverThroughput sends jobs requests to whisper-server from concurrent
// clients and returns the wall time until the last answer.
func (e *Env) serverThroughput(ctx context.Context, threads, jobs int) (time.Duration, error) {
	ws, err := e.StartWhisperServer(e.TinyModel, threads)
	if err != nil {
		return 0, err
	}
	defer ws.Stop(10 * time.Second)
	f, err := newForm(e.JFK, field{"response_format", "json"})
	if err != nil {
		return 0, err
	}
	c := newClient(serverClients)
	start := time.Now()
	err = parallel(jobs, serverClients, func(int) error {
		_, _, err := post(ctx, c, ws.URL+"/inference", f, http.StatusOK)
		return err
	})
	return time.Since(start), err
}

// parallel runs f(0) to f(n-1) on conc goroutines and returns the first
// error; after an error the remaining calls are skipped.
func parallel(n, conc int, f func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || failed.Load() {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	return first
}
