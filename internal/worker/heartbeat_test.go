package worker

import (
	"context"
	"testing"
	"time"

	"github.com/asr-server/asr-server/internal/queue"
	"github.com/asr-server/asr-server/internal/transcript"
)

// workerStatus polls the queue overview until the named worker's status
// satisfies cond, and returns it.
func workerStatus(t *testing.T, q *queue.Store, name string,
	cond func(queue.WorkerStatus) bool) queue.WorkerStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last queue.WorkerStatus
	for {
		o, err := q.Overview(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range o.Workers {
			if st.Name == name {
				last = st
				if cond(st) {
					return st
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %s never reached the expected status; last %+v", name, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHeartbeatReportsProgressJobsAndAudio checks the figures a worker
// publishes with its heartbeat: its current job and that job's progress,
// then the jobs it completed and their audio.
func TestHeartbeatReportsProgressJobsAndAudio(t *testing.T) {
	q := newQueue(t, 5*time.Second)
	release := make(chan struct{})
	transcribe := func(ctx context.Context, s []float32, _ transcript.Options,
		progress func(int), _ func(transcript.Segment)) (transcript.Result, error) {
		progress(40)
		select {
		case <-release:
		case <-ctx.Done():
			return transcript.Result{}, ctx.Err()
		}
		return transcript.Result{Text: "x", Duration: 1.25}, nil
	}
	w := New(q, fixedDecode, transcribe, nopNotifier{}, discard,
		Options{Name: "hb", Lease: 5 * time.Second, StopTimeout: time.Minute,
			PollInterval: 50 * time.Millisecond})
	stop := runWorker(t, w)
	defer stop()

	first, _, err := q.Submit(context.Background(), queue.Spec{Audio: []byte("ok")})
	if err != nil {
		t.Fatal(err)
	}
	st := workerStatus(t, q, "hb", func(st queue.WorkerStatus) bool {
		return st.Job == first.ID && st.Progress == 40
	})
	if st.JobsDone != 0 || st.AudioSeconds != 0 {
		t.Errorf("status while the first job runs: %+v", st)
	}
	close(release)
	ids := []string{first.ID}
	for _, audio := range []string{"ok", "bad", "ok"} {
		j, _, err := q.Submit(context.Background(), queue.Spec{Audio: []byte(audio)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	for _, id := range ids {
		waitFinal(t, q, id)
	}
	// The failed job counts neither as done nor as audio.
	st = workerStatus(t, q, "hb", func(st queue.WorkerStatus) bool {
		return st.Job == "" && st.JobsDone == 3
	})
	if st.AudioSeconds != 3.75 || st.Progress != 0 {
		t.Errorf("idle status: %+v, want 3.75 s of audio and progress 0", st)
	}
}
