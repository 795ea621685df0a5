package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/asr-server/asr-server/internal/queue"
)

// Env is what the benchmarks run with: the programs, the inputs and a
// scratch directory. Every server it starts listens on loopback only.
type Env struct {
	// Bin holds asr-api and asr-worker.
	Bin string
	// WhisperServer, RedisServer and Python are the peers' programs.
	WhisperServer string
	RedisServer   string
	Python        string
	// Work is a scratch directory for logs, sockets and data.
	Work string
	// TinyModel and BaseModel are generated whisper models.
	TinyModel string
	BaseModel string
	// JFK is the speech sample, a 16 kHz mono WAV.
	JFK []byte
	// Threads is the thread count of the single-job comparisons.
	Threads int
	// Bare loads a model into this process, for the in-process baseline.
	Bare func(model string) (BareEngine, error)
	// Logf reports progress.
	Logf func(format string, args ...any)

	seq atomic.Int64
}

// BareEngine transcribes in this process, without any service around it.
type BareEngine interface {
	// Transcribe runs whisper on 16 kHz mono samples with threads threads.
	Transcribe(ctx context.Context, samples []float32, threads int) error
	Close()
}

// name returns a unique name for a process or file of the run.
func (e *Env) name(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, e.seq.Add(1))
}

// Redis is a private redis-server.
type Redis struct {
	*Proc
	URL    string
	Client *redis.Client
}

// StartRedis starts a redis-server without persistence on a free loopback
// port.
func (e *Env) StartRedis() (*Redis, error) {
	name := e.name("redis")
	dir := filepath.Join(e.Work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p, err := StartProc(name, filepath.Join(e.Work, name+".log"), childEnv(),
		e.RedisServer, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--dir", dir)
	if err != nil {
		return nil, err
	}
	// Wait until it accepts connections, so that the client's first dial
	// does not fail.
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			break
		}
		if done, _ := p.Exited(); done || time.Now().After(deadline) {
			p.Kill()
			return nil, fmt.Errorf("bench: %s not listening: %w", name, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	url := "redis://" + addr + "/0"
	rdb, err := queue.Dial(url, 2*time.Second, 30*time.Second)
	if err != nil {
		p.Kill()
		return nil, err
	}
	r := &Redis{Proc: p, URL: url, Client: rdb}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		r.Stop()
		return nil, fmt.Errorf("bench: %s not answering: %w", name, err)
	}
	return r, nil
}

// Stop closes the client and ends the server.
func (r *Redis) Stop() {
	r.Client.Close()
	r.Proc.Stop(5 * time.Second)
}

// UsedMemory returns Redis's used_memory, in bytes.
func (r *Redis) UsedMemory(ctx context.Context) (int64, error) {
	info, err := r.Client.InfoMap(ctx, "memory").Result()
	if err != nil {
		return 0, fmt.Errorf("bench: redis memory: %w", err)
	}
	v, err := strconv.ParseInt(info["Memory"]["used_memory"], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bench: redis used_memory: %w", err)
	}
	return v, nil
}

// Daemon is a running asr-api or asr-worker.
type Daemon struct {
	*Proc
	// Ready is how long the daemon took from its start to READY=1.
	Ready time.Duration
	// URL is asr-api's address.
	URL string
}

// WorkerSpec says how to run one asr-worker.
type WorkerSpec struct {
	Model   string
	Threads int
	// Lease and OpTimeout override queue.lease and redis.op_timeout when
	// set.
	Lease     time.Duration
	OpTimeout time.Duration
}

// daemonEnv is the configuration shared by the daemons of one setup,
// given through the environment over an empty configuration file.
func (e *Env) daemonEnv(r *Redis, extra ...string) []string {
	return childEnv(append([]string{
		"ASR_REDIS_URL=" + r.URL,
		"ASR_LOG_FORMAT=json",
		"ASR_LOG_LEVEL=info",
		"ASR_WORKER_LANGUAGE=en",
		// No voice activity model: whisper-server runs without one too.
		"ASR_WORKER_VAD_MODEL=" + filepath.Join(e.Work, "no-vad-model.bin"),
	}, extra...)...)
}

// configFile returns an empty configuration file, so that the daemons run
// on their defaults and the environment.
func (e *Env) configFile() (string, error) {
	path := filepath.Join(e.Work, "config.toml")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	return path, nil
}

// startDaemon starts program (asr-api or asr-worker) as name, with a
// notify socket, and waits for READY=1.
func (e *Env) startDaemon(program, name string, env []string,
	args ...string) (*Daemon, error) {
	config, err := e.configFile()
	if err != nil {
		return nil, err
	}
	sock, err := ListenNotify(filepath.Join(e.Work, name+".notify"))
	if err != nil {
		return nil, err
	}
	argv := append([]string{filepath.Join(e.Bin, program), "-config", config}, args...)
	p, err := StartProc(name, filepath.Join(e.Work, name+".log"),
		append(env, sock.Env()), argv...)
	if err != nil {
		sock.Close()
		return nil, err
	}
	// The socket lives as long as the daemon, which keeps sending status.
	go func() {
		<-p.Done()
		sock.Close()
	}()
	at, err := wait(p, sock.Ready(), 5*time.Minute, "READY=1")
	if err != nil {
		p.Kill()
		return nil, fmt.Errorf("%w (log: %s)", err, filepath.Join(e.Work, name+".log"))
	}
	return &Daemon{Proc: p, Ready: at.Sub(p.Started)}, nil
}

// StartAPI starts asr-api on a free loopback port.
func (e *Env) StartAPI(r *Redis) (*Daemon, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	d, err := e.startDaemon("asr-api", e.name("asr-api"), e.daemonEnv(r, "ASR_API_LISTEN="+addr))
	if err != nil {
		return nil, err
	}
	d.URL = "http://" + addr
	return d, nil
}

// StartWorker starts one asr-worker.
func (e *Env) StartWorker(r *Redis, spec WorkerSpec) (*Daemon, error) {
	name := e.name("asr-worker")
	extra := []string{
		"ASR_WORKER_MODEL=" + spec.Model,
		"ASR_WORKER_THREADS=" + strconv.Itoa(spec.Threads),
	}
	if spec.Lease > 0 {
		extra = append(extra, "ASR_QUEUE_LEASE="+spec.Lease.String())
	}
	if spec.OpTimeout > 0 {
		extra = append(extra, "ASR_REDIS_OP_TIMEOUT="+spec.OpTimeout.String())
	}
	return e.startDaemon("asr-worker", name, e.daemonEnv(r, extra...), "-instance", name)
}

// StartWorkers starts n workers alike, one after the other.
func (e *Env) StartWorkers(r *Redis, n int, spec WorkerSpec) ([]*Daemon, error) {
	var ws []*Daemon
	for range n {
		w, err := e.StartWorker(r, spec)
		if err != nil {
			stopAll(ws)
			return nil, err
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// stopAll stops daemons with SIGTERM.
func stopAll(ds []*Daemon) {
	for _, d := range ds {
		d.Stop(30 * time.Second)
	}
}

// WhisperServer is a running whisper-server.
type WhisperServer struct {
	*Proc
	URL   string
	Ready time.Duration
}

// StartWhisperServer starts whisper-server with model and threads on a
// free loopback port, and waits until it answers.
func (e *Env) StartWhisperServer(model string, threads int) (*WhisperServer, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	name := e.name("whisper-server")
	p, err := StartProc(name, filepath.Join(e.Work, name+".log"), childEnv(),
		e.WhisperServer, "-m", model, "-t", strconv.Itoa(threads), "-l", "en",
		"--host", "127.0.0.1", "--port", strconv.Itoa(port))
	if err != nil {
		return nil, err
	}
	ws := &WhisperServer{Proc: p, URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		// Its /health answers 200 once the model is loaded; a server
		// without that route loads the model before it listens.
		resp, err := http.Get(ws.URL + "/health")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNotFound {
				ws.Ready = time.Since(p.Started)
				return ws, nil
			}
		}
		if done, _ := p.Exited(); done || time.Now().After(deadline) {
			p.Kill()
			return nil, fmt.Errorf("bench: %s did not become ready (log: %s)", name,
				filepath.Join(e.Work, name+".log"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
