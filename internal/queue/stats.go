package queue

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The deployment's statistics live in one hash (statsKey), updated by the
// scripts in scripts.go in the same step as the state change they count,
// so they are exact and shared by every process that reads them. Fields:
//
//	finished:<state>        jobs that reached a final state (a requeued job
//	                        that ends again counts again)
//	attempts_failed:<code>  failed attempts by error code (see AttemptCodes)
//	audio_seconds           audio of succeeded jobs, in seconds
//	<hist>:count, <hist>:sum, <hist>:le:<bound>
//	                        histograms: observations, their sum, and the
//	                        observations in the bucket ending at bound (not
//	                        cumulative; above the last bound only count)
//
// The histograms are wait (created to first started, seconds), run (a
// worker's start of an attempt to its recorded outcome, seconds) and rtf
// (run time over audio duration, succeeded jobs only).

// Histogram names, as the stats hash and the scripts spell them.
const (
	histWait = "wait"
	histRun  = "run"
	histRTF  = "rtf"
)

// histBounds are the upper bounds of each histogram's buckets. They are
// written into the scripts when the package loads. A count kept under a
// bound that is no longer listed is read into the next listed bound above
// it.
var histBounds = map[string][]float64{
	histWait: {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
	histRun:  {0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
	histRTF:  {0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5},
}

// OtherCode is what a failed attempt with a code not in AttemptCodes is
// counted as, so that the counts have a bounded set of codes.
const OtherCode = "other"

// attemptCodes are the error codes that failed attempts are counted by.
var attemptCodes = []string{
	"audio_too_long",
	"decoder_failed",
	"invalid_audio",
	"invalid_language",
	"job_timeout",
	"transcription_failed",
	"unsupported_format",
	"worker_lost",
}

// AttemptCodes returns the codes failed attempts are counted under: the
// product's known error codes, then OtherCode.
func AttemptCodes() []string {
	return append(slices.Clone(attemptCodes), OtherCode)
}

// countedCode returns code if it is a known attempt code, else OtherCode.
func countedCode(code string) string {
	if slices.Contains(attemptCodes, code) {
		return code
	}
	return OtherCode
}

// finalStates are the states whose entries are counted.
var finalStates = []State{Succeeded, Failed, Canceled}

// statsLua holds the counting helpers; a script that uses them names the
// stats hash as its second-to-last key (the last is the event stream).
var statsLua = func() string {
	var b strings.Builder
	b.WriteString("local buckets = {\n")
	for _, name := range []string{histWait, histRun, histRTF} {
		fmt.Fprintf(&b, "  %s = {", name)
		for _, bound := range histBounds[name] {
			fmt.Fprintf(&b, "{%s, '%s'}, ", formatBound(bound), formatBound(bound))
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	b.WriteString(`
local function stat(field)
  redis.call('HINCRBY', KEYS[#KEYS - 1], field, 1)
end
local function observe(name, v)
  for _, b in ipairs(buckets[name]) do
    if v <= b[1] then
      stat(name .. ':le:' .. b[2])
      break
    end
  end
  stat(name .. ':count')
  redis.call('HINCRBYFLOAT', KEYS[#KEYS - 1], name .. ':sum', v)
end
local function ended(state)
  stat('finished:' .. state)
end
local function elapsed(from, to)
  local a, b = tonumber(from), tonumber(to)
  if not a or not b or b < a then return 0 end
  return (b - a) / 1000
end
`)
	return b.String()
}()

func formatBound(b float64) string { return strconv.FormatFloat(b, 'g', -1, 64) }

func (s *Store) statsKey() string { return s.key("stats") }

// Stats are the deployment's counts since its Redis was first used.
type Stats struct {
	// Finished counts jobs that reached each final state; every final
	// state is present.
	Finished map[State]uint64
	// AttemptsFailed counts failed attempts by error code; every code of
	// AttemptCodes is present, and no other.
	AttemptsFailed map[string]uint64
	// AudioSeconds is the audio of all succeeded jobs, in seconds.
	AudioSeconds float64
	// Wait is the time from a job's creation to its first start; Run the
	// time from a worker's start of an attempt to its recorded outcome
	// (success or failure); RealTimeFactor the run time of a succeeded
	// attempt over the duration of its audio.
	Wait, Run, RealTimeFactor Histogram
}

// Histogram is a distribution of observed values.
type Histogram struct {
	Count uint64
	Sum   float64
	// Buckets maps each upper bound to the number of observations at or
	// below it (cumulative); observations above the last bound are only
	// in Count.
	Buckets map[float64]uint64
}

// Stats returns the deployment's counts.
func (s *Store) Stats(ctx context.Context) (*Stats, error) {
	h, err := s.rdb.HGetAll(ctx, s.statsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("queue: read stats: %w", err)
	}
	return parseStats(h)
}

// parseStats reads the fields of the stats hash. Fields it does not know
// are skipped, so that an older reader works with newer writers.
func parseStats(h map[string]string) (*Stats, error) {
	st := &Stats{Finished: map[State]uint64{}, AttemptsFailed: map[string]uint64{}}
	for _, state := range finalStates {
		st.Finished[state] = 0
	}
	for _, code := range AttemptCodes() {
		st.AttemptsFailed[code] = 0
	}
	hists := map[string]*Histogram{histWait: &st.Wait, histRun: &st.Run,
		histRTF: &st.RealTimeFactor}
	for name, hist := range hists {
		hist.Buckets = make(map[float64]uint64, len(histBounds[name]))
		for _, b := range histBounds[name] {
			hist.Buckets[b] = 0
		}
	}
	for field, value := range h {
		if err := st.add(hists, field, value); err != nil {
			return nil, fmt.Errorf("queue: stats field %q: %w", field, err)
		}
	}
	for name, hist := range hists {
		var total uint64
		for _, b := range histBounds[name] {
			total += hist.Buckets[b]
			hist.Buckets[b] = total
		}
	}
	return st, nil
}

// add reads one field of the stats hash into st; histogram buckets are
// added up per bucket, not yet cumulatively.
func (st *Stats) add(hists map[string]*Histogram, field, value string) error {
	kind, rest, _ := strings.Cut(field, ":")
	switch {
	case kind == "finished":
		if _, ok := st.Finished[State(rest)]; !ok {
			return nil
		}
		return addCount(st.Finished, State(rest), value)
	case kind == "attempts_failed":
		return addCount(st.AttemptsFailed, countedCode(rest), value)
	case field == "audio_seconds":
		return parseFloat(&st.AudioSeconds, value)
	}
	hist, ok := hists[kind]
	if !ok {
		return nil
	}
	switch {
	case rest == "count":
		n, err := strconv.ParseUint(value, 10, 64)
		hist.Count = n
		return err
	case rest == "sum":
		return parseFloat(&hist.Sum, value)
	case strings.HasPrefix(rest, "le:"):
		bound, err := strconv.ParseFloat(rest[len("le:"):], 64)
		if err != nil {
			return err
		}
		i, _ := slices.BinarySearch(histBounds[kind], bound)
		if i == len(histBounds[kind]) {
			return nil // above every bound: only in the count
		}
		return addCount(hist.Buckets, histBounds[kind][i], value)
	}
	return nil
}

func addCount[K comparable](m map[K]uint64, key K, value string) error {
	n, err := strconv.ParseUint(value, 10, 64)
	if err != nil {
		return err
	}
	m[key] += n
	return nil
}

func parseFloat(dst *float64, value string) error {
	f, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return err
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return fmt.Errorf("not a finite, non-negative number: %s", value)
	}
	*dst = f
	return nil
}

// secondsArg formats a duration in seconds for a script: a finite,
// non-negative number, else "0".
func secondsArg(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
