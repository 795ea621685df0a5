package liveness

import (
	"testing"
	"time"
)

// fixture drives a Monitor with a fake clock, CPU time and one probe.
type fixture struct {
	now   time.Time
	cpu   time.Duration
	count uint64
	m     *Monitor
}

func newFixture(minCPU float64) *fixture {
	f := &fixture{now: time.Unix(1_700_000_000, 0)}
	f.m = &Monitor{
		Probes:  []Probe{func() uint64 { return f.count }},
		Stall:   10 * time.Second,
		MinCPU:  minCPU,
		Now:     func() time.Time { return f.now },
		CPUTime: func() time.Duration { return f.cpu },
	}
	return f
}

// step advances the clock by d and the CPU time by cpu, bumps the probe if
// asked, and returns what Alive says.
func (f *fixture) step(d, cpu time.Duration, bump bool) bool {
	f.now = f.now.Add(d)
	f.cpu += cpu
	if bump {
		f.count++
	}
	return f.m.Alive()
}

func TestAlive(t *testing.T) {
	const s = time.Second
	type step struct {
		d, cpu time.Duration
		bump   bool
		want   bool
	}
	tests := []struct {
		name   string
		minCPU float64
		steps  []step
	}{
		{"probe advancing stays alive", 0, []step{
			{0, 0, false, true}, {4 * s, 0, true, true}, {4 * s, 0, true, true},
			{4 * s, 0, true, true}, {4 * s, 0, true, true},
		}},
		{"stuck probe is hung after the stall", 0, []step{
			{0, 0, false, true}, {4 * s, 0, false, true}, {4 * s, 0, false, true},
			{4 * s, 0, false, false}, {4 * s, 0, false, false},
		}},
		{"progress after a hang revives", 0, []step{
			{0, 0, false, true}, {11 * s, 0, false, false}, {1 * s, 0, true, true},
		}},
		{"CPU use counts when asked for", 0.25, []step{
			{0, 0, false, true}, {4 * s, 2 * s, false, true}, {4 * s, 2 * s, false, true},
			{4 * s, 1 * s, false, true}, {4 * s, 2 * s, false, true},
		}},
		{"too little CPU is a hang", 0.25, []step{
			{0, 0, false, true}, {4 * s, 100 * time.Millisecond, false, true},
			{4 * s, 100 * time.Millisecond, false, true},
			{4 * s, 100 * time.Millisecond, false, false},
		}},
		{"CPU ignored without MinCPU", 0, []step{
			{0, 0, false, true}, {6 * s, 6 * s, false, true}, {6 * s, 6 * s, false, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(tt.minCPU)
			for i, st := range tt.steps {
				if got := f.step(st.d, st.cpu, st.bump); got != st.want {
					t.Fatalf("step %d: Alive() = %v, want %v", i, got, st.want)
				}
			}
		})
	}
}

func TestProcessCPUTimeGrows(t *testing.T) {
	before := ProcessCPUTime()
	deadline := time.Now().Add(5 * time.Second)
	x := 0
	for ProcessCPUTime() <= before && time.Now().Before(deadline) {
		for i := range 1_000_000 {
			x += i
		}
	}
	if after := ProcessCPUTime(); after <= before {
		t.Fatalf("CPU time did not grow: %v then %v (%d)", before, after, x)
	}
}
