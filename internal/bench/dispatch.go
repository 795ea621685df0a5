package bench

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asr-server/asr-server/internal/queue"
	"github.com/asr-server/asr-server/internal/transcript"
)

//go:embed rqnoop.py
var rqScript []byte

// dispatchConsumers is the larger number of consumers draining our queue.
const dispatchConsumers = 4

// dispatchRun is one drain: jobs per second to enqueue and to drain.
type dispatchRun struct{ enqueue, drain float64 }

// Dispatch moves no-op jobs through our queue (Submit, then Take and
// Finish with a tiny result) and through python3-rq (enqueue, then a
// burst-mode worker), each on its own private redis-server, and reports
// jobs per second, medians of reps runs.
func (e *Env) Dispatch(ctx context.Context, rep *Report, jobs, reps int) error {
	item := "3 dispatch"
	script := filepath.Join(e.Work, "rqnoop.py")
	if err := os.WriteFile(script, rqScript, 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	type series struct {
		name string
		run  func() (dispatchRun, error)
		got  []dispatchRun
	}
	rqRedis, err := e.StartRedis()
	if err != nil {
		return err
	}
	defer rqRedis.Stop()
	ourRedis, err := e.StartRedis()
	if err != nil {
		return err
	}
	defer ourRedis.Stop()
	all := []*series{
		{name: "rq-default", run: func() (dispatchRun, error) {
			return e.rqDispatch(ctx, script, rqRedis, "default", jobs)
		}},
		{name: "rq-simple", run: func() (dispatchRun, error) {
			return e.rqDispatch(ctx, script, rqRedis, "simple", jobs)
		}},
		{name: "ours-1", run: func() (dispatchRun, error) {
			return ourDispatch(ctx, ourRedis, jobs, 1)
		}},
		{name: "ours-n", run: func() (dispatchRun, error) {
			return ourDispatch(ctx, ourRedis, jobs, dispatchConsumers)
		}},
	}
	for i := range reps {
		for _, s := range all {
			e.Logf("dispatch: %s, %d jobs, run %d of %d", s.name, jobs, i+1, reps)
			r, err := s.run()
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			s.got = append(s.got, r)
		}
	}
	median := func(s *series, f func(dispatchRun) float64) float64 {
		var xs []float64
		for _, r := range s.got {
			xs = append(xs, f(r))
		}
		return Median(xs)
	}
	drain := func(r dispatchRun) float64 { return r.drain }
	enqueue := func(r dispatchRun) float64 { return r.enqueue }
	note := fmt.Sprintf("%d jobs, median of %d", jobs, reps)
	rqDefault := median(all[0], drain)
	rqEnqueue := median(all[0], enqueue)
	rep.Add(Row{Item: item, Name: "RQ enqueue, 1 producer", Value: rqEnqueue,
		Unit: "jobs/s", Note: note})
	rep.Add(Row{Item: item, Name: "ours: Submit, 1 producer", Value: median(all[2], enqueue),
		Unit: "jobs/s", Anchor: "RQ enqueue", AnchorValue: rqEnqueue, Note: note})
	rep.Add(Row{Item: item, Name: "RQ default Worker (forks per job), burst", Value: rqDefault,
		Unit: "jobs/s", Note: note})
	rep.Add(Row{Item: item, Name: "RQ SimpleWorker, burst", Value: median(all[1], drain),
		Unit: "jobs/s", Anchor: "RQ default Worker", AnchorValue: rqDefault, Note: note})
	rep.Add(Row{Item: item, Name: "ours: Take + Finish, 1 consumer",
		Value: median(all[2], drain), Unit: "jobs/s", Anchor: "RQ default Worker",
		AnchorValue: rqDefault, Note: note + "; target >= 10x"})
	rep.Add(Row{Item: item, Name: fmt.Sprintf("ours: Take + Finish, %d consumers",
		dispatchConsumers), Value: median(all[3], drain), Unit: "jobs/s",
		Anchor: "RQ default Worker", AnchorValue: rqDefault, Note: note + "; target >= 10x"})
	return nil
}

// ourDispatch submits jobs no-op jobs into an emptied Redis from one
// producer, then drains them with consumers goroutines.
func ourDispatch(ctx context.Context, r *Redis, jobs, consumers int) (dispatchRun, error) {
	if err := r.Client.FlushAll(ctx).Err(); err != nil {
		return dispatchRun{}, fmt.Errorf("bench: flush: %w", err)
	}
	store := queue.New(r.Client, queue.Options{
		Prefix:      "bench",
		Lease:       15 * time.Second,
		MaxAttempts: 3,
		MaxQueued:   int64(jobs) + 1,
		ResultTTL:   24 * time.Hour,
	})
	names := make([]string, consumers)
	for i := range names {
		names[i] = fmt.Sprintf("consumer-%d", i+1)
		if err := store.Register(ctx, names[i]); err != nil {
			return dispatchRun{}, err
		}
	}
	spec := queue.Spec{Audio: []byte("noop"), Filename: "noop.wav", ContentType: "audio/wav"}
	start := time.Now()
	for range jobs {
		if _, _, err := store.Submit(ctx, spec); err != nil {
			return dispatchRun{}, err
		}
	}
	submitted := time.Since(start)

	result := &transcript.Result{Text: "ok"}
	var done atomic.Int64
	var end atomic.Int64
	start = time.Now()
	err := parallel(consumers, consumers, func(i int) error {
		for done.Load() < int64(jobs) {
			d, err := store.Take(ctx, names[i], 100*time.Millisecond)
			if err != nil {
				return err
			}
			if d == nil {
				continue
			}
			if err := store.Finish(ctx, d, result); err != nil {
				return err
			}
			if done.Add(1) == int64(jobs) {
				end.Store(int64(time.Since(start)))
			}
		}
		return nil
	})
	if err != nil {
		return dispatchRun{}, err
	}
	return dispatchRun{
		enqueue: float64(jobs) / submitted.Seconds(),
		drain:   float64(jobs) / time.Duration(end.Load()).Seconds(),
	}, nil
}

// rqOutput is what rqnoop.py prints.
type rqOutput struct {
	EnqueueS float64 `json:"enqueue_s"`
	DrainS   float64 `json:"drain_s"`
	Finished int     `json:"finished"`
	Failed   int     `json:"failed"`
}

// rqDispatch runs rqnoop.py with one worker of kind ("default" or
// "simple").
func (e *Env) rqDispatch(ctx context.Context, script string, r *Redis, kind string,
	jobs int) (dispatchRun, error) {
	logFile, err := os.OpenFile(filepath.Join(e.Work, "rq.log"),
		os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return dispatchRun{}, fmt.Errorf("bench: %w", err)
	}
	defer logFile.Close()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, e.Python, script, r.URL, kind, fmt.Sprint(jobs))
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = &out, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		return dispatchRun{}, fmt.Errorf("bench: rqnoop.py %s: %w (log: %s)", kind, err,
			logFile.Name())
	}
	var o rqOutput
	if err := json.Unmarshal(out.Bytes(), &o); err != nil {
		return dispatchRun{}, fmt.Errorf("bench: rqnoop.py printed %q: %w",
			truncate(out.Bytes(), 200), err)
	}
	if o.Finished != jobs || o.Failed != 0 {
		return dispatchRun{}, fmt.Errorf("bench: RQ %s worker finished %d of %d jobs, "+
			"%d failed", kind, o.Finished, jobs, o.Failed)
	}
	return dispatchRun{enqueue: float64(jobs) / o.EnqueueS,
		drain: float64(jobs) / o.DrainS}, nil
}
