package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/asr-server/asr-server/internal/client"
)

// extensions maps each result format to the extension of its file.
var extensions = map[string]string{"json": "json", "verbose_json": "json", "text": "txt",
	"srt": "srt", "vtt": "vtt"}

// Following a job's events: how often a queued job's position is asked
// for, and how often, and with what waits, a lost event stream is opened
// again before the job counts as lost.
const (
	positionPoll     = time.Second
	maxReconnects    = 8
	reconnectBackoff = 500 * time.Millisecond
	maxBackoff       = 5 * time.Second
)

// transcriber runs the transcribe command's files.
type transcriber struct {
	c       *client.Client
	rep     *reporter
	format  string
	outDir  string
	opts    client.Decoding
	render  client.ResultOptions
	uploads chan struct{} // bounds the uploads running at once
}

// task is one file to transcribe.
type task struct {
	i    int
	path string
	out  string
}

func runTranscribe(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("transcribe", "FILE... [flags]")
	t := &transcriber{}
	fs.StringVar(&t.format, "format", "text", "result `format`: srt, vtt, text, json or "+
		"verbose_json")
	fs.StringVar(&t.outDir, "out", ".", "write each result to `DIR`/<file name>.<format>")
	parallel := fs.Int("parallel", 4, "upload at most `N` files at once")
	d := &t.opts
	fs.StringVar(&d.Language, "language", "", "spoken language `code` (en, de, ...) or auto")
	fs.StringVar(&d.Prompt, "prompt", "", "`text` that precedes the audio, to steer spelling")
	fs.Float64Var(&d.Temperature, "temperature", 0, "sampling temperature, 0 to 1 "+
		"(0: automatic fallback)")
	fs.BoolVar(&d.Translate, "translate", false, "translate to English")
	fs.BoolVar(&d.WordTimestamps, "word-timestamps", false, "time every word "+
		"(shown in verbose_json)")
	fs.IntVar(&d.BeamSize, "beam-size", 0, "beam search `width`, 1 to 16")
	fs.IntVar(&d.BestOf, "best-of", 0, "`candidates` kept when sampling, 1 to 16")
	fs.Float64Var(&d.NoSpeechThreshold, "no-speech-threshold", 0,
		"no-speech probability above which a window is silence, above 0 and at most 1")
	fs.IntVar(&d.MaxSegmentLength, "max-segment-length", 0, "split segments longer than "+
		"`N` characters")
	fs.BoolVar(&d.SplitOnWord, "split-on-word", false, "split long segments at words")
	var vad optBool
	fs.Var(&vad, "vad", "voice activity detection on or off (default: on where installed)")
	fs.Float64Var(&d.VADThreshold, "vad-threshold", 0, "speech probability threshold of "+
		"voice activity detection")
	fs.IntVar(&t.render.MaxLineWidth, "max-line-width", 0, "subtitle line width in "+
		"`characters`")
	fs.IntVar(&t.render.MaxLinesPerCue, "max-lines-per-cue", 0, "subtitle `lines` per cue")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fmt.Fprintln(a.stderr, "asrctl transcribe: no files given")
		fs.Usage()
		return errUsage
	}
	if _, ok := extensions[t.format]; !ok {
		fmt.Fprintf(a.stderr, "asrctl transcribe: unknown format %q: use srt, vtt, text, "+
			"json or verbose_json\n", t.format)
		return errUsage
	}
	if vad.set {
		d.VAD = &vad.value
	}
	if t.c, err = a.client(); err != nil {
		return err
	}
	if err := os.MkdirAll(t.outDir, 0o755); err != nil {
		return err
	}
	if err := checkWritable(t.outDir); err != nil {
		return err
	}
	t.uploads = make(chan struct{}, max(*parallel, 1))
	t.rep = a.newReporter(files)
	failed := t.runAll(ctx, files)
	t.rep.close()
	if failed == 0 {
		return nil
	}
	fmt.Fprintf(a.stderr, "asrctl transcribe: %d of %d files failed:\n", failed, len(files))
	for _, f := range t.rep.files {
		if f.failure != "" {
			fmt.Fprintf(a.stderr, "  %s: %s\n", f.label, f.failure)
		}
	}
	return errReported
}

// runAll transcribes every file, each in its own goroutine, and returns
// the number that failed.
func (t *transcriber) runAll(ctx context.Context, files []string) int {
	tasks := make([]task, len(files))
	owner := map[string]string{}
	var wg sync.WaitGroup
	for i, path := range files {
		tasks[i] = task{i: i, path: path, out: t.outputPath(path)}
		if first, taken := owner[tasks[i].out]; taken {
			t.rep.failed(i, fmt.Sprintf("its result would overwrite that of %s (%s)",
				first, tasks[i].out), "")
			continue
		}
		owner[tasks[i].out] = path
		wg.Add(1)
		go func(tk task) {
			defer wg.Done()
			if err := t.one(ctx, tk); err != nil {
				t.rep.failed(tk.i, reason(err), code(err))
			}
		}(tasks[i])
	}
	wg.Wait()
	return t.rep.failures()
}

// outputPath returns where the result of the file at path goes.
func (t *transcriber) outputPath(path string) string {
	base := filepath.Base(path)
	if ext := filepath.Ext(base); ext != "" && ext != base {
		base = strings.TrimSuffix(base, ext)
	}
	return filepath.Join(t.outDir, base+"."+extensions[t.format])
}

// one uploads a file, follows its job to the end and writes its result.
func (t *transcriber) one(ctx context.Context, tk task) error {
	job, err := t.submit(ctx, tk)
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted during the upload")
		}
		return err
	}
	var position int64
	if job.Position != nil {
		position = *job.Position
	}
	t.rep.submitted(tk.i, job.ID, job.File.Bytes, position)
	final, err := t.follow(ctx, tk.i, job.ID)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; job %s goes on (asrctl job %s)", job.ID, job.ID)
		}
		return fmt.Errorf("job %s: %w", job.ID, err)
	}
	switch final.State {
	case client.Succeeded:
	case client.Canceled:
		return &jobFailure{msg: fmt.Sprintf("job %s was canceled", final.ID)}
	default:
		f := &jobFailure{msg: fmt.Sprintf("job %s failed", final.ID)}
		if final.Error != nil {
			f.msg += ": " + final.Error.Message
			f.code = final.Error.Code
		}
		return f
	}
	body, err := t.c.Result(ctx, final.ID, t.format, t.render)
	if err != nil {
		return fmt.Errorf("job %s: result: %w", final.ID, err)
	}
	if err := writeFileAtomic(tk.out, body); err != nil {
		return fmt.Errorf("job %s succeeded, but its result could not be written "+
			"(fetch it with asrctl job %s): %w", final.ID, final.ID, err)
	}
	t.rep.done(tk.i, tk.out, len(body))
	return nil
}

// jobFailure is a job that ended without a result.
type jobFailure struct{ msg, code string }

func (f *jobFailure) Error() string { return f.msg }

// reason returns the text of a file's failure.
func reason(err error) string {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return ae.Message + fmt.Sprintf(" (HTTP %d)", ae.Status)
	}
	return err.Error()
}

// code returns the error code of a file's failure, if it has one.
func code(err error) string {
	var ae *client.APIError
	var jf *jobFailure
	switch {
	case errors.As(err, &ae):
		return ae.Code
	case errors.As(err, &jf):
		return jf.code
	}
	return ""
}

// submit uploads the file, once a slot among the parallel uploads is free.
// TODO(asrctl): retry an upload refused with 429 or 503 after its
// Retry-After, with an Idempotency-Key so that a retry queues no twin.
func (t *transcriber) submit(ctx context.Context, tk task) (*client.Job, error) {
	select {
	case t.uploads <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-t.uploads }()
	// Opening a FIFO would block until a writer comes: check first.
	if st, err := os.Stat(tk.path); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", tk.path)
	}
	f, err := os.Open(tk.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", tk.path)
	}
	size := st.Size()
	t.rep.uploading(tk.i, 0, size)
	return t.c.Submit(ctx, client.Upload{Name: filepath.Base(tk.path), Body: f, Size: size,
		Options: t.opts, Sent: func(n int64) { t.rep.uploading(tk.i, n, size) }})
}

// follow reads the job's events until it ends and returns the job as it
// ended. A lost stream is opened again after the last event read.
func (t *transcriber) follow(ctx context.Context, i int, id string) (*client.Job, error) {
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	go t.pollPosition(pollCtx, i, id)
	after, failures := "", 0
	for {
		final, last, serr := t.stream(ctx, i, id, after)
		after = last
		if final {
			return t.c.Job(ctx, id)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		job, jerr := t.c.Job(ctx, id)
		if jerr == nil && client.Final(job.State) {
			return job, nil
		}
		if serr == nil && jerr == nil {
			failures = 0
		} else if failures++; failures > maxReconnects {
			return nil, fmt.Errorf("lost the event stream: %w", errors.Join(serr, jerr))
		}
		wait := min(reconnectBackoff<<failures, maxBackoff)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// stream reads one connection's worth of events. It reports whether the
// job reached a final state and the id of the last event read.
func (t *transcriber) stream(ctx context.Context, i int, id, after string) (bool, string,
	error) {
	s, err := t.c.Events(ctx, id, after)
	if err != nil {
		return false, after, err
	}
	defer s.Close()
	for {
		ev, err := s.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return false, s.LastID(), err
		}
		switch ev.Type {
		case "state":
			st, err := ev.StateChange()
			if err != nil {
				return false, s.LastID(), err
			}
			switch {
			case client.Final(st.State):
				return true, s.LastID(), nil
			case st.State == client.Running:
				t.rep.running(i, 0)
			case st.State == client.Queued:
				t.rep.queued(i)
			}
		case "progress":
			if p, err := ev.Percent(); err == nil {
				t.rep.running(i, p)
			}
		}
	}
}

// pollPosition asks for the job's place in the queue while it waits.
func (t *transcriber) pollPosition(ctx context.Context, i int, id string) {
	tick := time.NewTicker(positionPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !t.rep.waiting(i) {
			continue
		}
		if j, err := t.c.Job(ctx, id); err == nil && j.State == client.Queued &&
			j.Position != nil {
			t.rep.position(i, *j.Position)
		}
	}
}

// checkWritable fails unless a file can be created in dir, so that no
// audio is transcribed whose result could not be written.
func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".asrctl-check-*")
	if err != nil {
		return fmt.Errorf("the output directory is not writable: %w", err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// writeFileAtomic writes data to path through a temporary file in the
// same directory, so that path never holds a partial result.
func writeFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
