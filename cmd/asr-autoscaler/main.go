// Command asr-autoscaler starts and stops this host's asr-worker@ instances
// through systemd as the queue in Redis grows and drains.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/asr-server/asr-server/internal/autoscale"
	"github.com/asr-server/asr-server/internal/daemon"
	"github.com/asr-server/asr-server/internal/fleet"
	"github.com/asr-server/asr-server/internal/queue"
	"github.com/asr-server/asr-server/internal/sdnotify"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "asr-autoscaler:", err)
		os.Exit(1)
	}
}

func run() error {
	env, err := daemon.Start(flag.NewFlagSet("asr-autoscaler", flag.ExitOnError), os.Args[1:])
	if err != nil {
		return err
	}
	defer env.Close()
	cfg, log := env.Config.Autoscaler, env.Log
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	fl, err := fleet.Connect(ctx)
	if err != nil {
		return err
	}
	defer fl.Close()

	// Shutdown order: stop polling (a scale in progress stops waiting for
	// its units, which systemd carries on with), then close the systemd
	// and Redis connections (deferred above). Instances stay as they are.
	notify := sdnotify.New(log)
	s := autoscale.New(autoscale.Params{
		Limits: autoscale.Limits{
			Min:            cfg.Min,
			Max:            cfg.Max,
			MaxWait:        cfg.MaxWait.D(),
			DepthPerWorker: cfg.DepthPerWorker,
			Cooldown:       cfg.Cooldown.D(),
		},
		Poll:   cfg.PollInterval.D(),
		Queue:  env.Store,
		Fleet:  fl,
		Log:    log,
		Status: notify.Status,
	})
	log.Info("asr-autoscaler started", "min", cfg.Min, "max", cfg.Max,
		"max_wait_s", cfg.MaxWait.D().Seconds(), "depth_per_worker", cfg.DepthPerWorker,
		"cooldown_s", cfg.Cooldown.D().Seconds(), "poll_s", cfg.PollInterval.D().Seconds(),
		"redis", queue.RedactURL(env.Config.Redis.URL))
	notify.Ready()
	err = s.Run(ctx)
	notify.Stopping()
	log.Info("asr-autoscaler stopping")
	return err
}
