package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/asr-server/asr-server/internal/queue"
	"github.com/asr-server/asr-server/internal/transcript"
)

// eventLabels names a job's events: "p<percent>" for progress, "s:<text>"
// for a segment, "<state>" for a change of state.
func eventLabels(t *testing.T, q *queue.Store, id string) []string {
	t.Helper()
	events, err := q.Events(context.Background(), id, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, ev := range events {
		var data struct {
			Percent int    `json:"percent"`
			Text    string `json:"text"`
			State   string `json:"state"`
		}
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			t.Fatalf("event %+v: %v", ev, err)
		}
		switch ev.Type {
		case "progress":
			labels = append(labels, fmt.Sprintf("p%d", data.Percent))
		case "segment":
			labels = append(labels, "s:"+data.Text)
		default:
			labels = append(labels, data.State)
		}
	}
	return labels
}

// isSubsequence reports whether every element of sub appears in seq, in
// the same order.
func isSubsequence(sub, seq []string) bool {
	i := 0
	for _, s := range seq {
		if i < len(sub) && sub[i] == s {
			i++
		}
	}
	return i == len(sub)
}

// TestReportsKeepTheirOrder checks that a job's reports reach its event
// stream in the order they were made, with every segment, all before the
// job's final state. Progress reports that were still waiting when a newer
// one came, or when the job succeeded, may be missing.
func TestReportsKeepTheirOrder(t *testing.T) {
	q := newQueue(t, 3*time.Second)
	calls := []string{"p10", "s:one", "p20", "p30", "p40", "s:two", "s:three", "p99", "p100"}
	transcribe := func(ctx context.Context, s []float32, _ transcript.Options,
		progress func(int), segment func(transcript.Segment)) (transcript.Result, error) {
		for _, c := range calls {
			if text, ok := strings.CutPrefix(c, "s:"); ok {
				segment(transcript.Segment{Text: text})
				continue
			}
			var p int
			fmt.Sscanf(c, "p%d", &p)
			progress(p)
		}
		return transcript.Result{Text: "one two three", Duration: 1}, nil
	}
	w := New(q, fixedDecode, transcribe, nopNotifier{}, discard,
		Options{Name: "w", Lease: 3 * time.Second, StopTimeout: time.Minute,
			PollInterval: 50 * time.Millisecond})
	stop := runWorker(t, w)
	defer stop()
	job, _, _ := q.Submit(context.Background(), queue.Spec{Audio: []byte("ok")})
	if j := waitFinal(t, q, job.ID); j.State != queue.Succeeded || j.Progress != 100 {
		t.Fatalf("job: %+v", j)
	}
	labels := eventLabels(t, q, job.ID)
	n := len(labels)
	if n < 6 || strings.Join(labels[:2], " ") != "queued running" ||
		labels[n-1] != "succeeded" {
		t.Fatalf("events %v, want queued, running, the reports, succeeded", labels)
	}
	reports := labels[2 : n-1]
	if !isSubsequence(reports, calls) ||
		!isSubsequence([]string{"s:one", "s:two", "s:three"}, reports) {
		t.Fatalf("reports %v, want them in the order of %v with every segment",
			reports, calls)
	}
}

// heldProgress is a queue whose progress reports, once begun, wait until
// released.
type heldProgress struct {
	*queue.Store
	begun, release chan struct{}
}

func (q heldProgress) Progress(ctx context.Context, d *queue.Delivery, percent int) error {
	close(q.begun)
	<-q.release
	return q.Store.Progress(context.Background(), d, percent)
}

// TestTranscriptionDoesNotWaitForReports checks that a report the queue
// has not taken yet does not hold up transcription: here the report is
// held until transcription has finished.
func TestTranscriptionDoesNotWaitForReports(t *testing.T) {
	store := newQueue(t, 3*time.Second)
	q := heldProgress{Store: store, begun: make(chan struct{}), release: make(chan struct{})}
	transcribe := func(ctx context.Context, s []float32, _ transcript.Options,
		progress func(int), _ func(transcript.Segment)) (transcript.Result, error) {
		progress(50)
		<-q.begun
		close(q.release)
		return transcript.Result{Text: "done", Duration: 1}, nil
	}
	w := New(q, fixedDecode, transcribe, nopNotifier{}, discard,
		Options{Name: "w", Lease: 3 * time.Second, StopTimeout: time.Minute,
			PollInterval: 50 * time.Millisecond})
	stop := runWorker(t, w)
	defer stop()
	job, _, _ := store.Submit(context.Background(), queue.Spec{Audio: []byte("ok")})
	if j := waitFinal(t, store, job.ID); j.State != queue.Succeeded || j.Result.Text != "done" {
		t.Fatalf("job: %+v", j)
	}
	want := "queued running p50 succeeded"
	if got := strings.Join(eventLabels(t, store, job.ID), " "); got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
}
