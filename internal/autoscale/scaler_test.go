package autoscale

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/asr-server/asr-server/internal/fleet"
	"github.com/asr-server/asr-server/internal/queue"
)

// fakeQueue returns o, or err when set.
type fakeQueue struct {
	o   queue.Overview
	err error
}

func (q *fakeQueue) Overview(context.Context) (*queue.Overview, error) {
	if q.err != nil {
		return nil, q.err
	}
	o := q.o
	return &o, nil
}

// fakeFleet runs n instances named 1..n and records every Scale call.
type fakeFleet struct {
	n        int
	scales   []int
	scaleErr error
}

func (f *fakeFleet) Running(context.Context) ([]string, error) {
	var out []string
	for i := 1; i <= f.n; i++ {
		out = append(out, strconv.Itoa(i))
	}
	return out, nil
}

func (f *fakeFleet) Scale(_ context.Context, n int) (fleet.Change, error) {
	f.scales = append(f.scales, n)
	if f.scaleErr != nil {
		return fleet.Change{}, f.scaleErr
	}
	var c fleet.Change
	for i := f.n + 1; i <= n; i++ {
		c.Started = append(c.Started, strconv.Itoa(i))
	}
	for i := f.n; i > n; i-- {
		c.Stopped = append(c.Stopped, strconv.Itoa(i))
	}
	f.n = n
	return c, nil
}

// records keeps log lines as "LEVEL message key=value ..." with the keys
// in the order logged.
type records struct{ lines []string }

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	line := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		line += fmt.Sprintf(" %s=%v", a.Key, a.Value)
		return true
	})
	r.lines = append(r.lines, line)
	return nil
}

// take returns the lines logged since the last call.
func (r *records) take() []string {
	out := r.lines
	r.lines = nil
	return out
}

type rig struct {
	now    time.Time
	q      *fakeQueue
	f      *fakeFleet
	log    *records
	status []string
	s      *Scaler
}

func newRig(instances int) *rig {
	r := &rig{now: t0, q: &fakeQueue{}, f: &fakeFleet{n: instances}, log: &records{}}
	r.s = New(Params{Limits: limits, Poll: time.Second, Queue: r.q, Fleet: r.f,
		Log: slog.New(r.log), Now: func() time.Time { return r.now },
		Status: func(s string) { r.status = append(r.status, s) }})
	return r
}

// step advances the clock to t0+at seconds and runs one Step.
func (r *rig) step(at int) []string {
	r.now = t0.Add(sec(at))
	r.s.Step(context.Background())
	return r.log.take()
}

func wantLines(t *testing.T, at int, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("at %ds logged\n%s\nwant\n%s", at, strings.Join(got, "\n"),
			strings.Join(want, "\n"))
	}
}

func TestScalerBurst(t *testing.T) {
	r := newRig(1)
	r.q.o = queue.Overview{Queued: 100, Running: 1, OldestQueued: t0.Add(sec(-5))}
	wantLines(t, 5, r.step(5),
		"INFO scaling out reason=queue_depth instances=1 in_flight=1 queued=100 "+
			"oldest_wait_s=10 target=4",
		"INFO scaled reason=queue_depth target=4 started=2,3,4 stopped=")
	want := "instances: 1, jobs running: 1, queued: 100 (oldest 10s); queue_depth"
	if r.status[0] != want {
		t.Errorf("status %q, want %q", r.status[0], want)
	}

	r.q.o = queue.Overview{Queued: 90, Running: 4, OldestQueued: t0}
	wantLines(t, 10, r.step(10), "INFO no change reason=at_max instances=4 in_flight=4 "+
		"queued=90 oldest_wait_s=10")
	r.q.o.Queued = 80
	wantLines(t, 11, r.step(11)) // the same hold, with other figures: not logged again

	r.q.o = queue.Overview{Running: 3}
	wantLines(t, 20, r.step(20), "INFO no change reason=cooldown instances=4 in_flight=3 "+
		"queued=0 oldest_wait_s=0")
	// The last pressure was seen at 11 s: the cooldown ends at 71 s.
	wantLines(t, 70, r.step(70))
	wantLines(t, 71, r.step(71),
		"INFO scaling in reason=idle instances=4 in_flight=3 queued=0 oldest_wait_s=0 target=3",
		"INFO scaled reason=idle target=3 started= stopped=4")
	wantLines(t, 72, r.step(72), "INFO no change reason=jobs_in_flight instances=3 "+
		"in_flight=3 queued=0 oldest_wait_s=0")
	if !slices.Equal(r.f.scales, []int{4, 3}) {
		t.Errorf("scaled to %v, want [4 3]", r.f.scales)
	}
}

func TestScalerScaleFails(t *testing.T) {
	r := newRig(0)
	r.f.scaleErr = errors.New("unit failed")
	wantLines(t, 1, r.step(1),
		"INFO scaling out reason=below_min instances=0 in_flight=0 queued=0 oldest_wait_s=0 "+
			"target=1",
		"ERROR scaling failed; no change for a cooldown reason=below_min target=1 started= "+
			"stopped= err=unit failed")
	wantLines(t, 2, r.step(2), "INFO no change reason=backoff instances=0 in_flight=0 "+
		"queued=0 oldest_wait_s=0")
	wantLines(t, 60, r.step(60))
	r.f.scaleErr = nil
	wantLines(t, 61, r.step(61),
		"INFO scaling out reason=below_min instances=0 in_flight=0 queued=0 oldest_wait_s=0 "+
			"target=1",
		"INFO scaled reason=below_min target=1 started=1 stopped=")
	if !slices.Equal(r.f.scales, []int{1, 1}) {
		t.Errorf("scaled to %v, want [1 1]", r.f.scales)
	}
}

func TestScalerReadFails(t *testing.T) {
	r := newRig(1)
	r.q.err = errors.New("redis down")
	var got []string
	for at := 1; at <= 5; at++ {
		got = append(got, r.step(at)...)
	}
	warn := "WARN reading the queue or the fleet failed; no change failures=%d err=redis down"
	wantLines(t, 5, got, fmt.Sprintf(warn, 1), fmt.Sprintf(warn, 2), fmt.Sprintf(warn, 4))
	r.q.err = nil
	wantLines(t, 6, r.step(6),
		"INFO reading the queue and the fleet works again failures=5",
		"INFO no change reason=at_min instances=1 in_flight=0 queued=0 oldest_wait_s=0")
	if len(r.f.scales) != 0 || len(r.status) != 1 {
		t.Errorf("scaled %v, status %q; want neither before the read worked", r.f.scales,
			r.status)
	}
}

func TestScalerClockSkew(t *testing.T) {
	r := newRig(2)
	// The queue's stamp is a little ahead of this host's clock.
	r.q.o = queue.Overview{Queued: 1, Running: 1, OldestQueued: t0.Add(sec(3))}
	wantLines(t, 1, r.step(1), "INFO no change reason=cooldown instances=2 in_flight=1 "+
		"queued=1 oldest_wait_s=0")
}

func TestScalerStopsWhileScaling(t *testing.T) {
	r := newRig(0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.f.scaleErr = ctx.Err()
	r.now = t0.Add(sec(1))
	r.s.Step(ctx)
	wantLines(t, 1, r.log.take(),
		"INFO scaling out reason=below_min instances=0 in_flight=0 queued=0 oldest_wait_s=0 "+
			"target=1",
		"INFO stopping while scaling; systemd completes the change reason=below_min target=1 "+
			"started= stopped=")
}

func TestRunStopsWithContext(t *testing.T) {
	r := newRig(0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.f.scales, []int{1}) {
		t.Errorf("scaled to %v, want one step's [1]", r.f.scales)
	}
}
