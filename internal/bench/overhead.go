package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// pollInterval is how often the submit-and-poll client looks at its job.
// TODO(bench): this polling shares the cores with whisper, so the poll
// path's worker-run figure includes its cost; it is not measured apart.
const pollInterval = 2 * time.Millisecond

// overheadRun holds one model's single-job timings, one entry per
// repetition of each path.
type overheadRun struct {
	server, sync, poll, bare []time.Duration
	wait, work               []time.Duration // queue wait and worker run, poll path
	workerPeak, serverPeak   int64
}

// Overhead times single jobs of jfk.wav, one at a time, through the
// service (the OpenAI endpoint, and submit plus polling), through
// whisper-server and as a bare in-process call, interleaved so that all
// paths see the same machine. It returns the peak memory of the worker
// and whisper-server afterwards.
func (e *Env) Overhead(ctx context.Context, rep *Report, model, label string,
	reps int) (workerPeak, serverPeak int64, err error) {
	run, err := e.overhead(ctx, model, reps)
	if err != nil {
		return 0, 0, err
	}
	item := "1 overhead"
	cfg := fmt.Sprintf("%s model, %d threads, median of %d", label, e.Threads, reps)
	ws := Median(msList(run.server))
	bare := Median(msList(run.bare))
	add := func(name string, v float64, anchor string, av float64, note string) {
		rep.Add(Row{Item: item, Name: name + " (" + label + ")", Value: v, Unit: "ms",
			Anchor: anchor, AnchorValue: av, Note: note})
	}
	add("whisper-server POST /inference", ws, "", 0, cfg)
	add("bare engine.Transcribe in process", bare, "whisper-server", ws, cfg)
	for _, p := range []struct {
		name string
		ds   []time.Duration
	}{
		{"ours: POST /v1/audio/transcriptions", run.sync},
		{"ours: POST /v1/jobs + GET poll every 2 ms", run.poll},
	} {
		v := Median(msList(p.ds))
		delta := Median(diffs(p.ds, run.bare))
		add(p.name, v, "whisper-server", ws, "target <= 1.05x")
		add(p.name, v, "bare call", bare, fmt.Sprintf(
			"%+.1f ms vs the bare call (median of paired differences); target <= +10 ms",
			delta))
	}
	add("ours: queue wait, created to started (poll path)", Median(msList(run.wait)),
		"", 0, "from the job's timestamps")
	add("ours: worker run, started to finished (poll path)", Median(msList(run.work)),
		"bare call", bare, "decode, whisper, progress and result writes")
	return run.workerPeak, run.serverPeak, nil
}

func diffs(a, b []time.Duration) []float64 {
	out := make([]float64, min(len(a), len(b)))
	for i := range out {
		out[i] = ms(a[i] - b[i])
	}
	return out
}

func (e *Env) overhead(ctx context.Context, model string, reps int) (*overheadRun, error) {
	samples, err := DecodeSpeech(e.JFK)
	if err != nil {
		return nil, err
	}
	r, err := e.StartRedis()
	if err != nil {
		return nil, err
	}
	defer r.Stop()
	api, err := e.StartAPI(r)
	if err != nil {
		return nil, err
	}
	defer api.Stop(10 * time.Second)
	worker, err := e.StartWorker(r, WorkerSpec{Model: model, Threads: e.Threads})
	if err != nil {
		return nil, err
	}
	defer worker.Stop(30 * time.Second)
	ws, err := e.StartWhisperServer(model, e.Threads)
	if err != nil {
		return nil, err
	}
	defer ws.Stop(10 * time.Second)
	bare, err := e.Bare(model)
	if err != nil {
		return nil, err
	}
	defer bare.Close()

	// The same decoding on every path: whisper-server's defaults (greedy,
	// best of 2 on temperature fallback), English.
	syncForm, err := newForm(e.JFK, field{"model", "whisper-1"}, field{"language", "en"},
		field{"best_of", "2"}, field{"response_format", "json"})
	if err != nil {
		return nil, err
	}
	jobForm, err := newForm(e.JFK, field{"language", "en"}, field{"best_of", "2"})
	if err != nil {
		return nil, err
	}
	serverForm, err := newForm(e.JFK, field{"response_format", "json"})
	if err != nil {
		return nil, err
	}
	c := newClient(4)
	run := &overheadRun{}
	paths := []func() (time.Duration, error){
		func() (time.Duration, error) {
			return timed(func() error {
				_, _, err := post(ctx, c, ws.URL+"/inference", serverForm, http.StatusOK)
				return err
			}, &run.server)
		},
		func() (time.Duration, error) {
			return timed(func() error {
				_, _, err := post(ctx, c, api.URL+"/v1/audio/transcriptions", syncForm,
					http.StatusOK)
				return err
			}, &run.sync)
		},
		func() (time.Duration, error) {
			var job jobState
			d, err := timed(func() error {
				id, err := submitJob(ctx, c, api.URL, jobForm)
				if err != nil {
					return err
				}
				job, err = awaitJob(ctx, c, api.URL, id, pollInterval)
				return err
			}, &run.poll)
			if err == nil && job.StartedAt != nil && job.FinishedAt != nil {
				run.wait = append(run.wait, job.StartedAt.Sub(job.CreatedAt))
				run.work = append(run.work, job.FinishedAt.Sub(*job.StartedAt))
			}
			return d, err
		},
		func() (time.Duration, error) {
			return timed(func() error { return bare.Transcribe(ctx, samples, e.Threads) },
				&run.bare)
		},
	}
	// A round of warm-up, not counted, then the repetitions, each running
	// the paths in a rotated order.
	for i := range reps + 1 {
		for k := range paths {
			if _, err := paths[(i+k)%len(paths)](); err != nil {
				return nil, err
			}
		}
		if i == 0 {
			*run = overheadRun{}
		}
	}
	wm, err := ReadMemory(worker.PID())
	if err != nil {
		return nil, err
	}
	sm, err := ReadMemory(ws.PID())
	if err != nil {
		return nil, err
	}
	run.workerPeak, run.serverPeak = wm.Peak, sm.Peak
	return run, nil
}

// timed runs f and appends its duration to into when it succeeds.
func timed(f func() error, into *[]time.Duration) (time.Duration, error) {
	start := time.Now()
	if err := f(); err != nil {
		return 0, err
	}
	d := time.Since(start)
	*into = append(*into, d)
	return d, nil
}
