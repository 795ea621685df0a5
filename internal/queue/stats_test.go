package queue

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asr-server/asr-server/internal/transcript"
)

func stats(t *testing.T, s *Store) *Stats {
	t.Helper()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// checkHist compares h's count and sum, and its cumulative counts at the
// given bounds; every bound must be present.
func checkHist(t *testing.T, what string, h Histogram, count uint64, sum float64,
	at map[float64]uint64) {
	t.Helper()
	if h.Count != count || h.Sum != sum || len(h.Buckets) != len(histBounds[what]) {
		t.Errorf("%s: count %d sum %v buckets %d, want %d %v %d", what, h.Count, h.Sum,
			len(h.Buckets), count, sum, len(histBounds[what]))
	}
	for bound, n := range at {
		if h.Buckets[bound] != n {
			t.Errorf("%s: bucket le %v = %d, want %d", what, bound, h.Buckets[bound], n)
		}
	}
}

// TestStatsCountEveryTransition runs jobs through every way a state
// changes and checks the counts the scripts kept.
func TestStatsCountEveryTransition(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, Options{Lease: 100 * time.Millisecond, MaxAttempts: 2})
	t0 := time.UnixMilli(1_700_000_000_000)
	c := &clock{now: t0}
	s.Now = c.Now
	if st := stats(t, s); st.Finished[Succeeded] != 0 || st.Wait.Count != 0 ||
		len(st.AttemptsFailed) != len(AttemptCodes()) {
		t.Fatalf("stats of an unused deployment: %+v", st)
	}

	// a waits 2 s, is handed back and started again (its wait counts
	// once), then succeeds 1 s after its second start with 10 s of audio.
	a := submit(t, s, "a")
	c.now = t0.Add(2 * time.Second)
	if err := s.Release(ctx, take(t, s, "w1")); err != nil {
		t.Fatal(err)
	}
	da := take(t, s, "w1")
	c.now = t0.Add(3 * time.Second)
	if err := s.Finish(ctx, da, &transcript.Result{Duration: 10}); err != nil {
		t.Fatal(err)
	}
	if get(t, s, a.ID).State != Succeeded {
		t.Fatalf("a did not succeed")
	}

	// b waits 0.5 s, fails for good after 0.5 s, is queued again and
	// started (no second wait), then canceled while running.
	b := submit(t, s, "b")
	c.now = t0.Add(3500 * time.Millisecond)
	db := take(t, s, "w1")
	c.now = t0.Add(4 * time.Second)
	if _, err := s.Fail(ctx, db, "not audio", "invalid_audio", false); err != nil {
		t.Fatal(err)
	}
	if err := s.Requeue(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	take(t, s, "w1")
	if _, err := s.Cancel(ctx, b.ID); err != nil {
		t.Fatal(err)
	}

	// c waits 5 s; its workers are lost twice, which ends it failed.
	cj := submit(t, s, "c")
	c.now = t0.Add(9 * time.Second)
	take(t, s, "w1")
	waitFor(t, "second attempt", func() bool { return take(t, s, "w2") != nil })
	waitFor(t, "attempts exhausted", func() bool {
		take(t, s, "w3")
		return get(t, s, cj.ID).State == Failed
	})

	st := stats(t, s)
	finished := map[State]uint64{Succeeded: 1, Failed: 2, Canceled: 1}
	for state, n := range finished {
		if st.Finished[state] != n {
			t.Errorf("finished %s = %d, want %d", state, st.Finished[state], n)
		}
	}
	for _, code := range AttemptCodes() {
		want := map[string]uint64{"invalid_audio": 1, "worker_lost": 2}[code]
		if st.AttemptsFailed[code] != want {
			t.Errorf("attempts failed with %s = %d, want %d", code, st.AttemptsFailed[code],
				want)
		}
	}
	if st.AudioSeconds != 10 {
		t.Errorf("audio seconds %v, want 10", st.AudioSeconds)
	}
	checkHist(t, histWait, st.Wait, 3, 7.5,
		map[float64]uint64{0.1: 0, 0.5: 1, 1: 1, 2.5: 2, 5: 3, 3600: 3})
	checkHist(t, histRun, st.Run, 2, 1.5, map[float64]uint64{0.5: 1, 1: 2, 3600: 2})
	checkHist(t, histRTF, st.RealTimeFactor, 1, 0.1,
		map[float64]uint64{0.05: 0, 0.1: 1, 5: 1})
}

// TestFailCountsUnknownCodesAsOther checks that the stats keep a bounded
// set of codes whatever code a worker reports, while the job keeps its own.
func TestFailCountsUnknownCodesAsOther(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t, Options{})
	for _, code := range []string{"gpu_on_fire", "", "job_timeout"} {
		sub := submit(t, s, "x")
		if _, err := s.Fail(ctx, take(t, s, "w1"), "boom", code, false); err != nil {
			t.Fatal(err)
		}
		if j := get(t, s, sub.ID); j.ErrorCode != code {
			t.Errorf("job's code %q, want %q", j.ErrorCode, code)
		}
	}
	st := stats(t, s)
	if st.AttemptsFailed[OtherCode] != 2 || st.AttemptsFailed["job_timeout"] != 1 {
		t.Errorf("attempts failed: %v", st.AttemptsFailed)
	}
	fields, err := rdb.HKeys(ctx, s.statsKey()).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fields {
		if code, ok := strings.CutPrefix(f, "attempts_failed:"); ok &&
			!slices.Contains(AttemptCodes(), code) {
			t.Errorf("stats hash holds unbounded code field %q", f)
		}
	}
}

func TestParseStats(t *testing.T) {
	st, err := parseStats(map[string]string{
		"finished:succeeded":   "4",
		"finished:exploded":    "9", // not a final state: skipped
		"attempts_failed:nope": "2", // unknown codes count as other
		"attempts_failed:x":    "3",
		"audio_seconds":        "12.25",
		"wait:count":           "5",
		"wait:sum":             "40",
		"wait:le:0.5":          "1",
		"wait:le:0.7":          "2", // a bound no longer listed: read into le 1
		"wait:le:99999":        "1", // above every bound: only in the count
		"future:field":         "x", // a newer writer's field: skipped
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Finished[Succeeded] != 4 || len(st.Finished) != 3 ||
		st.AttemptsFailed[OtherCode] != 5 || st.AudioSeconds != 12.25 {
		t.Errorf("stats: %+v", st)
	}
	checkHist(t, histWait, st.Wait, 5, 40, map[float64]uint64{0.1: 0, 0.5: 1, 1: 3, 3600: 3})
	for _, bad := range []map[string]string{{"audio_seconds": "NaN"},
		{"finished:failed": "-1"}, {"run:count": "1.5"}, {"rtf:sum": "-2"},
		{"run:le:abc": "1"}, {"wait:le:1": "x"}} {
		if _, err := parseStats(bad); err == nil {
			t.Errorf("parseStats(%v) accepted a bad value", bad)
		}
	}
}

// FuzzParseStats feeds parseStats fields written as "name=value" lines.
func FuzzParseStats(f *testing.F) {
	f.Add("finished:failed=3\nattempts_failed:worker_lost=2\naudio_seconds=1.5")
	f.Add("wait:le:0.5=1\nwait:le:7=2\nwait:count=4\nwait:sum=9.5")
	f.Add("rtf:le:NaN=1\nrun:le:-1=3\nrun:le:+Inf=1\nrtf:count=1")
	f.Add("attempts_failed:=1\nfinished:=2\n=\n::=3")
	f.Fuzz(func(t *testing.T, in string) {
		h := map[string]string{}
		for _, line := range strings.Split(in, "\n") {
			k, v, _ := strings.Cut(line, "=")
			h[k] = v
		}
		st, err := parseStats(h)
		if err != nil {
			return
		}
		if len(st.Finished) != len(finalStates) ||
			len(st.AttemptsFailed) != len(AttemptCodes()) {
			t.Fatalf("unbounded keys: %v %v", st.Finished, st.AttemptsFailed)
		}
		for name, hist := range map[string]Histogram{histWait: st.Wait, histRun: st.Run,
			histRTF: st.RealTimeFactor} {
			var prev uint64
			for _, b := range histBounds[name] {
				n, ok := hist.Buckets[b]
				if !ok || n < prev {
					t.Fatalf("%s: bucket %v = %d (present %v) after %d", name, b, n, ok, prev)
				}
				prev = n
			}
			if len(hist.Buckets) != len(histBounds[name]) {
				t.Fatalf("%s: %d buckets", name, len(hist.Buckets))
			}
		}
	})
}
