// Package config loads the TOML configuration shared by asr-api and
// asr-worker.
//
// Loading starts from Defaults, decodes the file over them, rejects keys the
// file has but the program does not know, applies environment overrides
// (ASR_<SECTION>_<KEY>, for example ASR_REDIS_URL) and finally validates every
// value. Every failure is a *Error that names the file and the key.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultPath is where the packaged configuration lives.
const DefaultPath = "/etc/asr/config.toml"

// Config is the whole configuration; each section is read by the daemons
// that need it.
type Config struct {
	Redis   Redis   `toml:"redis"`
	API     API     `toml:"api"`
	Worker  Worker  `toml:"worker"`
	Queue   Queue   `toml:"queue"`
	Webhook Webhook `toml:"webhook"`
	Log     Log     `toml:"log"`

	Autoscaler Autoscaler `toml:"autoscaler"`
}

// Webhook configures the callbacks a job may ask for on completion.
type Webhook struct {
	// Allow lists the callback targets: host names, *.domain wildcards,
	// IP addresses or CIDR prefixes, each with an optional :port. Empty
	// means no callbacks.
	Allow []string `toml:"allow"`
	// Secret signs every callback (HMAC-SHA256); callbacks need one.
	Secret string `toml:"secret"`
	// MaxAttempts, Backoff and MaxBackoff shape retries of a callback.
	MaxAttempts int      `toml:"max_attempts"`
	Backoff     Duration `toml:"backoff"`
	MaxBackoff  Duration `toml:"max_backoff"`
	// Timeout bounds one callback request.
	Timeout Duration `toml:"timeout"`
}

// Redis says how to reach the queue and job store.
type Redis struct {
	// URL is a redis:// or unix:// URL as understood by go-redis.
	URL string `toml:"url"`
	// Prefix starts every key this service writes, so that several
	// deployments can share one Redis.
	Prefix string `toml:"prefix"`
	// DialTimeout bounds connecting; OpTimeout bounds each command.
	DialTimeout Duration `toml:"dial_timeout"`
	OpTimeout   Duration `toml:"op_timeout"`
}

// API configures asr-api.
type API struct {
	// Listen is the TCP address of the HTTP server.
	Listen string `toml:"listen"`
	// MaxUploadBytes bounds the size of one uploaded audio file.
	MaxUploadBytes int64 `toml:"max_upload_bytes"`
	// OpenAIMaxUploadBytes, when positive, is a lower bound for the
	// OpenAI-compatible endpoints (OpenAI itself takes 25 MB).
	OpenAIMaxUploadBytes int64 `toml:"openai_max_upload_bytes"`
	// ReadTimeout bounds reading one whole request, upload included.
	ReadTimeout Duration `toml:"read_timeout"`
	// SyncWait bounds how long the OpenAI-compatible endpoints wait for
	// their job before answering with a pointer to it.
	SyncWait Duration `toml:"sync_wait"`
	// Tokens, when any are set, are the bearer tokens that /v1 requests
	// must carry.
	Tokens []string `toml:"tokens"`
	// ShutdownTimeout is how long in-flight requests may take on stop.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
}

// MaxInstances is the largest allowed autoscaler.max.
const MaxInstances = 1000

// MaxUploadLimit is the largest allowed api.max_upload_bytes: Redis keeps
// an upload as one string, and refuses strings over 512 MiB.
const MaxUploadLimit = 512 << 20

// Worker configures asr-worker.
type Worker struct {
	// Model is the path of the ggml whisper model to load.
	Model string `toml:"model"`
	// Threads is the number of inference threads; 0 means one per CPU.
	Threads int `toml:"threads"`
	// Language is a whisper language code, or "auto" to detect it.
	Language string `toml:"language"`
	// Instance names the worker in Redis and in logs; empty means
	// host name and process id.
	Instance string `toml:"instance"`
	// StopTimeout is how long a stopping worker may spend finishing its
	// current job before it hands the job back to the queue.
	StopTimeout Duration `toml:"stop_timeout"`
	// MaxAudioSeconds bounds the duration of one job's audio.
	MaxAudioSeconds float64 `toml:"max_audio_seconds"`
	// JobTimeout bounds one attempt of a job; past it the job fails.
	JobTimeout Duration `toml:"job_timeout"`
	// FFmpeg is the ffmpeg program used for formats other than WAV.
	FFmpeg string `toml:"ffmpeg"`
	// VADModel is the Silero voice activity model; when the file exists,
	// jobs skip silence and noise unless they ask otherwise.
	VADModel string `toml:"vad_model"`
}

// Queue configures delivery of jobs.
type Queue struct {
	// Lease is how long a running job stays with a worker that stopped
	// renewing it before another worker may take it over.
	Lease Duration `toml:"lease"`
	// MaxAttempts is how often a job is tried before it fails for good.
	MaxAttempts int `toml:"max_attempts"`
	// MaxQueued bounds the number of queued jobs; past it submits get 429.
	MaxQueued int64 `toml:"max_queued"`
	// ResultTTL is how long finished jobs and their results are kept.
	ResultTTL Duration `toml:"result_ttl"`
	// RetryBackoff is the wait before a failed job's second attempt; it
	// doubles for each further attempt, up to RetryBackoffMax.
	RetryBackoff    Duration `toml:"retry_backoff"`
	RetryBackoffMax Duration `toml:"retry_backoff_max"`
	// IdempotencyTTL is how long an Idempotency-Key is remembered.
	IdempotencyTTL Duration `toml:"idempotency_ttl"`
}

// Autoscaler configures asr-autoscaler, which starts and stops this
// host's asr-worker@ instances as the queue grows and drains.
type Autoscaler struct {
	// Min and Max bound the number of instances it keeps running.
	Min int `toml:"min"`
	Max int `toml:"max"`
	// MaxWait: when the oldest queued job has waited longer, it scales out.
	MaxWait Duration `toml:"max_wait"`
	// DepthPerWorker: when more jobs than this per running instance are
	// queued, it scales out.
	DepthPerWorker float64 `toml:"depth_per_worker"`
	// Cooldown is how long the queue must stay under both thresholds, and
	// how long after the last change, before it stops one instance.
	Cooldown Duration `toml:"cooldown"`
	// PollInterval is how often it reads the queue.
	PollInterval Duration `toml:"poll_interval"`
}

// Log configures logging.
type Log struct {
	// Level is one of debug, info, warn, error.
	Level string `toml:"level"`
	// Format is text, json, journal (native systemd journal fields) or
	// auto (journal when systemd connected stderr to it, else text).
	Format string `toml:"format"`
}

// Defaults returns the configuration used for every key a file leaves out.
func Defaults() Config {
	return Config{
		Redis: Redis{
			URL:         "redis://127.0.0.1:6379/0",
			Prefix:      "asr",
			DialTimeout: Duration(2 * time.Second),
			OpTimeout:   Duration(3 * time.Second),
		},
		API: API{
			Listen:          "127.0.0.1:8080",
			MaxUploadBytes:  100 << 20,
			ReadTimeout:     Duration(10 * time.Minute),
			SyncWait:        Duration(9 * time.Minute),
			Tokens:          []string{},
			ShutdownTimeout: Duration(10 * time.Second),
		},
		Worker: Worker{
			Model:           "/var/lib/asr/models/ggml-base.bin",
			Threads:         0,
			Language:        "auto",
			StopTimeout:     Duration(60 * time.Second),
			MaxAudioSeconds: 4 * 3600,
			JobTimeout:      Duration(4 * time.Hour),
			FFmpeg:          "ffmpeg",
			VADModel:        "/var/lib/asr/models/ggml-silero-v6.2.0.bin",
		},
		Queue: Queue{
			Lease:           Duration(15 * time.Second),
			MaxAttempts:     3,
			MaxQueued:       10000,
			ResultTTL:       Duration(24 * time.Hour),
			RetryBackoff:    Duration(2 * time.Second),
			RetryBackoffMax: Duration(time.Minute),
			IdempotencyTTL:  Duration(24 * time.Hour),
		},
		Webhook: Webhook{
			Allow:       []string{},
			MaxAttempts: 5,
			Backoff:     Duration(time.Second),
			MaxBackoff:  Duration(time.Minute),
			Timeout:     Duration(10 * time.Second),
		},
		Log: Log{Level: "info", Format: "auto"},
		Autoscaler: Autoscaler{
			Min:            1,
			Max:            4,
			MaxWait:        Duration(30 * time.Second),
			DepthPerWorker: 2,
			Cooldown:       Duration(5 * time.Minute),
			PollInterval:   Duration(5 * time.Second),
		},
	}
}

// Error is a configuration problem tied to one key.
type Error struct {
	File string // the file read, or "" when none was
	Key  string // dotted key, for example "worker.threads"
	Err  error
}

func (e *Error) Error() string {
	where := "config"
	if e.File != "" {
		where = "config " + e.File
	}
	if e.Key == "" {
		return fmt.Sprintf("%s: %v", where, e.Err)
	}
	return fmt.Sprintf("%s: key %s: %v", where, e.Key, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// lastKeyRE finds the key that a TOML decoding error quotes.
var lastKeyRE = regexp.MustCompile(`last key "([^"]+)"`)

// ErrUnknownKey reports a key the program does not know.
var ErrUnknownKey = errors.New("config: unknown key")

// Load reads the file at path over the defaults, applies the environment
// (as returned by os.Environ) and validates the result. A missing file is
// an error unless allowMissing is set, in which case defaults and the
// environment alone are used.
func Load(path string, allowMissing bool, environ []string) (Config, error) {
	cfg := Defaults()
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := decode(&cfg, path, string(data)); err != nil {
			return Config{}, err
		}
	case allowMissing && errors.Is(err, fs.ErrNotExist):
		path = ""
	default:
		return Config{}, &Error{File: path, Err: err}
	}
	fromEnv, err := applyEnv(&cfg, environ)
	if err != nil {
		return Config{}, err
	}
	if err := cfg.validate(); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			if name, ok := fromEnv[ce.Key]; ok {
				ce.Err = fmt.Errorf("%w (from environment %s)", ce.Err, name)
			} else {
				ce.File = path
			}
		}
		return Config{}, err
	}
	return cfg, nil
}

func decode(cfg *Config, path, text string) error {
	md, err := toml.Decode(text, cfg)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			msg := fmt.Sprintf("line %d: %s", pe.Position.Line, pe.Message)
			return &Error{File: path, Key: pe.LastKey, Err: errors.New(msg)}
		}
		// Type mismatches come as plain errors that quote the key.
		key := ""
		if m := lastKeyRE.FindStringSubmatch(err.Error()); m != nil {
			key = m[1]
		}
		return &Error{File: path, Key: key, Err: err}
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		return &Error{File: path, Key: undecoded[0].String(), Err: ErrUnknownKey}
	}
	return nil
}

// ThreadCount returns the configured thread count, resolving 0 to the CPUs.
func (w Worker) ThreadCount() int {
	if w.Threads > 0 {
		return w.Threads
	}
	return runtime.NumCPU()
}

func (c Config) validate() error {
	checks := []struct {
		key string
		bad bool
		why string
	}{
		{"redis.url", c.Redis.URL == "", "must not be empty"},
		{"redis.prefix", strings.ContainsAny(c.Redis.Prefix, " {}"),
			"must not contain spaces or braces"},
		{"redis.dial_timeout", c.Redis.DialTimeout <= 0, "must be positive"},
		{"redis.op_timeout", c.Redis.OpTimeout <= 0, "must be positive"},
		{"api.listen", c.API.Listen == "", "must not be empty"},
		{"api.max_upload_bytes", c.API.MaxUploadBytes <= 0 ||
			c.API.MaxUploadBytes > MaxUploadLimit, "must be from 1 to 536870912 (512 MiB)"},
		{"api.openai_max_upload_bytes", c.API.OpenAIMaxUploadBytes < 0 ||
			c.API.OpenAIMaxUploadBytes > c.API.MaxUploadBytes,
			"must be from 0 (same as api.max_upload_bytes) to api.max_upload_bytes"},
		{"api.read_timeout", c.API.ReadTimeout < Duration(time.Second), "must be at least 1s"},
		{"api.sync_wait", c.API.SyncWait < Duration(time.Second), "must be at least 1s"},
		{"api.tokens", !validTokens(c.API.Tokens),
			"each token must be 16 to 256 printable characters without spaces"},
		{"api.shutdown_timeout", c.API.ShutdownTimeout <= 0, "must be positive"},
		{"worker.model", c.Worker.Model == "", "must not be empty"},
		{"worker.threads", c.Worker.Threads < 0, "must be 0 (one per CPU) or more"},
		{"worker.language", c.Worker.Language == "", `must be a language code or "auto"`},
		{"worker.stop_timeout", c.Worker.StopTimeout <= 0, "must be positive"},
		{"worker.max_audio_seconds", !(c.Worker.MaxAudioSeconds > 0) ||
			math.IsInf(c.Worker.MaxAudioSeconds, 1), "must be a positive number"},
		{"worker.ffmpeg", c.Worker.FFmpeg == "", "must not be empty"},
		{"worker.job_timeout", c.Worker.JobTimeout < Duration(time.Second),
			"must be at least 1s"},
		{"queue.lease", c.Queue.Lease < Duration(time.Second), "must be at least 1s"},
		{"queue.lease", c.Queue.Lease < 3*c.Redis.OpTimeout,
			"must be at least 3 times redis.op_timeout, as a lease is renewed every third " +
				"of it and a renewal may take up to redis.op_timeout"},
		{"queue.max_attempts", c.Queue.MaxAttempts < 1, "must be at least 1"},
		{"queue.max_queued", c.Queue.MaxQueued < 1, "must be at least 1"},
		{"queue.result_ttl", c.Queue.ResultTTL < Duration(time.Second), "must be at least 1s"},
		{"queue.retry_backoff", c.Queue.RetryBackoff <= 0, "must be positive"},
		{"queue.retry_backoff_max", c.Queue.RetryBackoffMax < c.Queue.RetryBackoff,
			"must be at least queue.retry_backoff"},
		{"queue.idempotency_ttl", c.Queue.IdempotencyTTL < Duration(time.Second),
			"must be at least 1s"},
		{"webhook.secret", len(c.Webhook.Allow) > 0 && len(c.Webhook.Secret) < 16,
			"must be at least 16 characters when webhook.allow names any target"},
		{"webhook.max_attempts", c.Webhook.MaxAttempts < 1, "must be at least 1"},
		{"webhook.backoff", c.Webhook.Backoff <= 0, "must be positive"},
		{"webhook.max_backoff", c.Webhook.MaxBackoff < c.Webhook.Backoff,
			"must be at least webhook.backoff"},
		{"webhook.timeout", c.Webhook.Timeout < Duration(time.Second), "must be at least 1s"},
		{"log.level", !oneOf(c.Log.Level, "debug", "info", "warn", "error"),
			"must be debug, info, warn or error"},
		{"log.format", !oneOf(c.Log.Format, "auto", "text", "json", "journal"),
			"must be auto, text, json or journal"},
		{"autoscaler.min", c.Autoscaler.Min < 0, "must be 0 or more"},
		{"autoscaler.max", c.Autoscaler.Max < 1 || c.Autoscaler.Max > MaxInstances ||
			c.Autoscaler.Max < c.Autoscaler.Min,
			"must be from 1 to 1000 and at least autoscaler.min"},
		{"autoscaler.max_wait", c.Autoscaler.MaxWait < Duration(time.Second),
			"must be at least 1s"},
		{"autoscaler.depth_per_worker", !(c.Autoscaler.DepthPerWorker > 0) ||
			math.IsInf(c.Autoscaler.DepthPerWorker, 1), "must be a positive number"},
		{"autoscaler.poll_interval", c.Autoscaler.PollInterval < Duration(time.Second),
			"must be at least 1s"},
		{"autoscaler.cooldown", c.Autoscaler.Cooldown < c.Autoscaler.PollInterval,
			"must be at least autoscaler.poll_interval"},
	}
	for _, ch := range checks {
		if ch.bad {
			return &Error{Key: ch.key, Err: errors.New(ch.why)}
		}
	}
	return nil
}

func validTokens(tokens []string) bool {
	for _, t := range tokens {
		if len(t) < 16 || len(t) > 256 {
			return false
		}
		for _, r := range t {
			if r <= ' ' || r > '~' {
				return false
			}
		}
	}
	return true
}

func oneOf(s string, choices ...string) bool {
	for _, c := range choices {
		if s == c {
			return true
		}
	}
	return false
}
