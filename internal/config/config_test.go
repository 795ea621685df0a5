package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadOverridesDefaults(t *testing.T) {
	path := writeFile(t, `
[worker]
threads = 3
stop_timeout = "45s"
[queue]
lease = "9s"
`)
	cfg, err := Load(path, false, []string{"ASR_REDIS_URL=unix:///run/r.sock", "PATH=/bin",
		"ASR_OTHER_THING=ignored"})
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.Worker.Threads = 3
	want.Worker.StopTimeout = Duration(45 * time.Second)
	want.Queue.Lease = Duration(9 * time.Second)
	want.Redis.URL = "unix:///run/r.sock"
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
}

func TestTokensFromEnvironment(t *testing.T) {
	path := writeFile(t, "")
	cfg, err := Load(path, false, []string{
		"ASR_API_TOKENS=aaaaaaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbb"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"aaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbb"}
	if !reflect.DeepEqual(cfg.API.Tokens, want) {
		t.Fatalf("tokens %q, want %q", cfg.API.Tokens, want)
	}
	if _, err := Load(path, false, []string{"ASR_API_TOKENS=short"}); err == nil ||
		!strings.Contains(err.Error(), "api.tokens") {
		t.Fatalf("short token: %v", err)
	}
	_, err = Load(path, false, []string{`ASR_API_TOKENS=["aaaaaaaaaaaaaaaaaaaa"]`})
	if err == nil || !strings.Contains(err.Error(), "api.tokens") ||
		!strings.Contains(err.Error(), "comma-separated") {
		t.Fatalf("TOML array in the environment: %v", err)
	}
}

func TestLoadErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		env     []string
		wantKey string
		wantMsg string
	}{
		{"unknown key", "[worker]\nthread = 2\n", nil, "worker.thread", "unknown key"},
		{"unknown section", "[wrker]\nthreads = 2\n", nil, "wrker", "unknown key"},
		{"wrong type", "[worker]\nthreads = \"two\"\n", nil, "worker.threads", "line 2"},
		{"bad duration", "[queue]\nlease = \"soon\"\n", nil, "queue.lease", "invalid duration"},
		{"negative threads", "[worker]\nthreads = -1\n", nil, "worker.threads", "0 (one per"},
		{"short lease", "[queue]\nlease = \"10ms\"\n", nil, "queue.lease", "at least 1s"},
		{"bad level", "[log]\nlevel = \"loud\"\n", nil, "log.level", "debug, info"},
		{"bad env int", "", []string{"ASR_WORKER_THREADS=many"}, "worker.threads",
			"ASR_WORKER_THREADS"},
		{"bad env duration", "", []string{"ASR_QUEUE_LEASE=1x"}, "queue.lease",
			"invalid duration"},
		{"bad env value", "", []string{"ASR_LOG_LEVEL=verbose"}, "log.level",
			"(from environment ASR_LOG_LEVEL)"},
		{"upload limit over Redis' string limit", "[api]\nmax_upload_bytes = 9223372036854775807\n",
			nil, "api.max_upload_bytes", "512 MiB"},
		{"lease shorter than three op timeouts", "[queue]\nlease = \"5s\"\n", nil,
			"queue.lease", "3 times redis.op_timeout"},
		{"NaN audio limit", "", []string{"ASR_WORKER_MAX_AUDIO_SECONDS=NaN"},
			"worker.max_audio_seconds", "positive number"},
		{"unknown env key", "", []string{"ASR_WORKER_THREAD=2"}, "worker.thread",
			"unknown key (from environment ASR_WORKER_THREAD)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.file)
			_, err := Load(path, false, tt.env)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load error = %v, want *config.Error", err)
			}
			if ce.Key != tt.wantKey {
				t.Errorf("key = %q, want %q (error %v)", ce.Key, tt.wantKey, err)
			}
			if wantFile := path; tt.env == nil && ce.File != wantFile {
				t.Errorf("file = %q, want %q", ce.File, wantFile)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.toml")
	if _, err := Load(path, false, nil); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load of a missing file: error %v, want one naming %s", err, path)
	}
	cfg, err := Load(path, true, []string{"ASR_API_LISTEN=127.0.0.1:9"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.API.Listen != "127.0.0.1:9" || cfg.Worker.Model != Defaults().Worker.Model {
		t.Fatalf("unexpected config %+v", cfg)
	}
}

func TestShippedConfigMatchesDefaults(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "config.toml"), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Defaults()) {
		t.Fatalf("config.toml differs from Defaults():\n%+v\n%+v", cfg, Defaults())
	}
}
