// Package fleet starts and stops the asr-worker@ instances of this host
// through systemd's D-Bus API (org.freedesktop.systemd1, system bus).
package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
)

// ErrJob reports a systemd start or stop job that ended in a state other
// than done (failed, timeout, canceled, dependency, skipped).
var ErrJob = errors.New("fleet: systemd job did not complete")

// ErrNegative reports a request to scale to fewer than zero instances.
var ErrNegative = errors.New("fleet: negative instance count")

// jobMode is how start and stop jobs enter systemd's queue: they replace
// conflicting jobs queued earlier, as systemctl start and stop do.
const jobMode = "replace"

// systemd is the part of go-systemd's D-Bus connection that a Manager
// uses; tests replace it with a fake.
type systemd interface {
	ListUnitsByPatternsContext(ctx context.Context, states, patterns []string) (
		[]sdbus.UnitStatus, error)
	StartUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	StopUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	ResetFailedUnitContext(ctx context.Context, name string) error
	Connected() bool
	Close()
}

// Manager starts and stops asr-worker@ instances. Its methods may be called
// from several goroutines, but concurrent Scale calls race each other.
type Manager struct {
	dial func(ctx context.Context) (systemd, error)

	mu   sync.Mutex
	conn systemd // replaced when the bus dropped it; guarded by mu
}

// Change is what a Scale call did: the instances (the part of the unit
// name after '@') it started and stopped.
type Change struct{ Started, Stopped []string }

// Connect connects to systemd on the system bus; as root, when the bus is
// unreachable, it falls back to systemd's private socket. A Manager whose
// connection dropped (the bus restarted) connects again on its next call.
// Close the Manager when done.
func Connect(ctx context.Context) (*Manager, error) {
	return connect(ctx, func(ctx context.Context) (systemd, error) {
		return sdbus.NewWithContext(ctx)
	})
}

// connect makes a Manager that connects with dial.
func connect(ctx context.Context, dial func(context.Context) (systemd, error)) (
	*Manager, error) {
	conn, err := dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("fleet: connect to systemd: %w", err)
	}
	return &Manager{dial: dial, conn: conn}, nil
}

// Close closes the connection to systemd.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.conn.Close()
}

// connection returns the connection to systemd, made again if it dropped.
func (m *Manager) connection(ctx context.Context) (systemd, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn.Connected() {
		return m.conn, nil
	}
	conn, err := m.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("fleet: connect to systemd again: %w", err)
	}
	m.conn.Close()
	m.conn = conn
	return conn, nil
}

// Running returns the instance names of the asr-worker@ units that are
// active or activating (reloading counts as active), in numeric-then-lexical
// order: "1", "2", "10", then names that are not numbers.
func (m *Manager) Running(ctx context.Context) ([]string, error) {
	conn, err := m.connection(ctx)
	if err != nil {
		return nil, err
	}
	units, err := listUnits(ctx, conn)
	if err != nil {
		return nil, err
	}
	return running(units), nil
}

// Scale starts or stops instances so that exactly n run. It starts the
// lowest numbers 1, 2, 3... that no unit holds (a unit still stopping holds
// its number) and stops the last instances in Running's order first.
// Stopping is systemd's graceful stop: the worker finishes or hands back its
// job. Scale waits until every started unit is active (for asr-worker, READY:
// model loaded) and every stopped one inactive, or until ctx ends.
//
// The returned Change lists the instances whose jobs completed. On error it
// lists only those; jobs that systemd has queued carry on after ctx ends.
func (m *Manager) Scale(ctx context.Context, n int) (Change, error) {
	if n < 0 {
		return Change{}, fmt.Errorf("fleet: scale to %d: %w", n, ErrNegative)
	}
	conn, err := m.connection(ctx)
	if err != nil {
		return Change{}, err
	}
	units, err := listUnits(ctx, conn)
	if err != nil {
		return Change{}, err
	}
	run := running(units)
	var c Change
	switch {
	case len(run) < n:
		start := free(units, n-len(run))
		if err := resetFailed(ctx, conn, units, start); err != nil {
			return c, err
		}
		c.Started, err = jobs(ctx, "start", conn.StartUnitContext, start)
	case len(run) > n:
		stop := slices.Clone(run[n:])
		slices.Reverse(stop)
		c.Stopped, err = jobs(ctx, "stop", conn.StopUnitContext, stop)
	}
	return c, err
}

// listUnits lists the asr-worker@ units systemd has loaded, in any state.
func listUnits(ctx context.Context, conn systemd) ([]sdbus.UnitStatus, error) {
	units, err := conn.ListUnitsByPatternsContext(ctx, nil,
		[]string{unitPrefix + "*" + unitSuffix})
	if err != nil {
		return nil, fmt.Errorf("fleet: list %s units: %w", unitPrefix, err)
	}
	return units, nil
}

// resetFailed clears the failed state of the units about to start, so
// that an earlier crash loop's start limit does not refuse the new start.
func resetFailed(ctx context.Context, conn systemd, units []sdbus.UnitStatus,
	instances []string) error {
	for _, u := range units {
		inst, ok := Instance(u.Name)
		if !ok || u.ActiveState != "failed" || !slices.Contains(instances, inst) {
			continue
		}
		if err := conn.ResetFailedUnitContext(ctx, u.Name); err != nil {
			return fmt.Errorf("fleet: reset failed %s: %w", u.Name, err)
		}
	}
	return nil
}

type enqueueFunc func(ctx context.Context, name, mode string, ch chan<- string) (int, error)

// jobs queues one job per instance, all at once, then waits for each to
// end. It returns the instances whose jobs ended done, in the given order.
func jobs(ctx context.Context, verb string, enqueue enqueueFunc,
	instances []string) ([]string, error) {
	results := make([]chan string, len(instances))
	var errs []error
	for i, inst := range instances {
		// One slot: go-systemd's dispatcher never blocks on a result
		// that nobody reads any more.
		results[i] = make(chan string, 1)
		if _, err := enqueue(ctx, UnitName(inst), jobMode, results[i]); err != nil {
			errs = append(errs, fmt.Errorf("fleet: %s %s: %w", verb, UnitName(inst), err))
			results[i] = nil
		}
	}
	var done []string
	for i, inst := range instances {
		if results[i] == nil {
			continue
		}
		select {
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("fleet: wait for %s %s: %w",
				verb, UnitName(inst), ctx.Err()))
			return done, errors.Join(errs...)
		case r := <-results[i]:
			if r != "done" {
				errs = append(errs, fmt.Errorf("%s %s ended %q: %w",
					verb, UnitName(inst), r, ErrJob))
				continue
			}
			done = append(done, inst)
		}
	}
	return done, errors.Join(errs...)
}
