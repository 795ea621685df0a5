package autoscale

import (
	"testing"
	"time"
)

var (
	t0     = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	limits = Limits{Min: 1, Max: 4, MaxWait: 30 * time.Second, DepthPerWorker: 2,
		Cooldown: time.Minute}
)

func sec(n int) time.Duration { return time.Duration(n) * time.Second }

func TestDecide(t *testing.T) {
	zeroMin := limits
	zeroMin.Min = 0
	tests := []struct {
		name   string
		limits Limits
		after  time.Duration // since the policy was made
		in     Input
		want   Decision
	}{
		{"no instance", limits, sec(61), Input{}, Decision{1, BelowMin}},
		{"too many", limits, sec(61), Input{Instances: 6, InFlight: 6}, Decision{4, AboveMax}},
		{"deep queue jumps to max", limits, sec(61), Input{Instances: 1, InFlight: 1, Queued: 100},
			Decision{4, QueueDepth}},
		{"just enough for the depth", limits, sec(61),
			Input{Instances: 1, InFlight: 1, Queued: 5}, Decision{3, QueueDepth}},
		{"at least one more", limits, sec(61),
			Input{Instances: 2, InFlight: 2, Queued: 5}, Decision{3, QueueDepth}},
		{"depth at the threshold is no pressure", limits, sec(61),
			Input{Instances: 2, InFlight: 2, Queued: 4}, Decision{2, JobsInFlight}},
		{"long wait", limits, sec(61),
			Input{Instances: 2, InFlight: 2, Queued: 1, OldestWait: sec(31)}, Decision{3, QueueWait}},
		{"wait at the threshold is no pressure", limits, sec(61),
			Input{Instances: 3, InFlight: 1, Queued: 1, OldestWait: sec(30)}, Decision{2, Idle}},
		{"wait named before depth", limits, sec(61),
			Input{Instances: 1, InFlight: 1, Queued: 7, OldestWait: sec(40)}, Decision{4, QueueWait}},
		{"pressure at max", limits, sec(61),
			Input{Instances: 4, InFlight: 4, Queued: 100, OldestWait: sec(90)}, Decision{4, AtMax}},
		{"quiet at min", limits, sec(61), Input{Instances: 1}, Decision{1, AtMin}},
		{"every instance busy", limits, sec(61), Input{Instances: 3, InFlight: 3},
			Decision{3, JobsInFlight}},
		{"more jobs than instances", limits, sec(61), Input{Instances: 3, InFlight: 5},
			Decision{3, JobsInFlight}},
		{"one spare", limits, sec(61), Input{Instances: 3, InFlight: 2}, Decision{2, Idle}},
		{"within the first cooldown", limits, sec(59), Input{Instances: 3}, Decision{3, Cooldown}},
		{"first cooldown over", limits, sec(60), Input{Instances: 3}, Decision{2, Idle}},
		{"from zero on a queued job", zeroMin, sec(1), Input{Queued: 1}, Decision{1, QueueDepth}},
		{"zero at min zero", zeroMin, sec(61), Input{}, Decision{0, AtMin}},
		{"down to zero", zeroMin, sec(61), Input{Instances: 1}, Decision{0, Idle}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPolicy(tt.limits, t0)
			if got := p.Decide(t0.Add(tt.after), tt.in); got != tt.want {
				t.Errorf("Decide(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// TestDecideOverTime follows one policy through a burst of jobs: out at
// once, held while busy, then in one instance per cooldown.
func TestDecideOverTime(t *testing.T) {
	const (
		none = iota
		applied
		failed
	)
	steps := []struct {
		at     int // seconds after t0
		in     Input
		want   Decision
		action int
	}{
		{5, Input{Instances: 1, InFlight: 1, Queued: 100}, Decision{4, QueueDepth}, applied},
		{10, Input{Instances: 4, InFlight: 4, Queued: 90}, Decision{4, AtMax}, none},
		{40, Input{Instances: 4, InFlight: 4}, Decision{4, JobsInFlight}, none},
		{50, Input{Instances: 4}, Decision{4, Cooldown}, none},
		{69, Input{Instances: 4}, Decision{4, Cooldown}, none},
		{70, Input{Instances: 4}, Decision{3, Idle}, applied},
		{129, Input{Instances: 3}, Decision{3, Cooldown}, none},
		{130, Input{Instances: 3}, Decision{2, Idle}, failed},
		{131, Input{Instances: 3}, Decision{3, Backoff}, none},
		{189, Input{Instances: 3, Queued: 50}, Decision{3, Backoff}, none},
		// The pressure seen during the backoff restarts the cooldown.
		{190, Input{Instances: 3}, Decision{3, Cooldown}, none},
		{249, Input{Instances: 3}, Decision{2, Idle}, applied},
		{250, Input{Instances: 2, Queued: 1, OldestWait: sec(31)}, Decision{3, QueueWait}, applied},
		{251, Input{Instances: 0}, Decision{1, BelowMin}, applied},
	}
	p := NewPolicy(limits, t0)
	for _, st := range steps {
		now := t0.Add(sec(st.at))
		got := p.Decide(now, st.in)
		if got != st.want {
			t.Fatalf("at %ds: Decide(%+v) = %+v, want %+v", st.at, st.in, got, st.want)
		}
		switch st.action {
		case applied:
			p.Applied(now)
		case failed:
			p.Failed(now)
		}
	}
}

func TestDecisionChange(t *testing.T) {
	in := Input{Instances: 2}
	if (Decision{2, AtMin}).Change(in) || !(Decision{3, QueueDepth}).Change(in) {
		t.Error("Change does not compare the target with the instances")
	}
}
