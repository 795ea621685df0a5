// Command asr-worker loads a whisper model once, then takes transcription
// jobs from the Redis queue one at a time until it is stopped.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asr-server/asr-server/internal/audio"
	"github.com/asr-server/asr-server/internal/config"
	"github.com/asr-server/asr-server/internal/daemon"
	"github.com/asr-server/asr-server/internal/engine"
	"github.com/asr-server/asr-server/internal/liveness"
	"github.com/asr-server/asr-server/internal/sdnotify"
	"github.com/asr-server/asr-server/internal/transcript"
	"github.com/asr-server/asr-server/internal/webhook"
	"github.com/asr-server/asr-server/internal/worker"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "asr-worker:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("asr-worker", flag.ExitOnError)
	instance := fs.String("instance", "", "worker `name` in Redis and logs "+
		"(overrides worker.instance)")
	env, err := daemon.Start(fs, os.Args[1:])
	if err != nil {
		return err
	}
	defer env.Close()
	cfg := env.Config
	name := instanceName(*instance, cfg.Worker.Instance)
	log := env.Log.With("instance", name)

	// A stop request that arrives while the model loads ends the worker
	// right after loading, before it takes any job.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	notify := sdnotify.New(log)
	var watch atomic.Pointer[liveness.Monitor]
	watchdog, stopWatchdog := startWatchdog(notify, log, &watch)
	defer stopWatchdog()
	notify.Status("loading model " + cfg.Worker.Model)
	loaded := notify.ExtendStart(10 * time.Second)
	eng, err := engine.Load(cfg.Worker.Model, log)
	loaded()
	if err != nil {
		return err
	}
	defer eng.Close()
	if err := eng.CheckLanguage(cfg.Worker.Language); err != nil {
		return &config.Error{File: env.ConfigPath, Key: "worker.language", Err: err}
	}
	log.Info("model loaded", "model", cfg.Worker.Model,
		"multilingual", eng.Info().Multilingual)
	if _, err := os.Stat(cfg.Worker.VADModel); err != nil {
		log.Info("no VAD model; voice activity detection off", "vad_model", cfg.Worker.VADModel)
	} else if err := eng.UseVAD(cfg.Worker.VADModel); err != nil {
		return &config.Error{File: env.ConfigPath, Key: "worker.vad_model", Err: err}
	} else {
		log.Info("voice activity detection on", "vad_model", cfg.Worker.VADModel)
	}

	if _, err := exec.LookPath(cfg.Worker.FFmpeg); err != nil {
		log.Warn("ffmpeg not found: only WAV uploads can be transcribed; "+
			"other formats fail with unsupported_format", "ffmpeg", cfg.Worker.FFmpeg)
	}
	var decoding atomic.Uint64 // grows as ffmpeg hands over samples
	decodeOpts := audio.Options{FFmpeg: cfg.Worker.FFmpeg,
		MaxSeconds: cfg.Worker.MaxAudioSeconds, Progress: func() { decoding.Add(1) }}
	decode := func(ctx context.Context, data []byte) ([]float32, error) {
		return audio.Decode(ctx, data, decodeOpts)
	}
	transcribe := func(ctx context.Context, samples []float32, opts transcript.Options,
		progress func(int), segment func(transcript.Segment)) (transcript.Result, error) {
		params := engine.Params{
			Language:       cfg.Worker.Language,
			Threads:        cfg.Worker.ThreadCount(),
			Translate:      opts.Translate,
			Prompt:         opts.Prompt,
			Temperature:    opts.Temperature,
			WordTimestamps: opts.WordTimestamps,
			VAD:            opts.VAD == nil || *opts.VAD,
			VADThreshold:   opts.VADThreshold,
			OnSegment:      segment,

			BeamSize:          opts.BeamSize,
			BestOf:            opts.BestOf,
			NoSpeechThreshold: opts.NoSpeechThreshold,
			MaxSegmentLength:  opts.MaxSegmentLength,
			SplitOnWord:       opts.SplitOnWord,
		}
		if opts.Language != "" && opts.Language != "auto" {
			params.Language = opts.Language
		}
		return eng.Transcribe(ctx, samples, params, progress)
	}
	callbacks, err := newCallbacks(cfg.Webhook, log)
	if err != nil {
		return err
	}
	defer callbacks.Close(cfg.Worker.StopTimeout.D())
	w := worker.New(env.Store, decode, transcribe, notify, log, worker.Options{
		Callbacks:   callbacks,
		Name:        name,
		Lease:       cfg.Queue.Lease.D(),
		StopTimeout: cfg.Worker.StopTimeout.D(),
		JobTimeout:  cfg.Worker.JobTimeout.D(),
		Classify: func(err error) (string, bool) {
			switch {
			case errors.Is(err, engine.ErrAudioTooShort):
				return "invalid_audio", true
			case errors.Is(err, engine.ErrLanguage):
				return "invalid_language", true
			}
			return "", false
		},
	})
	watch.Store(&liveness.Monitor{
		Probes: []liveness.Probe{w.Activity, eng.Activity, decoding.Load},
		Stall:  watchdog / 2,
		MinCPU: watchdogMinCPU,
	})
	return w.Run(ctx)
}

// startWatchdog pings systemd's watchdog, when the unit sets WatchdogSec=,
// until the returned function is called: unconditionally until watch holds
// a monitor (loading the model is bounded by TimeoutStartSec instead), then
// for as long as the monitor sees progress.
func startWatchdog(notify *sdnotify.Notifier, log *slog.Logger,
	watch *atomic.Pointer[liveness.Monitor]) (interval time.Duration, stop func()) {
	interval = sdnotify.WatchdogInterval()
	if interval <= 0 {
		return 0, func() {}
	}
	log.Info("watchdog on", "watchdog_s", interval.Seconds(), "stall_s", interval.Seconds()/2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		notify.Watchdog(ctx, interval, func() bool {
			m := watch.Load()
			return m == nil || m.Alive()
		})
	}()
	return interval, func() {
		cancel()
		<-done
	}
}

// watchdogMinCPU is the share of one core that the worker must spend for a
// step that reports no progress of its own (whisper's mel spectrogram, its
// voice activity pass, the language detection pass) to count as busy
// rather than hung. It is low, because eight workers on two cores get a
// quarter of a core each, and a hung worker spends next to nothing.
const watchdogMinCPU = 0.05

// newCallbacks builds the callback sender from the [webhook] section; it
// returns nil when no callback targets are allowed.
func newCallbacks(cfg config.Webhook, log *slog.Logger) (*worker.Callbacks, error) {
	if len(cfg.Allow) == 0 {
		return nil, nil
	}
	allow, err := webhook.ParseAllowList(cfg.Allow)
	if err != nil {
		return nil, &config.Error{Key: "webhook.allow", Err: err}
	}
	sender := &webhook.Sender{
		Client:      webhook.NewClient(allow, cfg.Timeout.D()),
		Signer:      webhook.Signer{Secret: []byte(cfg.Secret)},
		MaxAttempts: cfg.MaxAttempts,
		Backoff:     cfg.Backoff.D(),
		MaxBackoff:  cfg.MaxBackoff.D(),
	}
	return worker.NewCallbacks(sender, log), nil
}

// instanceName picks the worker's identity: the flag, then the config,
// then host name and process id.
func instanceName(flagValue, configured string) string {
	if flagValue != "" {
		return flagValue
	}
	if configured != "" {
		return configured
	}
	host, err := os.Hostname()
	if err != nil {
		host = "worker"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}
