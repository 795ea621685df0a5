// Package bench measures asr-server side by side with its peers on the
// machine it runs on: whisper.cpp's own whisper-server for single jobs,
// throughput and start-up, python3-rq for dispatch, plus the service's
// own recovery, memory and API figures. Every figure is reported next to
// an anchor measured in the same run, because figures from a shared
// machine are only comparable within one run.
//
// Each benchmark starts its own private redis-server on a free loopback
// port and its own daemons, and stops them when it ends.
package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/asr-server/asr-server/internal/config"
)

// Sizes are the repetitions and job counts of a run.
type Sizes struct {
	OverheadTiny, OverheadBase int // single jobs per path and model
	ThroughputJobs             int // jobs submitted at once per configuration
	ThroughputRounds           int // rounds over all configurations
	DispatchJobs, DispatchReps int // no-op jobs per drain, drains per queue
	ReadyReps, ReadyBaseReps   int // starts per daemon and model
	KillReps, KillShortReps    int // SIGKILLs with the default and a short lease
	RedisJobs                  int // queued jobs of 1 MiB audio
	LoadSubmissions            int // submissions to the API with no worker
	LoadClients                int // concurrent clients sending them
}

// FullSizes are the sizes of `make bench`: about 15 minutes on 2 quiet
// cores.
func FullSizes() Sizes {
	return Sizes{
		OverheadTiny: 30, OverheadBase: 7,
		ThroughputJobs: 200, ThroughputRounds: 3,
		DispatchJobs: 1000, DispatchReps: 3,
		ReadyReps: 7, ReadyBaseReps: 5,
		KillReps: 3, KillShortReps: 7,
		RedisJobs:       50,
		LoadSubmissions: 10000, LoadClients: 64,
	}
}

// QuickSizes are small sizes for trying the benchmarks out.
func QuickSizes() Sizes {
	return Sizes{
		OverheadTiny: 3, OverheadBase: 1,
		ThroughputJobs: 12, ThroughputRounds: 1,
		DispatchJobs: 200, DispatchReps: 1,
		ReadyReps: 1, ReadyBaseReps: 1,
		KillReps: 1, KillShortReps: 1,
		RedisJobs:       5,
		LoadSubmissions: 500, LoadClients: 64,
	}
}

// Short lease for the recovery benchmark; redis.op_timeout must be at
// most a third of it.
const (
	shortLease     = 2 * time.Second
	shortOpTimeout = 500 * time.Millisecond
)

// Run runs every benchmark into rep. A benchmark that fails is recorded
// as failed and the others still run.
func (e *Env) Run(ctx context.Context, rep *Report, s Sizes) {
	step := func(item, name string, f func() error) {
		e.Logf("== %s: %s", item, name)
		start := time.Now()
		if err := f(); err != nil {
			rep.Fail(item, name, err)
			e.Logf("   failed after %v: %v", time.Since(start).Round(time.Second), err)
			return
		}
		e.Logf("   done in %v", time.Since(start).Round(time.Second))
	}
	step("3 dispatch", "queue vs RQ", func() error {
		return e.Dispatch(ctx, rep, s.DispatchJobs, s.DispatchReps)
	})
	step("6 API under load", "submissions with no worker", func() error {
		return e.APILoad(ctx, rep, s.LoadSubmissions, s.LoadClients)
	})
	for _, m := range []struct {
		label, path string
		reps        int
	}{{"tiny", e.TinyModel, s.OverheadTiny}, {"base-sized", e.BaseModel, s.OverheadBase}} {
		step("1 overhead", m.label+" model", func() error {
			worker, server, err := e.Overhead(ctx, rep, m.path, m.label, m.reps)
			if err != nil {
				return err
			}
			rep.Add(Row{Item: "5 memory", Name: "asr-worker peak RSS (" + m.label + ")",
				Value: MiB(worker), Unit: "MiB", Anchor: "whisper-server peak RSS",
				AnchorValue: MiB(server), Note: "VmHWM after the overhead runs"})
			return nil
		})
	}
	step("2 throughput", "jobs at once", func() error {
		mem, err := e.Throughput(ctx, rep, s.ThroughputJobs, s.ThroughputRounds)
		if err != nil {
			return err
		}
		if mem.Idle == 0 {
			return fmt.Errorf("bench: no configuration completed")
		}
		rep.Add(Row{Item: "5 memory", Name: "asr-api RSS idle", Value: MiB(mem.Idle),
			Unit: "MiB", Note: "VmRSS after start"})
		rep.Add(Row{Item: "5 memory", Name: "asr-api peak RSS under the throughput load",
			Value: MiB(mem.LoadPeak), Unit: "MiB", Anchor: "asr-api idle",
			AnchorValue: MiB(mem.Idle), Note: fmt.Sprintf("VmHWM, highest of the "+
				"configurations; %d jobs submitted at once by %d clients",
				s.ThroughputJobs, submitters)})
		return nil
	})
	step("4 readiness", "start to ready", func() error {
		return e.Readiness(ctx, rep, s.ReadyReps, s.ReadyBaseReps)
	})
	defaults := config.Defaults()
	step("4 recovery", "SIGKILL, default lease", func() error {
		return e.Recovery(ctx, rep, "default lease", defaults.Queue.Lease.D(),
			defaults.Redis.OpTimeout.D(), s.KillReps)
	})
	step("4 recovery", "SIGKILL, short lease", func() error {
		return e.Recovery(ctx, rep, "short lease", shortLease, shortOpTimeout, s.KillShortReps)
	})
	step("5 memory", "Redis per queued job", func() error {
		return e.RedisPerJob(ctx, rep, s.RedisJobs)
	})
}
