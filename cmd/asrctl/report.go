package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/asr-server/asr-server/internal/progress"
)

// phase is where a file of the transcribe command is.
type phase int

const (
	phaseWaiting phase = iota // not yet uploading
	phaseUploading
	phaseQueued
	phaseRunning
	phaseDone
	phaseFailed
)

// fileState is what the reporter knows of one file.
type fileState struct {
	label    string
	job      string
	phase    phase
	position int64
	percent  int
	failure  string
	bar      *progress.Bar
}

// tracker shows the progress of the transcribe command's files. The
// reporter calls it only on changes, one call at a time.
type tracker interface {
	uploading(f *fileState, sent, total int64)
	submitted(f *fileState, bytes int64)
	queued(f *fileState)
	running(f *fileState)
	done(f *fileState, output string, bytes int)
	failed(f *fileState, code string)
	close(files []*fileState)
}

// reporter keeps each file's state and tells a tracker what changed.
type reporter struct {
	mu    sync.Mutex
	t     tracker
	files []*fileState
}

// newReporter chooses the tracker: JSON lines with --json, bars when
// standard output is a terminal, plain lines otherwise.
func (a *app) newReporter(labels []string) *reporter {
	r := &reporter{files: make([]*fileState, len(labels))}
	for i, l := range labels {
		r.files[i] = &fileState{label: l}
	}
	switch width, tty := terminal(a.stdout); {
	case a.jsonOut:
		r.t = &jsonTracker{enc: json.NewEncoder(a.stdout)}
	case tty:
		d := progress.New(a.stdout, width)
		for _, f := range r.files {
			f.bar = d.Add(f.label)
		}
		d.Render()
		r.t = &barTracker{d: d, w: a.stdout}
	default:
		r.t = &plainTracker{w: a.stdout}
	}
	return r
}

func (r *reporter) uploading(i int, sent, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.files[i]
	if f.phase <= phaseUploading {
		f.phase = phaseUploading
		r.t.uploading(f, sent, total)
	}
}

// submitted records the job of an uploaded file and its place in the
// queue (0 if unknown).
func (r *reporter) submitted(i int, job string, bytes, position int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.files[i]
	f.job, f.phase, f.position = job, phaseQueued, position
	r.t.submitted(f, bytes)
	r.t.queued(f)
}

// queued records that the job waits (again, after a failed attempt).
func (r *reporter) queued(i int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.files[i]
	if f.phase == phaseRunning {
		f.phase, f.position, f.percent = phaseQueued, 0, 0
		r.t.queued(f)
	}
}

// position records a waiting job's place in the queue.
func (r *reporter) position(i int, pos int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.files[i]
	if f.phase == phaseQueued && pos != f.position {
		f.position = pos
		r.t.queued(f)
	}
}

// waiting reports whether the job waits in the queue.
func (r *reporter) waiting(i int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.files[i].phase == phaseQueued
}

func (r *reporter) running(i int, percent int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.files[i]
	if f.phase == phaseQueued || f.phase == phaseRunning && percent != f.percent {
		f.phase, f.percent = phaseRunning, percent
		r.t.running(f)
	}
}

func (r *reporter) done(i int, output string, bytes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.files[i]
	f.phase, f.percent = phaseDone, 100
	r.t.done(f, output, bytes)
}

func (r *reporter) failed(i int, reason, code string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.files[i]
	f.phase, f.failure = phaseFailed, reason
	r.t.failed(f, code)
}

// failures returns the number of files that failed.
func (r *reporter) failures() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, f := range r.files {
		if f.phase == phaseFailed {
			n++
		}
	}
	return n
}

func (r *reporter) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t.close(r.files)
}

// barTracker draws a progress bar per file.
type barTracker struct {
	d       *progress.Display
	w       io.Writer
	outputs []string
}

func (b *barTracker) uploading(f *fileState, sent, total int64) {
	f.bar.Bytes("uploading", sent, total)
}

func (b *barTracker) submitted(f *fileState, bytes int64) {}

func (b *barTracker) queued(f *fileState) {
	note := ""
	if f.position > 0 {
		note = fmt.Sprintf("position %d", f.position)
	}
	f.bar.Note("queued", note)
}

func (b *barTracker) running(f *fileState) { f.bar.Percent("transcribing", f.percent) }

func (b *barTracker) done(f *fileState, output string, bytes int) {
	f.bar.Percent("done", 100)
	b.outputs = append(b.outputs, output)
}

func (b *barTracker) failed(f *fileState, code string) { f.bar.Note("failed", f.failure) }

func (b *barTracker) close(files []*fileState) {
	b.d.Render()
	for _, out := range b.outputs {
		fmt.Fprintf(b.w, "wrote %s\n", out)
	}
}

// plainTracker prints a line per step, for logs and pipes: the upload, the
// first known place in the queue, the start and every tenth of the
// transcription, and the end.
type plainTracker struct {
	w       io.Writer
	placed  map[*fileState]bool // a queue position was printed
	printed map[*fileState]int  // the last tenth of progress printed
}

func (p *plainTracker) uploading(f *fileState, sent, total int64) {}

func (p *plainTracker) submitted(f *fileState, bytes int64) {
	fmt.Fprintf(p.w, "%s: uploaded %s as job %s\n", f.label, progress.Bytes(bytes), f.job)
}

func (p *plainTracker) queued(f *fileState) {
	if p.placed == nil {
		p.placed, p.printed = map[*fileState]bool{}, map[*fileState]int{}
	}
	if _, ran := p.printed[f]; ran {
		delete(p.printed, f)
		fmt.Fprintf(p.w, "%s: queued again after a failed attempt\n", f.label)
		return
	}
	if f.position > 0 && !p.placed[f] {
		p.placed[f] = true
		fmt.Fprintf(p.w, "%s: queued at position %d\n", f.label, f.position)
	}
}

func (p *plainTracker) running(f *fileState) {
	if p.printed == nil {
		p.placed, p.printed = map[*fileState]bool{}, map[*fileState]int{}
	}
	last, started := p.printed[f]
	now := f.percent / 10
	switch {
	case !started:
		fmt.Fprintf(p.w, "%s: transcribing\n", f.label)
		p.printed[f] = 0
	case now > last:
		fmt.Fprintf(p.w, "%s: transcribing %d%%\n", f.label, f.percent)
		p.printed[f] = now
	}
}

func (p *plainTracker) done(f *fileState, output string, bytes int) {
	fmt.Fprintf(p.w, "%s: done, wrote %s (%s)\n", f.label, output,
		progress.Bytes(int64(bytes)))
}

func (p *plainTracker) failed(f *fileState, code string) {
	fmt.Fprintf(p.w, "%s: failed: %s\n", f.label, f.failure)
}

func (p *plainTracker) close(files []*fileState) {}

// jsonTracker writes one JSON object per line and event: "submitted",
// "progress" (state queued with the position, or running with the
// percent), then "done" or "failed".
type jsonTracker struct {
	enc *json.Encoder
}

// jsonEvent is one line of the transcribe command's JSON output.
type jsonEvent struct {
	Event    string `json:"event"`
	File     string `json:"file"`
	Job      string `json:"job,omitempty"`
	Bytes    int64  `json:"bytes,omitempty"`
	State    string `json:"state,omitempty"`
	Position int64  `json:"position,omitempty"`
	Percent  *int   `json:"percent,omitempty"`
	Output   string `json:"output,omitempty"`
	Error    string `json:"error,omitempty"`
	Code     string `json:"code,omitempty"`
}

func (j *jsonTracker) uploading(f *fileState, sent, total int64) {}

func (j *jsonTracker) submitted(f *fileState, bytes int64) {
	j.enc.Encode(jsonEvent{Event: "submitted", File: f.label, Job: f.job, Bytes: bytes})
}

func (j *jsonTracker) queued(f *fileState) {
	j.enc.Encode(jsonEvent{Event: "progress", File: f.label, Job: f.job, State: "queued",
		Position: f.position})
}

func (j *jsonTracker) running(f *fileState) {
	p := f.percent
	j.enc.Encode(jsonEvent{Event: "progress", File: f.label, Job: f.job, State: "running",
		Percent: &p})
}

func (j *jsonTracker) done(f *fileState, output string, bytes int) {
	j.enc.Encode(jsonEvent{Event: "done", File: f.label, Job: f.job, Output: output,
		Bytes: int64(bytes)})
}

func (j *jsonTracker) failed(f *fileState, code string) {
	j.enc.Encode(jsonEvent{Event: "failed", File: f.label, Job: f.job, Error: f.failure,
		Code: code})
}

func (j *jsonTracker) close(files []*fileState) {}
