// Package autoscale decides how many asr-worker@ instances this host should
// run, from the queue's figures, and applies the decisions through a fleet.
//
// The decisions (Policy) are pure: they depend on their inputs and on the
// time passed in, never on a clock of their own.
package autoscale

import (
	"math"
	"time"
)

// Reason says why a decision was taken. Reasons that change the number of
// instances come first; the others explain why it stays.
type Reason string

// Reasons for a change.
const (
	BelowMin   Reason = "below_min"   // fewer instances than min
	AboveMax   Reason = "above_max"   // more instances than max
	QueueWait  Reason = "queue_wait"  // the oldest queued job waited too long
	QueueDepth Reason = "queue_depth" // too many queued jobs per instance
	Idle       Reason = "idle"        // the cooldown passed without pressure
)

// Reasons for no change.
const (
	AtMax        Reason = "at_max"         // pressure, but max instances run
	AtMin        Reason = "at_min"         // no pressure, min instances run
	JobsInFlight Reason = "jobs_in_flight" // every instance but none spare has a job
	Cooldown     Reason = "cooldown"       // no pressure, but not for long enough
	Backoff      Reason = "backoff"        // the last change failed; waiting
)

// Limits are a Policy's settings; config.Autoscaler holds them.
type Limits struct {
	Min, Max       int
	MaxWait        time.Duration
	DepthPerWorker float64
	Cooldown       time.Duration
}

// Input is what a decision looks at.
type Input struct {
	Instances  int           // instances running on this host
	InFlight   int64         // jobs running
	Queued     int64         // jobs waiting for a worker (retries not yet due excluded)
	OldestWait time.Duration // how long the oldest queued job has waited; 0 when none
}

// Decision is what to do: run Target instances, for Reason.
type Decision struct {
	Target int
	Reason Reason
}

// Change says whether the decision changes the number of instances.
func (d Decision) Change(in Input) bool { return d.Target != in.Instances }

// Policy turns inputs into decisions. It remembers when scale-out pressure
// was last seen and when the last change was made, so it needs one Decide
// per poll and one Applied or Failed per change acted on. Not safe for
// concurrent use.
type Policy struct {
	limits       Limits
	lastPressure time.Time // the cooldown before a scale-in runs from here...
	lastChange   time.Time // ...and from here
	holdUntil    time.Time // after a failed change, nothing until then
}

// NewPolicy returns a Policy that treats start as the moment of the last
// pressure and change: nothing is stopped within the first cooldown.
func NewPolicy(l Limits, start time.Time) *Policy {
	return &Policy{limits: l, lastPressure: start, lastChange: start}
}

// Decide returns the decision for in at time now. It scales out, by as many
// instances as bring the queue to DepthPerWorker per instance (at least
// one), when the oldest wait exceeds MaxWait or the depth per instance
// exceeds DepthPerWorker; and in, by one, once a cooldown has passed both
// since that last happened and since the last change, never below Min nor
// below the jobs in flight.
func (p *Policy) Decide(now time.Time, in Input) Decision {
	l := p.limits
	pressure := p.pressure(in)
	if pressure != "" {
		p.lastPressure = now
	}
	switch {
	case now.Before(p.holdUntil):
		return Decision{in.Instances, Backoff}
	case in.Instances < l.Min:
		return Decision{l.Min, BelowMin}
	case in.Instances > l.Max:
		return Decision{l.Max, AboveMax}
	case pressure != "" && in.Instances >= l.Max:
		return Decision{in.Instances, AtMax}
	case pressure != "":
		need := int(min(math.Ceil(float64(in.Queued)/l.DepthPerWorker), float64(l.Max)))
		return Decision{min(max(in.Instances+1, need), l.Max), pressure}
	case in.Instances <= l.Min:
		return Decision{in.Instances, AtMin}
	case int64(in.Instances) <= in.InFlight:
		return Decision{in.Instances, JobsInFlight}
	case now.Sub(p.lastPressure) < l.Cooldown || now.Sub(p.lastChange) < l.Cooldown:
		return Decision{in.Instances, Cooldown}
	}
	return Decision{in.Instances - 1, Idle}
}

// pressure returns the reason to scale out, or "" when there is none. The
// oldest wait wins when both thresholds are passed.
func (p *Policy) pressure(in Input) Reason {
	switch {
	case in.OldestWait > p.limits.MaxWait:
		return QueueWait
	case in.Queued > 0 && in.Instances == 0:
		return QueueDepth
	case in.Instances > 0 && float64(in.Queued)/float64(in.Instances) > p.limits.DepthPerWorker:
		return QueueDepth
	}
	return ""
}

// Applied records that a change was made at now.
func (p *Policy) Applied(now time.Time) { p.lastChange = now }

// Failed records that a change failed at now: no further change is tried
// for a cooldown, so that a unit that cannot start is not retried at every
// poll.
func (p *Policy) Failed(now time.Time) {
	p.lastChange = now
	p.holdUntil = now.Add(p.limits.Cooldown)
}
