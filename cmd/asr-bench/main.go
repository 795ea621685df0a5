// Command asr-bench measures asr-server side by side with whisper.cpp's
// whisper-server and python3-rq on this machine and prints one Markdown
// table of figures, each with its anchor from the same run. It starts
// private redis-server, asr-api, asr-worker and whisper-server processes
// on loopback and stops them again. scripts/bench.sh runs it for
// `make bench`.
//
//	asr-bench -tiny MODEL -base MODEL -speech jfk.wav [-bin DIR] [-work DIR] [-quick]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/asr-server/asr-server/internal/bench"
	"github.com/asr-server/asr-server/internal/engine"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "asr-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	env := &bench.Env{}
	flag.StringVar(&env.Bin, "bin", "bin", "`directory` holding asr-api and asr-worker")
	flag.StringVar(&env.TinyModel, "tiny", "", "tiny generated whisper `model` (required)")
	flag.StringVar(&env.BaseModel, "base", "", "base-sized generated whisper `model` (required)")
	speech := flag.String("speech", "", "16 kHz mono WAV `file` of speech, jfk.wav (required)")
	flag.StringVar(&env.WhisperServer, "whisper-server", "whisper-server", "whisper.cpp's "+
		"server `program`")
	flag.StringVar(&env.RedisServer, "redis-server", "redis-server", "redis-server `program`")
	flag.StringVar(&env.Python, "python", "python3", "Python `program` with the rq module")
	flag.IntVar(&env.Threads, "threads", min(runtime.NumCPU(), 4),
		"inference `threads` of the single-job comparisons")
	quick := flag.Bool("quick", false, "small repetitions, for a trial run")
	work := flag.String("work", "", "`directory` for logs and sockets, removed after a "+
		"run in which every measurement completed (default: a new temporary directory)")
	flag.Parse()
	if env.TinyModel == "" || env.BaseModel == "" || *speech == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	var err error
	if env.JFK, err = os.ReadFile(*speech); err != nil {
		return err
	}
	if env.Work = *work; env.Work == "" {
		env.Work, err = os.MkdirTemp("", "asr-bench-")
	} else {
		err = os.MkdirAll(env.Work, 0o755)
	}
	if err != nil {
		return err
	}
	// Daemons find their notify sockets by this path, whatever their
	// working directory.
	if env.Work, err = filepath.Abs(env.Work); err != nil {
		return err
	}
	env.Logf = func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"),
			fmt.Sprintf(format, args...))
	}
	env.Bare = loadBare

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	sizes := bench.FullSizes()
	if *quick {
		sizes = bench.QuickSizes()
	}
	rep := &bench.Report{}
	env.Run(ctx, rep, sizes)
	if err := rep.WriteTable(os.Stdout); err != nil {
		return err
	}
	if n := rep.Failed(); n > 0 {
		return fmt.Errorf("%d measurement(s) did not complete; logs kept in %s", n, env.Work)
	}
	return os.RemoveAll(env.Work)
}

// bareEngine is a whisper model loaded into this process.
type bareEngine struct{ eng *engine.Engine }

func loadBare(model string) (bench.BareEngine, error) {
	eng, err := engine.Load(model, nil)
	if err != nil {
		return nil, err
	}
	return bareEngine{eng}, nil
}

// Transcribe decodes as the worker does for the benchmark's requests:
// English, greedy, best of 2 on temperature fallback.
func (b bareEngine) Transcribe(ctx context.Context, samples []float32, threads int) error {
	_, err := b.eng.Transcribe(ctx, samples, engine.Params{Language: "en", Threads: threads,
		BestOf: 2}, nil)
	return err
}

func (b bareEngine) Close() { b.eng.Close() }
