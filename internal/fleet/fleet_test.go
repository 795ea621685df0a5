package fleet

import (
	"context"
	"errors"
	"path"
	"slices"
	"strings"
	"testing"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
)

// fakeSystemd keeps unit states in memory and completes jobs at once with
// the result set for the unit in results ("done" when unset). A unit named
// in hold never completes its job.
type fakeSystemd struct {
	units   map[string]*sdbus.UnitStatus
	results map[string]string
	hold    map[string]bool
	listErr error
	calls   []string // "start X", "stop X", "reset-failed X", in call order
	closed  bool
	dropped bool // Connected reports false
}

func newFake(states map[string]string) *fakeSystemd {
	f := &fakeSystemd{units: map[string]*sdbus.UnitStatus{}, results: map[string]string{},
		hold: map[string]bool{}}
	for name, state := range states {
		active, sub, _ := strings.Cut(state, "/")
		u := &sdbus.UnitStatus{Name: name, LoadState: "loaded", ActiveState: active}
		switch sub {
		case "job":
			u.JobId = 7
		case "restart":
			u.JobId, u.JobType = 7, "restart"
		}
		f.units[name] = u
	}
	return f
}

func (f *fakeSystemd) ListUnitsByPatternsContext(_ context.Context, states, patterns []string) (
	[]sdbus.UnitStatus, error) {
	if f.listErr != nil {
		return nil, f.listErr
	}
	var out []sdbus.UnitStatus
	for name, u := range f.units {
		for _, p := range patterns {
			if ok, _ := path.Match(p, name); ok && (states == nil ||
				slices.Contains(states, u.ActiveState)) {
				out = append(out, *u)
			}
		}
	}
	return out, nil
}

func (f *fakeSystemd) job(verb, name, state string, ch chan<- string) (int, error) {
	f.calls = append(f.calls, verb+" "+name)
	if strings.Contains(name, "missing") {
		return 0, errors.New("unit not found")
	}
	if f.hold[name] {
		return 1, nil
	}
	r := f.results[name]
	if r == "" {
		r = "done"
	}
	if r == "done" {
		if f.units[name] == nil {
			f.units[name] = &sdbus.UnitStatus{Name: name, LoadState: "loaded"}
		}
		f.units[name].ActiveState = state
	}
	ch <- r
	return 1, nil
}

func (f *fakeSystemd) StartUnitContext(_ context.Context, name, _ string, ch chan<- string) (
	int, error) {
	return f.job("start", name, "active", ch)
}

func (f *fakeSystemd) StopUnitContext(_ context.Context, name, _ string, ch chan<- string) (
	int, error) {
	return f.job("stop", name, "inactive", ch)
}

func (f *fakeSystemd) ResetFailedUnitContext(_ context.Context, name string) error {
	f.calls = append(f.calls, "reset-failed "+name)
	f.units[name].ActiveState = "inactive"
	return nil
}

func (f *fakeSystemd) Connected() bool { return !f.dropped }

func (f *fakeSystemd) Close() { f.closed = true }

func TestRunning(t *testing.T) {
	f := newFake(map[string]string{
		"asr-worker@10.service":  "active",
		"asr-worker@2.service":   "activating",
		"asr-worker@1.service":   "reloading",
		"asr-worker@gpu.service": "active",
		"asr-worker@a.service":   "active",
		"asr-worker@03.service":  "active",
		"asr-worker@3.service":   "active",
		"asr-worker@4.service":   "deactivating",
		"asr-worker@7.service":   "deactivating/restart",
		"asr-worker@5.service":   "inactive",
		"asr-worker@6.service":   "failed",
		"asr-api.service":        "active",
	})
	m := &Manager{conn: f}
	got, err := m.Running(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1", "2", "03", "3", "7", "10", "a", "gpu"}
	if !slices.Equal(got, want) {
		t.Errorf("Running = %q, want %q", got, want)
	}
	m.Close()
	if !f.closed {
		t.Error("Close did not close the connection")
	}
}

func TestScale(t *testing.T) {
	tests := []struct {
		name    string
		units   string // "instance=state" pairs; state "inactive/job" has a job queued
		n       int
		calls   string
		started string
		stopped string
		after   string // Running afterwards
	}{
		{"none to three", "", 3,
			"start 1,start 2,start 3", "1,2,3", "", "1,2,3"},
		{"four to one stops highest first", "1=active 2=active 3=active 4=active", 1,
			"stop 4,stop 3,stop 2", "", "4,3,2", "1"},
		{"gaps filled lowest first", "2=active 5=activating", 4,
			"start 1,start 3", "1,3", "", "1,2,3,5"},
		{"stopping unit keeps its number", "1=deactivating 2=active", 2,
			"start 3", "3", "", "2,3"},
		{"restarting unit counts as running", "1=deactivating/restart 2=active", 2,
			"", "", "", "1,2"},
		{"queued start job keeps its number", "1=inactive/job", 1,
			"start 2", "2", "", "2"},
		{"inactive unit is free", "1=inactive 2=active", 2,
			"start 1", "1", "", "1,2"},
		{"failed unit reset before start", "1=failed", 1,
			"reset-failed 1,start 1", "1", "", "1"},
		{"failed unit left alone when not started", "1=failed 2=failed", 0,
			"", "", "", ""},
		{"named instances stop before numbers", "1=active 10=active 2=active gpu=active", 2,
			"stop gpu,stop 10", "", "gpu,10", "1,2"},
		{"already there", "1=active 2=active", 2, "", "", "", "1,2"},
		{"to zero", "1=active", 0, "stop 1", "", "1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			states := map[string]string{}
			for _, pair := range strings.Fields(tt.units) {
				inst, state, _ := strings.Cut(pair, "=")
				states[UnitName(inst)] = state
			}
			f := newFake(states)
			m := &Manager{conn: f}
			c, err := m.Scale(context.Background(), tt.n)
			if err != nil {
				t.Fatal(err)
			}
			var calls []string
			for _, call := range f.calls {
				verb, unit, _ := strings.Cut(call, " ")
				inst, _ := Instance(unit)
				calls = append(calls, verb+" "+inst)
			}
			if got := strings.Join(calls, ","); got != tt.calls {
				t.Errorf("calls %q, want %q", got, tt.calls)
			}
			if got := strings.Join(c.Started, ","); got != tt.started {
				t.Errorf("started %q, want %q", got, tt.started)
			}
			if got := strings.Join(c.Stopped, ","); got != tt.stopped {
				t.Errorf("stopped %q, want %q", got, tt.stopped)
			}
			run, err := m.Running(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(run, ","); got != tt.after {
				t.Errorf("running afterwards %q, want %q", got, tt.after)
			}
		})
	}
}

func TestScaleJobFails(t *testing.T) {
	f := newFake(nil)
	f.results[UnitName("2")] = "timeout"
	c, err := (&Manager{conn: f}).Scale(context.Background(), 3)
	if !errors.Is(err, ErrJob) {
		t.Fatalf("err %v, want ErrJob", err)
	}
	if want := `start asr-worker@2.service ended "timeout"`; !strings.Contains(err.Error(), want) {
		t.Errorf("err %q does not say %q", err, want)
	}
	if !slices.Equal(c.Started, []string{"1", "3"}) || c.Stopped != nil {
		t.Errorf("change %+v, want started 1 and 3", c)
	}
}

func TestScaleEnqueueFails(t *testing.T) {
	f := newFake(map[string]string{"asr-worker@1.service": "active",
		"asr-worker@missing.service": "active"})
	c, err := (&Manager{conn: f}).Scale(context.Background(), 0)
	if err == nil || !strings.Contains(err.Error(),
		"fleet: stop asr-worker@missing.service: unit not found") {
		t.Fatalf("err %v", err)
	}
	if !slices.Equal(c.Stopped, []string{"1"}) {
		t.Errorf("stopped %q, want [1]", c.Stopped)
	}
}

func TestScaleContextEnds(t *testing.T) {
	f := newFake(nil)
	f.hold[UnitName("1")] = true
	f.hold[UnitName("2")] = true
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err := (&Manager{conn: f}).Scale(ctx, 2)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if c.Started != nil || len(f.calls) != 2 {
		t.Errorf("started %q after calls %q, want none after two", c.Started, f.calls)
	}
}

func TestScaleErrors(t *testing.T) {
	f := newFake(nil)
	if _, err := (&Manager{conn: f}).Scale(context.Background(), -1); !errors.Is(err,
		ErrNegative) {
		t.Errorf("scale -1: %v, want ErrNegative", err)
	}
	f.listErr = errors.New("bus gone")
	if _, err := (&Manager{conn: f}).Scale(context.Background(), 1); err == nil ||
		err.Error() != "fleet: list asr-worker@ units: bus gone" {
		t.Errorf("scale with a broken bus: %v", err)
	}
	if len(f.calls) != 0 {
		t.Errorf("calls %q, want none", f.calls)
	}
}

func TestCompareInstances(t *testing.T) {
	in := []string{"b", "10", "a", "9", "010", "1", "1a", "-1"}
	slices.SortFunc(in, compareInstances)
	want := []string{"1", "9", "010", "10", "-1", "1a", "a", "b"}
	if !slices.Equal(in, want) {
		t.Errorf("sorted %q, want %q", in, want)
	}
}

func FuzzInstance(f *testing.F) {
	for _, s := range []string{"asr-worker@1.service", "asr-worker@.service",
		"asr-worker@gpu.service", "asr-api.service", "asr-worker@1.service.service", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, unit string) {
		inst, ok := Instance(unit)
		if !ok {
			return
		}
		if inst == "" || UnitName(inst) != unit {
			t.Errorf("Instance(%q) = %q, which names %q", unit, inst, UnitName(inst))
		}
		if c := compareInstances(inst, "1"); c != -compareInstances("1", inst) {
			t.Errorf("compare(%q, 1) = %d is not antisymmetric", inst, c)
		}
	})
}

func TestReconnect(t *testing.T) {
	first := newFake(map[string]string{"asr-worker@1.service": "active"})
	second := newFake(map[string]string{"asr-worker@2.service": "active"})
	dials := []*fakeSystemd{first, second}
	m, err := connect(context.Background(), func(context.Context) (systemd, error) {
		if len(dials) == 0 {
			return nil, errors.New("no bus")
		}
		f := dials[0]
		dials = dials[1:]
		return f, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if got, _ := m.Running(ctx); !slices.Equal(got, []string{"1"}) {
		t.Fatalf("Running on the first connection = %q", got)
	}
	first.dropped = true
	if got, _ := m.Running(ctx); !slices.Equal(got, []string{"2"}) || !first.closed {
		t.Fatalf("Running after the drop = %q (first closed: %v), want [2] from a new "+
			"connection", got, first.closed)
	}
	second.dropped = true
	if _, err := m.Scale(ctx, 3); err == nil ||
		err.Error() != "fleet: connect to systemd again: no bus" {
		t.Fatalf("Scale without a bus: %v", err)
	}
	if len(second.calls) != 0 || second.closed {
		t.Errorf("dropped connection used (%q) or closed (%v) before a new one was made",
			second.calls, second.closed)
	}
	if _, err := connect(ctx, func(context.Context) (systemd, error) {
		return nil, errors.New("no bus")
	}); err == nil || err.Error() != "fleet: connect to systemd: no bus" {
		t.Errorf("connect without a bus: %v", err)
	}
}
