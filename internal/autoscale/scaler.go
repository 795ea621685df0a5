package autoscale

import (
	"context"
	"fmt"
	"log/slog"
	"math/bits"
	"strings"
	"time"

	"github.com/asr-server/asr-server/internal/fleet"
	"github.com/asr-server/asr-server/internal/queue"
)

// Queue reads the queue's figures; *queue.Store is one.
type Queue interface {
	Overview(ctx context.Context) (*queue.Overview, error)
}

// Fleet lists, starts and stops this host's instances; *fleet.Manager is
// one.
type Fleet interface {
	Running(ctx context.Context) ([]string, error)
	Scale(ctx context.Context, n int) (fleet.Change, error)
}

// Params are what a Scaler is built from.
type Params struct {
	Limits Limits
	// Poll is the time between two reads of the queue.
	Poll  time.Duration
	Queue Queue
	Fleet Fleet
	Log   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Status, when set, receives a one-line summary after every read, for
	// systemd's status line.
	Status func(string)
}

// Scaler reads the queue and the fleet at every poll, takes a Policy's
// decision and applies it. Each decision that changes the fleet is logged
// with its reason; one that changes nothing only when its reason or the
// number of instances or of jobs in flight changed since the last one, so
// that a steady state logs once. All fields belong to the goroutine that
// calls Run or Step.
type Scaler struct {
	p      Params
	policy *Policy

	lastHold holdKey // the last "no change" logged
	readErrs int     // consecutive failed reads
}

// holdKey is what a "no change" line is logged again for.
type holdKey struct {
	reason    Reason
	instances int
	inFlight  int64
}

// New returns a Scaler; its cooldown starts now.
func New(p Params) *Scaler {
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Status == nil {
		p.Status = func(string) {}
	}
	return &Scaler{p: p, policy: NewPolicy(p.Limits, p.Now())}
}

// Run polls until ctx ends, then returns nil. It leaves the instances
// running as they are.
func (s *Scaler) Run(ctx context.Context) error {
	tick := time.NewTicker(s.p.Poll)
	defer tick.Stop()
	for {
		s.Step(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Step reads the queue and the fleet once, decides and, when the decision
// says so, scales and waits for the fleet to get there.
func (s *Scaler) Step(ctx context.Context) {
	in, err := s.read(ctx)
	if err != nil {
		s.readFailed(err)
		return
	}
	s.readOK()
	d := s.policy.Decide(s.p.Now(), in)
	s.p.Status(fmt.Sprintf("instances: %d, jobs running: %d, queued: %d (oldest %s); %s",
		in.Instances, in.InFlight, in.Queued, in.OldestWait.Round(time.Second), d.Reason))
	attrs := []any{"reason", string(d.Reason), "instances", in.Instances,
		"in_flight", in.InFlight, "queued", in.Queued,
		"oldest_wait_s", in.OldestWait.Seconds()}
	if !d.Change(in) {
		key := holdKey{d.Reason, in.Instances, in.InFlight}
		if key != s.lastHold {
			s.lastHold = key
			s.p.Log.Info("no change", attrs...)
		}
		return
	}
	s.lastHold = holdKey{}
	msg := "scaling out"
	if d.Target < in.Instances {
		msg = "scaling in"
	}
	s.p.Log.Info(msg, append(attrs, "target", d.Target)...)
	// TODO(autoscale): a scale-in stops the highest-numbered instance even
	// when it is busy and a lower one idles; it finishes or hands back its job.
	c, err := s.p.Fleet.Scale(ctx, d.Target)
	done := []any{"reason", string(d.Reason), "target", d.Target,
		"started", strings.Join(c.Started, ","), "stopped", strings.Join(c.Stopped, ",")}
	if err != nil && ctx.Err() != nil {
		s.p.Log.Info("stopping while scaling; systemd completes the change", done...)
		return
	}
	if err != nil {
		s.policy.Failed(s.p.Now())
		s.p.Log.Error("scaling failed; no change for a cooldown",
			append(done, "err", err)...)
		return
	}
	s.policy.Applied(s.p.Now())
	s.p.Log.Info("scaled", done...)
}

// read gathers the decision's input.
func (s *Scaler) read(ctx context.Context) (Input, error) {
	o, err := s.p.Queue.Overview(ctx)
	if err != nil {
		return Input{}, err
	}
	running, err := s.p.Fleet.Running(ctx)
	if err != nil {
		return Input{}, err
	}
	// TODO(autoscale): the depth per instance counts this host's instances
	// only, not workers on other hosts that share the queue.
	in := Input{Instances: len(running), InFlight: o.Running, Queued: o.Queued}
	if !o.OldestQueued.IsZero() {
		// Redis's clock stamps the queue; a small skew against ours
		// must not make a wait negative.
		in.OldestWait = max(s.p.Now().Sub(o.OldestQueued), 0)
	}
	return in, nil
}

// readFailed logs the first failure of a run of them, then the 2nd, 4th,
// 8th... with their count.
func (s *Scaler) readFailed(err error) {
	s.readErrs++
	if bits.OnesCount(uint(s.readErrs)) == 1 {
		s.p.Log.Warn("reading the queue or the fleet failed; no change",
			"failures", s.readErrs, "err", err)
	}
}

// readOK logs the end of a run of failures.
func (s *Scaler) readOK() {
	if s.readErrs > 0 {
		s.p.Log.Info("reading the queue and the fleet works again",
			"failures", s.readErrs)
		s.readErrs = 0
	}
}
