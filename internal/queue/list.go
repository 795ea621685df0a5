package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Filter selects the jobs that List returns.
type Filter string

// The filters of List. ListRetrying selects the queued jobs that wait for
// their retry time after a failed attempt; ListQueued selects those that
// wait for a worker.
const (
	ListAll       Filter = ""
	ListQueued    Filter = "queued"
	ListRunning   Filter = "running"
	ListRetrying  Filter = "retrying"
	ListSucceeded Filter = "succeeded"
	ListFailed    Filter = "failed"
	ListCanceled  Filter = "canceled"
)

// ErrBadFilter is returned for a name that is no Filter.
var ErrBadFilter = errors.New("queue: no such job state to list")

// Filters returns the filters a client can name (all but ListAll), in the
// order of a job's life.
func Filters() []Filter {
	return []Filter{ListQueued, ListRunning, ListRetrying, ListSucceeded, ListFailed,
		ListCanceled}
}

// ParseFilter returns the filter named s; "" is ListAll.
func ParseFilter(s string) (Filter, error) {
	if s == "" {
		return ListAll, nil
	}
	if f := Filter(s); slices.Contains(Filters(), f) {
		return f, nil
	}
	return "", fmt.Errorf("%w: %q", ErrBadFilter, s)
}

// MaxListLimit bounds the number of jobs one List call returns.
const MaxListLimit = 1000

// listPage is how many entries one read of a stream or an index takes.
const listPage = 200

// clockSlack allows for the clocks of the hosts that write a job's times
// (the API's, the workers') to differ, where List merges jobs by their
// creation time.
const clockSlack = time.Minute

// The final states' indexes are sorted sets of job ids scored by the time
// (ms) the job ended, written by the script that ends the job: the dead
// letters' set for failed jobs, and these two. finishScript finds the
// succeeded index beside the stream (TODO in scripts.go): keep the names.
func (s *Store) succeededIndex() string { return s.key("succeeded") }
func (s *Store) canceledIndex() string  { return s.key("canceled") }

// endedIndex returns the index of a final state.
func (s *Store) endedIndex(state State) string {
	switch state {
	case Succeeded:
		return s.succeededIndex()
	case Canceled:
		return s.canceledIndex()
	default:
		return s.dead()
	}
}

// List returns up to limit jobs (1 to MaxListLimit) that f selects:
//
//   - ListQueued: the stream's entries that no worker has read yet, in
//     queue order, each with its exact Position;
//   - ListRunning: the entries that workers hold, in queue order;
//   - ListRetrying: the jobs waiting to be retried, the next due first;
//   - ListSucceeded, ListFailed, ListCanceled: the jobs still kept (see
//     Options.ResultTTL), the most recently ended first;
//   - ListAll: jobs in any of these states, the most recently created
//     first (equal times in the order of their ids).
//
// Unfinished jobs are few (at most about Options.MaxQueued) and are all
// read. Index entries of jobs that Redis has expired are removed.
func (s *Store) List(ctx context.Context, f Filter, limit int64) ([]*Job, error) {
	if limit < 1 || limit > MaxListLimit {
		return nil, fmt.Errorf("queue: list limit %d is not within 1 to %d", limit,
			MaxListLimit)
	}
	var src source
	switch f {
	case ListAll:
		return s.listAll(ctx, limit)
	case ListSucceeded, ListFailed, ListCanceled:
		return s.listEnded(ctx, State(f), limit)
	case ListQueued:
		src = s.queuedSource()
	case ListRunning:
		src = s.runningSource()
	case ListRetrying:
		src = s.retryingSource()
	default:
		return nil, fmt.Errorf("%w: %q", ErrBadFilter, f)
	}
	briefs, err := src.read(ctx, s)
	if err != nil {
		return nil, err
	}
	briefs = briefs[:min(int64(len(briefs)), limit)]
	var positions map[string]int64
	if f == ListQueued {
		positions = numbered(briefs)
	}
	return s.load(ctx, idsOf(briefs), positions)
}

// brief is what List reads first about a job: enough to choose it.
type brief struct {
	id      string
	state   State
	created int64 // ms
}

func idsOf(briefs []brief) []string {
	ids := make([]string, len(briefs))
	for i, b := range briefs {
		ids[i] = b.id
	}
	return ids
}

// numbered gives each of briefs its place in their order, from 1.
func numbered(briefs []brief) map[string]int64 {
	pos := make(map[string]int64, len(briefs))
	for i, b := range briefs {
		pos[b.id] = int64(i + 1)
	}
	return pos
}

// source reads the ids of unfinished jobs in the order it lists them. Its
// jobs are in state; a job found in another state changed meanwhile.
type source struct {
	ids   func(context.Context) ([]string, error)
	state State
}

func (s *Store) queuedSource() source   { return source{s.undelivered, Queued} }
func (s *Store) runningSource() source  { return source{s.pending, Running} }
func (s *Store) retryingSource() source { return source{s.waitingRetry, Queued} }

// read returns the briefs of src's jobs that are in its state.
func (src source) read(ctx context.Context, s *Store) ([]brief, error) {
	ids, err := src.ids(ctx)
	if err != nil {
		return nil, err
	}
	briefs, err := s.briefs(ctx, ids)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(briefs, func(b brief) bool { return b.state != src.state }), nil
}

// listEnded lists the jobs of a final state's index, the most recently
// ended first.
func (s *Store) listEnded(ctx context.Context, state State, limit int64) ([]*Job, error) {
	var chosen []brief
	err := s.walkIndex(ctx, state, func(page []redis.Z, briefs []brief) bool {
		for _, b := range briefs {
			if int64(len(chosen)) < limit {
				chosen = append(chosen, b)
			}
		}
		return int64(len(chosen)) < limit
	})
	if err != nil {
		return nil, err
	}
	return s.load(ctx, idsOf(chosen), nil)
}

// walkIndex reads a final state's index page by page, the most recently
// ended first, and hands each page with the briefs of its jobs in that
// state to visit until visit returns false. It first removes the entries
// of jobs that ended longer than Options.ResultTTL ago, and on the way
// those of jobs that Redis has expired.
func (s *Store) walkIndex(ctx context.Context, state State,
	visit func(page []redis.Z, briefs []brief) bool) error {
	index := s.endedIndex(state)
	cutoff := s.Now().Add(-s.opts.ResultTTL).UnixMilli()
	err := s.rdb.ZRemRangeByScore(ctx, index, "-inf", strconv.FormatInt(cutoff, 10)).Err()
	if err != nil {
		return fmt.Errorf("queue: forget expired %s jobs: %w", state, err)
	}
	for offset := int64(0); ; {
		page, err := s.rdb.ZRevRangeWithScores(ctx, index, offset,
			offset+listPage-1).Result()
		if err != nil {
			return fmt.Errorf("queue: list %s jobs: %w", state, err)
		}
		if len(page) == 0 {
			return nil
		}
		ids := make([]string, len(page))
		for i, z := range page {
			ids[i], _ = z.Member.(string)
		}
		briefs, err := s.briefs(ctx, ids)
		if err != nil {
			return err
		}
		gone, err := s.forget(ctx, index, ids, briefs)
		if err != nil {
			return err
		}
		briefs = slices.DeleteFunc(briefs, func(b brief) bool { return b.state != state })
		if !visit(page, briefs) || len(page) < listPage {
			return nil
		}
		offset += int64(len(page) - gone)
	}
}

// forget removes from index the ids that got no brief: their jobs have
// expired. It returns how many it removed.
func (s *Store) forget(ctx context.Context, index string, ids []string,
	briefs []brief) (int, error) {
	var gone []any
	for _, id := range ids {
		if !slices.ContainsFunc(briefs, func(b brief) bool { return b.id == id }) {
			gone = append(gone, id)
		}
	}
	if len(gone) == 0 {
		return 0, nil
	}
	if err := s.rdb.ZRem(ctx, index, gone...).Err(); err != nil {
		return 0, fmt.Errorf("queue: forget expired jobs: %w", err)
	}
	return len(gone), nil
}

// listAll lists jobs in every state, the most recently created first.
// Every unfinished job is read. A final state's index is read from its
// latest end on, and only until its ends fall before the limit-th newest
// creation time found so far: a job cannot end before it was created.
func (s *Store) listAll(ctx context.Context, limit int64) ([]*Job, error) {
	queued, err := s.queuedSource().read(ctx, s)
	if err != nil {
		return nil, err
	}
	found := slices.Clone(queued)
	for _, src := range []source{s.runningSource(), s.retryingSource()} {
		briefs, err := src.read(ctx, s)
		if err != nil {
			return nil, err
		}
		found = append(found, briefs...)
	}
	found = newestFirst(found, limit)
	for _, state := range finalStates {
		err := s.walkIndex(ctx, state, func(page []redis.Z, briefs []brief) bool {
			latest := int64(page[0].Score) + clockSlack.Milliseconds()
			if int64(len(found)) == limit && latest < found[limit-1].created {
				return false
			}
			found = newestFirst(append(found, briefs...), limit)
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	return s.load(ctx, idsOf(found), numbered(queued))
}

// newestFirst sorts briefs by creation time, the newest first (equal
// times in the order of their ids), and keeps the first limit.
func newestFirst(briefs []brief, limit int64) []brief {
	slices.SortFunc(briefs, func(a, b brief) int {
		if c := cmp.Compare(b.created, a.created); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return briefs[:min(int64(len(briefs)), limit)]
}

// briefs reads the state and creation time of the jobs named by ids, in
// one round trip, in the order of ids. Ids of jobs that no longer exist,
// that are not job ids or that repeat an earlier one get no brief.
func (s *Store) briefs(ctx context.Context, ids []string) ([]brief, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		if ValidID(id) {
			cmds[i] = pipe.HMGet(ctx, s.jobKey(id), fState, fCreated)
		}
	}
	if pipe.Len() == 0 {
		return nil, nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("queue: read jobs to list: %w", err)
	}
	seen := make(map[string]bool, len(ids))
	briefs := make([]brief, 0, len(ids))
	for i, id := range ids {
		if cmds[i] == nil || seen[id] {
			continue
		}
		v := cmds[i].Val()
		state, _ := v[0].(string)
		if state == "" {
			continue
		}
		seen[id] = true
		created, _ := v[1].(string)
		ms, _ := strconv.ParseInt(created, 10, 64)
		briefs = append(briefs, brief{id: id, state: State(state), created: ms})
	}
	return briefs, nil
}

// load reads the jobs named by ids, in that order, leaving out those that
// expired since they were chosen. A queued job named in positions gets
// that Position instead of the estimate that Get gives.
func (s *Store) load(ctx context.Context, ids []string,
	positions map[string]int64) ([]*Job, error) {
	if len(ids) == 0 {
		return []*Job{}, nil
	}
	pipe := s.rdb.Pipeline()
	hashes := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		hashes[i] = pipe.HGetAll(ctx, s.jobKey(id))
	}
	started := pipe.Get(ctx, s.startedSeq())
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("queue: read listed jobs: %w", err)
	}
	jobs := make([]*Job, 0, len(ids))
	for i, id := range ids {
		h := hashes[i].Val()
		if len(h) == 0 {
			continue
		}
		job, err := fromHash(id, h, started.Val())
		if err != nil {
			return nil, err
		}
		if p, ok := positions[id]; ok && job.State == Queued {
			job.Position = p
		}
		jobs = append(jobs, job)
	}
	return jobs, nil
}

// undelivered returns the job ids of the stream's entries that no worker
// has read yet, in queue order.
func (s *Store) undelivered(ctx context.Context) ([]string, error) {
	groups, err := s.rdb.XInfoGroups(ctx, s.stream()).Result()
	if err != nil && !strings.Contains(err.Error(), "no such key") {
		return nil, fmt.Errorf("queue: stream groups: %w", err)
	}
	after := "-"
	for _, g := range groups {
		if g.Name == group {
			after = "(" + g.LastDeliveredID
		}
	}
	var ids []string
	for {
		msgs, err := s.rdb.XRangeN(ctx, s.stream(), after, "+", listPage).Result()
		if err != nil {
			return nil, fmt.Errorf("queue: read queued jobs: %w", err)
		}
		for _, m := range msgs {
			id, _ := m.Values["job"].(string)
			ids = append(ids, id)
			after = "(" + m.ID
		}
		if len(msgs) < listPage {
			return ids, nil
		}
	}
}

// pending returns the job ids of the entries that workers hold, in queue
// order.
func (s *Store) pending(ctx context.Context) ([]string, error) {
	var ids []string
	for start := "-"; ; {
		held, err := s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: s.stream(),
			Group: group, Start: start, End: "+", Count: listPage}).Result()
		if isNoGroup(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("queue: read running jobs: %w", err)
		}
		if len(held) == 0 {
			return ids, nil
		}
		pipe := s.rdb.Pipeline()
		entries := make([]*redis.XMessageSliceCmd, len(held))
		for i, p := range held {
			entries[i] = pipe.XRangeN(ctx, s.stream(), p.ID, p.ID, 1)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("queue: read running jobs: %w", err)
		}
		for _, e := range entries {
			for _, m := range e.Val() {
				id, _ := m.Values["job"].(string)
				ids = append(ids, id)
			}
		}
		if len(held) < listPage {
			return ids, nil
		}
		start = "(" + held[len(held)-1].ID
	}
}

// waitingRetry returns the ids of the jobs that wait for their retry
// time, the next due first.
func (s *Store) waitingRetry(ctx context.Context) ([]string, error) {
	ids, err := s.rdb.ZRange(ctx, s.delayed(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("queue: read jobs waiting for a retry: %w", err)
	}
	return ids, nil
}
