// Package liveness tells a daemon that makes progress from one that hangs,
// for systemd's watchdog. A busy daemon is alive: a long transcription
// counts as progress as long as its computation advances. A hung one, with
// every part stuck, is not, and its watchdog pings stop.
package liveness

import (
	"sync"
	"syscall"
	"time"
)

// Probe returns a count that grows whenever some part of the daemon makes
// progress: a loop that went round, a step that finished, a graph node
// computed. Only changes matter, not the value.
type Probe func() uint64

// Monitor decides whether a daemon is alive from its probes and, as a last
// resort, from the CPU time it spends. The zero value is not usable; set
// the exported fields before the first call to Alive and leave them be.
type Monitor struct {
	// Probes are read on every call to Alive.
	Probes []Probe
	// Stall is how long the daemon may go without progress before it is
	// considered hung.
	Stall time.Duration
	// MinCPU, when above zero, makes CPU use count as progress: a share of
	// one core (0.25 means a quarter) spent by the process between two
	// calls to Alive. It covers long computations that no probe sees, such
	// as a mel spectrogram of hours of audio.
	//
	// TODO(liveness): a computation that spins forever counts as busy; the
	// worker's job_timeout is what ends it.
	MinCPU float64
	// Now and CPUTime replace the clock and the process's CPU time in
	// tests; nil means the real ones.
	Now     func() time.Time
	CPUTime func() time.Duration

	mu       sync.Mutex
	counts   []uint64
	cpu      time.Duration
	checked  time.Time
	progress time.Time
}

// Alive reports whether the daemon made progress within the last Stall.
// Call it regularly, more often than Stall; the first call counts as
// progress.
func (m *Monitor) Alive() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	cpu := m.cpuTime()
	if m.counts == nil {
		m.counts = make([]uint64, len(m.Probes))
		m.read()
		m.cpu, m.checked, m.progress = cpu, now, now
		return true
	}
	advanced := m.read()
	if elapsed := now.Sub(m.checked); m.MinCPU > 0 && elapsed > 0 &&
		float64(cpu-m.cpu) >= m.MinCPU*float64(elapsed) {
		advanced = true
	}
	m.cpu, m.checked = cpu, now
	if advanced {
		m.progress = now
	}
	return now.Sub(m.progress) < m.Stall
}

// read samples every probe and reports whether any changed.
func (m *Monitor) read() bool {
	changed := false
	for i, probe := range m.Probes {
		if v := probe(); v != m.counts[i] {
			m.counts[i] = v
			changed = true
		}
	}
	return changed
}

func (m *Monitor) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Monitor) cpuTime() time.Duration {
	if m.CPUTime != nil {
		return m.CPUTime()
	}
	return ProcessCPUTime()
}

// ProcessCPUTime is the user and system CPU time the process has spent so
// far, over all its threads; 0 if the kernel does not say.
func ProcessCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
