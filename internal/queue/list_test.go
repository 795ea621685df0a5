package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/asr-server/asr-server/internal/transcript"
)

// listed returns the ids of the jobs List returns, and the positions of
// the queued ones among them (0 for others).
func listed(t *testing.T, s *Store, f Filter, limit int64) ([]string, []int64) {
	t.Helper()
	jobs, err := s.List(context.Background(), f, limit)
	if err != nil {
		t.Fatalf("List(%q, %d): %v", f, limit, err)
	}
	ids := make([]string, len(jobs))
	positions := make([]int64, len(jobs))
	for i, j := range jobs {
		ids[i], positions[i] = j.ID, j.Position
	}
	return ids, positions
}

// names maps job ids back to the test's names for readable failures.
type names map[string]string

func (n names) of(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = n[id]
		if out[i] == "" {
			out[i] = id
		}
	}
	return out
}

// TestListEveryState puts jobs in every state, each step one second
// after the last, and lists them with every filter.
func TestListEveryState(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t, Options{RetryBackoff: time.Hour, RetryBackoffMax: time.Hour})
	start := time.Now().Truncate(time.Second)
	c := &clock{now: start}
	s.Now = c.Now
	at := func(sec int) time.Time { return start.Add(time.Duration(sec) * time.Second) }
	n := names{}
	id := map[string]string{}
	for i, name := range []string{"a1", "a2", "b", "r", "x", "d", "e", "f", "g"} {
		c.now = at(i + 1)
		id[name] = submit(t, s, name).ID
		n[id[name]] = name
	}
	takeJob := func(name string) *Delivery {
		t.Helper()
		d := take(t, s, "w1")
		if d == nil || d.Job.ID != id[name] {
			t.Fatalf("took %+v, want job %s", d, name)
		}
		return d
	}
	a1, a2 := takeJob("a1"), takeJob("a2")
	c.now = at(10)
	if err := s.Finish(ctx, a2, &transcript.Result{Text: "two"}); err != nil {
		t.Fatal(err)
	}
	c.now = at(11)
	if err := s.Finish(ctx, a1, &transcript.Result{Text: "one"}); err != nil {
		t.Fatal(err)
	}
	b := takeJob("b")
	c.now = at(12)
	if res, err := s.Fail(ctx, b, "not audio", "invalid_audio", false); res != EndFailed ||
		err != nil {
		t.Fatalf("fail b: %v %v", res, err)
	}
	r := takeJob("r")
	c.now = at(13)
	if res, err := s.Fail(ctx, r, "hiccup", "transcription_failed", true); res != Retrying ||
		err != nil {
		t.Fatalf("fail r: %v %v", res, err)
	}
	takeJob("x")
	c.now = at(14)
	if prev, err := s.Cancel(ctx, id["x"]); prev != Running || err != nil {
		t.Fatalf("cancel x: %v %v", prev, err)
	}
	takeJob("d")
	c.now = at(15)
	if prev, err := s.Cancel(ctx, id["e"]); prev != Queued || err != nil {
		t.Fatalf("cancel e: %v %v", prev, err)
	}

	// Each final change wrote its index in the same script, scored by
	// the time it happened.
	for _, tc := range []struct {
		index, job string
		at         int
	}{
		{s.succeededIndex(), "a2", 10}, {s.succeededIndex(), "a1", 11},
		{s.dead(), "b", 12}, {s.canceledIndex(), "x", 14}, {s.canceledIndex(), "e", 15},
	} {
		score, err := rdb.ZScore(ctx, tc.index, id[tc.job]).Result()
		if err != nil || int64(score) != at(tc.at).UnixMilli() {
			t.Errorf("%s in %s: score %v (%v), want %d", tc.job, tc.index, score, err,
				at(tc.at).UnixMilli())
		}
	}

	tests := []struct {
		filter    Filter
		limit     int64
		want      []string
		positions []int64
	}{
		// e was canceled: f is first in the queue, although Get, which
		// counts from the last started job, estimates 2.
		{ListQueued, 50, []string{"f", "g"}, []int64{1, 2}},
		{ListQueued, 1, []string{"f"}, []int64{1}},
		{ListRunning, 50, []string{"d"}, []int64{0}},
		{ListRetrying, 50, []string{"r"}, []int64{0}},
		{ListSucceeded, 50, []string{"a1", "a2"}, []int64{0, 0}},
		{ListSucceeded, 1, []string{"a1"}, []int64{0}},
		{ListFailed, 50, []string{"b"}, []int64{0}},
		{ListCanceled, 50, []string{"e", "x"}, []int64{0, 0}},
		{ListAll, 50, []string{"g", "f", "e", "d", "x", "r", "b", "a2", "a1"},
			[]int64{2, 1, 0, 0, 0, 0, 0, 0, 0}},
		{ListAll, 4, []string{"g", "f", "e", "d"}, []int64{2, 1, 0, 0}},
		{ListAll, 1000, []string{"g", "f", "e", "d", "x", "r", "b", "a2", "a1"},
			[]int64{2, 1, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.filter, tt.limit), func(t *testing.T) {
			ids, positions := listed(t, s, tt.filter, tt.limit)
			if got := n.of(ids); !slices.Equal(got, tt.want) ||
				!slices.Equal(positions, tt.positions) {
				t.Errorf("got %v positions %v, want %v positions %v", got, positions,
					tt.want, tt.positions)
			}
		})
	}
	if got := get(t, s, id["f"]).Position; got != 2 {
		t.Errorf("Get's position of f = %d, want its estimate 2", got)
	}
	jobs, err := s.List(ctx, ListRetrying, 1)
	if err != nil || len(jobs) != 1 || jobs[0].State != Queued || jobs[0].RetryAt.IsZero() ||
		jobs[0].Attempts != 1 || jobs[0].Error != "hiccup" {
		t.Errorf("retrying job %+v, %v", jobs, err)
	}
}

func TestListPrunesExpiredJobs(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t, Options{ResultTTL: time.Hour})
	c := &clock{now: time.Now()}
	s.Now = c.Now
	n := names{}
	end := func(name string, how func(*Delivery)) string {
		t.Helper()
		c.now = c.now.Add(time.Second)
		id := submit(t, s, name).ID
		n[id] = name
		how(take(t, s, "w1"))
		return id
	}
	succeed := func(d *Delivery) {
		if err := s.Finish(ctx, d, &transcript.Result{}); err != nil {
			t.Fatal(err)
		}
	}
	fail := func(d *Delivery) {
		if _, err := s.Fail(ctx, d, "bad", "invalid_audio", false); err != nil {
			t.Fatal(err)
		}
	}
	cancel := func(d *Delivery) {
		if _, err := s.Cancel(ctx, d.Job.ID); err != nil {
			t.Fatal(err)
		}
	}
	kept := end("kept", succeed)
	end("failed", fail)
	end("canceled", cancel)
	expired := end("expired", succeed)
	rdb.Del(ctx, s.jobKey(expired))

	// A job whose hash is gone is left out and forgotten.
	if ids, _ := listed(t, s, ListSucceeded, 50); !slices.Equal(n.of(ids), []string{"kept"}) {
		t.Errorf("succeeded: %v, want [kept]", n.of(ids))
	}
	if _, err := rdb.ZScore(ctx, s.succeededIndex(), expired).Result(); err == nil {
		t.Errorf("the expired job is still in the index")
	}
	if ids, _ := listed(t, s, ListAll, 50); !slices.Equal(n.of(ids),
		[]string{"canceled", "failed", "kept"}) {
		t.Errorf("all: %v, want [canceled failed kept]", n.of(ids))
	}

	// Past the result lifetime the indexes drop their entries, although
	// this Redis, on its own clock, still holds the hashes.
	c.now = c.now.Add(time.Hour + time.Second)
	for _, f := range []Filter{ListSucceeded, ListFailed, ListCanceled, ListAll} {
		if ids, _ := listed(t, s, f, 50); len(ids) != 0 {
			t.Errorf("%s after the lifetime: %v", f, n.of(ids))
		}
	}
	for _, index := range []string{s.succeededIndex(), s.dead(), s.canceledIndex()} {
		if size := rdb.ZCard(ctx, index).Val(); size != 0 {
			t.Errorf("%s holds %d entries after the lifetime", index, size)
		}
	}
	if _, err := s.Get(ctx, kept); err != nil {
		t.Errorf("the job itself: %v", err)
	}
}

// TestListPagesThroughIndexes lists more jobs than one page of an index
// holds, ended in the reverse order of their creation, with expired ones
// in the first page.
func TestListPagesThroughIndexes(t *testing.T) {
	ctx := context.Background()
	const count = listPage + 10
	s, rdb := newStore(t, Options{MaxQueued: 1000})
	start := time.Now()
	c := &clock{now: start}
	s.Now = c.Now
	ids := make([]string, count)
	deliveries := make([]*Delivery, count)
	for i := range count {
		c.now = start.Add(time.Duration(i) * time.Second)
		ids[i] = submit(t, s, "x").ID
	}
	for i := range count {
		deliveries[i] = take(t, s, "w1")
		if deliveries[i] == nil || deliveries[i].Job.ID != ids[i] {
			t.Fatalf("delivery %d: %+v", i, deliveries[i])
		}
	}
	for i := count - 1; i >= 0; i-- {
		c.now = start.Add(time.Duration(2*count-i) * time.Second)
		if err := s.Finish(ctx, deliveries[i], &transcript.Result{}); err != nil {
			t.Fatal(err)
		}
	}
	// The first page, the latest ended, holds the first created jobs.
	for _, id := range ids[:5] {
		rdb.Del(ctx, s.jobKey(id))
	}

	got, _ := listed(t, s, ListSucceeded, MaxListLimit)
	if !slices.Equal(got, ids[5:]) {
		t.Errorf("succeeded: %d jobs, want the %d kept in the order they ended", len(got),
			count-5)
	}
	if size := rdb.ZCard(ctx, s.succeededIndex()).Val(); size != count-5 {
		t.Errorf("index holds %d entries, want %d", size, count-5)
	}
	newest := slices.Clone(ids[count-3:])
	slices.Reverse(newest)
	if got, _ := listed(t, s, ListAll, 3); !slices.Equal(got, newest) {
		t.Errorf("all, 3: %v, want %v", got, newest)
	}
	got, _ = listed(t, s, ListSucceeded, 7)
	if !slices.Equal(got, ids[5:12]) {
		t.Errorf("succeeded, 7: %v, want %v", got, ids[5:12])
	}
}

func TestListRefusesBadArguments(t *testing.T) {
	s, _ := newStore(t, Options{})
	ctx := context.Background()
	for _, limit := range []int64{0, -1, MaxListLimit + 1} {
		if _, err := s.List(ctx, ListAll, limit); err == nil {
			t.Errorf("limit %d accepted", limit)
		}
	}
	if _, err := s.List(ctx, "dead", 10); !errors.Is(err, ErrBadFilter) {
		t.Errorf("filter dead: %v, want ErrBadFilter", err)
	}
	if jobs, err := s.List(ctx, ListAll, 10); err != nil || jobs == nil || len(jobs) != 0 {
		t.Errorf("empty store: %v %v, want an empty list", jobs, err)
	}
}

func TestParseFilter(t *testing.T) {
	tests := []struct {
		in   string
		want Filter
		ok   bool
	}{
		{"", ListAll, true},
		{"queued", ListQueued, true},
		{"running", ListRunning, true},
		{"retrying", ListRetrying, true},
		{"succeeded", ListSucceeded, true},
		{"failed", ListFailed, true},
		{"canceled", ListCanceled, true},
		{"Queued", "", false},
		{"cancelled", "", false},
		{"dead", "", false},
		{" queued", "", false},
	}
	for _, tt := range tests {
		got, err := ParseFilter(tt.in)
		if got != tt.want || (err == nil) != tt.ok || (err != nil && !errors.Is(err,
			ErrBadFilter)) {
			t.Errorf("ParseFilter(%q) = %q, %v", tt.in, got, err)
		}
	}
}

// FuzzParseFilter checks that ParseFilter accepts exactly the names of
// Filters and the empty string.
func FuzzParseFilter(f *testing.F) {
	for _, seed := range []string{"", "queued", "retrying", "canceled", "QUEUED", "x\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseFilter(s)
		known := s == "" || slices.Contains(Filters(), Filter(s))
		if known != (err == nil) || (known && string(got) != s) {
			t.Fatalf("ParseFilter(%q) = %q, %v", s, got, err)
		}
	})
}
