// Package daemon holds the start-up that asr-api and asr-worker share:
// flags, configuration, the logger and the connection to the job store.
package daemon

import (
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/asr-server/asr-server/internal/config"
	"github.com/asr-server/asr-server/internal/logging"
	"github.com/asr-server/asr-server/internal/queue"
)

// Env is what a daemon starts with.
type Env struct {
	Config config.Config
	// ConfigPath is the file given with -config, or the default path.
	ConfigPath string
	Log        *slog.Logger
	Store      *queue.Store

	rdb *redis.Client
}

// Start parses args with fs (which gets a -config flag), loads the
// configuration and builds the logger and the job store. Callers add
// their own flags to fs beforehand and must Close the Env.
func Start(fs *flag.FlagSet, args []string) (*Env, error) {
	load := config.FromFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	cfg, err := load()
	if err != nil {
		return nil, err
	}
	path := fs.Lookup("config").Value.String()
	log, err := logging.New(os.Stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		log.Info("no configuration file; using defaults and the environment", "path", path)
	}
	// go-redis has one process-wide logger; a daemon has one logger too.
	redis.SetLogger(redisLog{log})
	rdb, err := queue.Dial(cfg.Redis.URL, cfg.Redis.DialTimeout.D(), cfg.Redis.OpTimeout.D())
	if err != nil {
		return nil, &config.Error{File: path, Key: "redis.url", Err: err}
	}
	store := queue.New(rdb, queue.Options{
		Prefix:          cfg.Redis.Prefix,
		Lease:           cfg.Queue.Lease.D(),
		MaxAttempts:     cfg.Queue.MaxAttempts,
		MaxQueued:       cfg.Queue.MaxQueued,
		ResultTTL:       cfg.Queue.ResultTTL.D(),
		RetryBackoff:    cfg.Queue.RetryBackoff.D(),
		RetryBackoffMax: cfg.Queue.RetryBackoffMax.D(),
		IdempotencyTTL:  cfg.Queue.IdempotencyTTL.D(),
	})
	return &Env{
		Config:     cfg,
		ConfigPath: path,
		Log:        log,
		Store:      store,
		rdb:        rdb,
	}, nil
}

// Close releases the connection to Redis.
func (e *Env) Close() error {
	if err := e.rdb.Close(); err != nil {
		return fmt.Errorf("daemon: close redis client: %w", err)
	}
	return nil
}
