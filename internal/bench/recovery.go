package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Readiness times process start to ready: asr-worker with each model
// (start to READY=1 on its notify socket) against whisper-server with the
// same model (start to its first 200 on /health), and asr-api.
func (e *Env) Readiness(ctx context.Context, rep *Report, reps, baseReps int) error {
	item := "4 readiness"
	r, err := e.StartRedis()
	if err != nil {
		return err
	}
	defer r.Stop()
	for _, m := range []struct {
		label, path string
		reps        int
	}{{"tiny", e.TinyModel, reps}, {"base-sized", e.BaseModel, baseReps}} {
		var worker, server []time.Duration
		// Alternate which goes first, as the first to read the model
		// after the other may find it warmer in the page cache.
		for i := range m.reps {
			for k := range 2 {
				if (i+k)%2 == 0 {
					w, err := e.StartWorker(r, WorkerSpec{Model: m.path, Threads: e.Threads})
					if err != nil {
						return err
					}
					worker = append(worker, w.Ready)
					w.Stop(30 * time.Second)
					continue
				}
				ws, err := e.StartWhisperServer(m.path, e.Threads)
				if err != nil {
					return err
				}
				server = append(server, ws.Ready)
				ws.Stop(10 * time.Second)
			}
		}
		note := fmt.Sprintf("%s model, median of %d", m.label, m.reps)
		wsv := Median(msList(server))
		rep.Add(Row{Item: item, Name: "whisper-server start to /health 200 (" + m.label + ")",
			Value: wsv, Unit: "ms", Note: note + "; polled every 5 ms"})
		rep.Add(Row{Item: item, Name: "asr-worker start to READY=1 (" + m.label + ")",
			Value: Median(msList(worker)), Unit: "ms", Anchor: "whisper-server ready",
			AnchorValue: wsv, Note: note + "; model loaded and consumer registered"})
	}
	var api []time.Duration
	for range reps {
		a, err := e.StartAPI(r)
		if err != nil {
			return err
		}
		api = append(api, a.Ready)
		a.Stop(10 * time.Second)
	}
	rep.Add(Row{Item: item, Name: "asr-api start to READY=1", Value: Median(msList(api)),
		Unit: "ms", Note: fmt.Sprintf("median of %d", reps)})
	return nil
}

// Recovery kills a busy worker with SIGKILL and times until its job's
// second attempt starts on the other, idle worker.
func (e *Env) Recovery(ctx context.Context, rep *Report, label string, lease,
	opTimeout time.Duration, reps int) error {
	item := "4 recovery"
	samples, err := DecodeSpeech(e.JFK)
	if err != nil {
		return err
	}
	// Long enough that the job is still running when it is killed.
	long, err := newForm(EncodeWAV(Repeat(samples, 6)), field{"language", "en"})
	if err != nil {
		return err
	}
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
	spec := WorkerSpec{Model: e.TinyModel, Threads: 1, Lease: lease, OpTimeout: opTimeout}
	workers, err := e.StartWorkers(r, 2, spec)
	if err != nil {
		return err
	}
	defer func() { stopAll(workers) }()

	c := newClient(2)
	var took []time.Duration
	for i := range reps {
		e.Logf("recovery: lease %v, run %d of %d", lease, i+1, reps)
		started := [2]<-chan Line{
			workers[0].Await(func(s string) bool { return jobStarted(s, "", 1) }),
			workers[1].Await(func(s string) bool { return jobStarted(s, "", 1) }),
		}
		id, err := submitJob(ctx, c, api.URL, long)
		if err != nil {
			return err
		}
		victim := -1
		select {
		case <-started[0]:
			victim = 0
		case <-started[1]:
			victim = 1
		case <-time.After(time.Minute):
			return fmt.Errorf("bench: no worker started job %s", id)
		}
		rescuer := workers[1-victim]
		again := rescuer.Await(func(s string) bool { return jobStarted(s, id, 2) })
		killed := time.Now()
		workers[victim].Kill()
		line, err := wait(rescuer.Proc, again, lease+time.Minute, "attempt 2 of "+id)
		if err != nil {
			return err
		}
		took = append(took, line.At.Sub(killed))
		if _, err := awaitJob(ctx, c, api.URL, id, 50*time.Millisecond); err != nil {
			return err
		}
		if workers[victim], err = e.StartWorker(r, spec); err != nil {
			return err
		}
	}
	rep.Add(Row{Item: item, Name: fmt.Sprintf("SIGKILL of a busy worker to attempt 2 "+
		"started (%s)", label), Value: Median(msList(took)) / 1000, Unit: "s",
		Note: fmt.Sprintf("queue.lease %v, redis.op_timeout %v; median of %d", lease,
			opTimeout, reps)})
	return nil
}

// jobStarted reports whether a worker's JSON log line says that attempt
// of job id (any job for "") started.
func jobStarted(line, id string, attempt int) bool {
	var rec struct {
		Msg     string  `json:"msg"`
		JobID   string  `json:"job_id"`
		Attempt float64 `json:"attempt"`
	}
	if json.Unmarshal([]byte(line), &rec) != nil {
		return false
	}
	return rec.Msg == "job started" && (id == "" || rec.JobID == id) &&
		rec.Attempt == float64(attempt)
}
