// Command asr-api is asr-server's HTTP API: it accepts audio, queues
// transcription jobs in Redis and serves their state and results.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/asr-server/asr-server/internal/api"
	"github.com/asr-server/asr-server/internal/config"
	"github.com/asr-server/asr-server/internal/daemon"
	"github.com/asr-server/asr-server/internal/metrics"
	"github.com/asr-server/asr-server/internal/queue"
	"github.com/asr-server/asr-server/internal/sdnotify"
	"github.com/asr-server/asr-server/internal/webhook"
)

// Connection limits that need no configuration: a client has this long to
// send its request headers, and an idle keep-alive connection is closed
// after idleTimeout.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "asr-api:", err)
		os.Exit(1)
	}
}

func run() error {
	env, err := daemon.Start(flag.NewFlagSet("asr-api", flag.ExitOnError), os.Args[1:])
	if err != nil {
		return err
	}
	defer env.Close()
	cfg, log := env.Config, env.Log
	handlerOpts := api.Options{
		MaxUploadBytes:       cfg.API.MaxUploadBytes,
		OpenAIMaxUploadBytes: cfg.API.OpenAIMaxUploadBytes,
		OpTimeout:            cfg.Redis.OpTimeout.D(),
		SyncWait:             cfg.API.SyncWait.D(),
		Tokens:               cfg.API.Tokens,
		ModelName:            filepath.Base(cfg.Worker.Model),
		// A scrape makes two rounds of reads from Redis.
		Metrics: metrics.Handler(metrics.NewCollector(env.Store, log,
			2*cfg.Redis.OpTimeout.D())),
	}
	srv := &http.Server{
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       cfg.API.ReadTimeout.D(),
		IdleTimeout:       idleTimeout,
	}
	if len(cfg.Webhook.Allow) > 0 {
		allow, err := webhook.ParseAllowList(cfg.Webhook.Allow)
		if err != nil {
			return &config.Error{File: env.ConfigPath, Key: "webhook.allow", Err: err}
		}
		handlerOpts.Callbacks = allow
	}
	srv.Handler = api.New(env.Store, log, handlerOpts)
	ln, err := net.Listen("tcp", cfg.API.Listen)
	if err != nil {
		return &config.Error{File: env.ConfigPath, Key: "api.listen", Err: err}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	// Shutdown order: stop accepting, let requests in flight finish within
	// the shutdown timeout, then close the Redis client (deferred above).
	notify := sdnotify.New(log)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("asr-api listening", "addr", ln.Addr().String(),
		"redis", queue.RedactURL(cfg.Redis.URL))
	notify.Ready()
	notify.Status("listening on " + ln.Addr().String())
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	notify.Stopping()
	log.Info("asr-api stopping")
	shutdownCtx, cancel := context.WithTimeout(context.Background(),
		cfg.API.ShutdownTimeout.D())
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		// Requests still open have not been answered with a job, so
		// closing them loses nothing that was accepted.
		log.Warn("requests still open at the end of the shutdown timeout; closing them",
			"err", err)
		srv.Close()
	}
	return nil
}
