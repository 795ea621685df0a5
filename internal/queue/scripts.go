package queue

import "github.com/redis/go-redis/v9"

// Every change of a job's state is one of these scripts, so that it is
// atomic with the matching change of the stream. The scripts touch only
// keys named in KEYS, and all keys share one hash tag.
//
// A delivery is owned by the worker that started it: the job hash names
// that worker, the attempt number and the stream entry. A script that
// finishes, fails, renews or hands back a job first checks all three, so a
// worker that lost its lease (another worker reclaimed the job) can no
// longer change anything.

// ownedLua is the ownership check shared by the scripts below.
// It expects KEYS[2] = job hash, ARGV[2] = entry id, ARGV[3] = consumer,
// ARGV[4] = attempt.
const ownedLua = `
local function owned()
  local h = redis.call('HMGET', KEYS[2], 'state', 'worker', 'attempts', 'entry')
  return h[1] == 'running' and h[2] == ARGV[3] and h[3] == ARGV[4] and h[4] == ARGV[2]
end
local function drop(id)
  redis.call('XACK', KEYS[1], ARGV[1], id)
  redis.call('XDEL', KEYS[1], id)
end
`

// submitScript stores a new job and queues it, unless the queue is full.
//
//	KEYS[1] stream, KEYS[2] job hash, KEYS[3] audio
//	ARGV[1] job id, ARGV[2] queue limit, ARGV[3] now (ms),
//	ARGV[4] file name, ARGV[5] content type, ARGV[6] audio
//
// Returns 1 when queued, 0 when the queue is full (nothing written).
var submitScript = redis.NewScript(`
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('SET', KEYS[3], ARGV[6])
local entry = redis.call('XADD', KEYS[1], '*', 'job', ARGV[1])
redis.call('HSET', KEYS[2], 'state', 'queued', 'attempts', 0,
  'filename', ARGV[4], 'content_type', ARGV[5], 'size', string.len(ARGV[6]),
  'created_ms', ARGV[3], 'entry', entry)
return 1
`)

// startScript moves a delivered job to running for one worker.
//
//	KEYS[1] stream, KEYS[2] job hash, KEYS[3] audio
//	ARGV[1] group, ARGV[2] entry id, ARGV[3] consumer, ARGV[4] now (ms),
//	ARGV[5] max attempts, ARGV[6] lifetime of a final job (ms)
//
// Returns {status, attempt}: status "started" when the worker now owns the
// job; "skip" when the entry is stale (the job ended, was queued again
// under a new entry, or expired) and was removed; "failed" when the job
// had used up its attempts and now ended failed.
var startScript = redis.NewScript(ownedLua + `
local h = redis.call('HMGET', KEYS[2], 'state', 'attempts', 'entry')
if not h[1] or h[3] ~= ARGV[2] or (h[1] ~= 'queued' and h[1] ~= 'running') then
  drop(ARGV[2])
  return {'skip', 0}
end
local attempt = tonumber(h[2]) + 1
if attempt > tonumber(ARGV[5]) then
  redis.call('HSET', KEYS[2], 'state', 'failed', 'finished_ms', ARGV[4],
    'error', 'gave up after ' .. h[2] .. ' attempts; the last worker stopped responding',
    'error_code', 'attempts_exhausted')
  redis.call('DEL', KEYS[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
  drop(ARGV[2])
  return {'failed', attempt - 1}
end
redis.call('HSET', KEYS[2], 'state', 'running', 'attempts', attempt,
  'worker', ARGV[3], 'started_ms', ARGV[4])
return {'started', attempt}
`)

// renewScript extends the lease of an owned delivery by resetting the
// stream entry's idle time.
//
//	KEYS[1] stream, KEYS[2] job hash
//	ARGV[1] group, ARGV[2] entry id, ARGV[3] consumer, ARGV[4] attempt
//
// Returns 1 when renewed, 0 when the worker no longer owns the job.
var renewScript = redis.NewScript(ownedLua + `
if not owned() then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
`)

// finishScript stores the result of an owned delivery and ends the job.
//
//	KEYS[1] stream, KEYS[2] job hash, KEYS[3] audio
//	ARGV[1] group, ARGV[2] entry id, ARGV[3] consumer, ARGV[4] attempt,
//	ARGV[5] now (ms), ARGV[6] result JSON, ARGV[7] lifetime (ms)
//
// Returns 1 when stored, 0 when the worker no longer owns the job (nothing
// written: a newer owner or a cancel decides the job's fate).
var finishScript = redis.NewScript(ownedLua + `
if not owned() then return 0 end
redis.call('HSET', KEYS[2], 'state', 'succeeded', 'finished_ms', ARGV[5],
  'result', ARGV[6], 'error', '', 'error_code', '')
redis.call('DEL', KEYS[3])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
drop(ARGV[2])
return 1
`)

// failScript records a failed attempt of an owned delivery: the job goes
// back to the queue when the failure is retryable and attempts remain,
// else it ends failed.
//
//	KEYS[1] stream, KEYS[2] job hash, KEYS[3] audio
//	ARGV[1] group, ARGV[2] entry id, ARGV[3] consumer, ARGV[4] attempt,
//	ARGV[5] now (ms), ARGV[6] error, ARGV[7] error code,
//	ARGV[8] "1" if retryable, ARGV[9] max attempts, ARGV[10] lifetime (ms),
//	ARGV[11] job id
//
// Returns "requeued", "failed", or "lost" when not owned.
var failScript = redis.NewScript(ownedLua + `
if not owned() then return 'lost' end
drop(ARGV[2])
if ARGV[8] == '1' and tonumber(ARGV[4]) < tonumber(ARGV[9]) then
  local entry = redis.call('XADD', KEYS[1], '*', 'job', ARGV[11])
  redis.call('HSET', KEYS[2], 'state', 'queued', 'entry', entry, 'worker', '',
    'error', ARGV[6], 'error_code', ARGV[7])
  return 'requeued'
end
redis.call('HSET', KEYS[2], 'state', 'failed', 'finished_ms', ARGV[5],
  'error', ARGV[6], 'error_code', ARGV[7])
redis.call('DEL', KEYS[3])
redis.call('PEXPIRE', KEYS[2], ARGV[10])
return 'failed'
`)

// releaseScript hands an owned delivery back to the queue without
// spending an attempt, for a worker that stops before finishing it.
//
//	KEYS[1] stream, KEYS[2] job hash
//	ARGV[1] group, ARGV[2] entry id, ARGV[3] consumer, ARGV[4] attempt,
//	ARGV[5] job id
//
// Returns 1 when handed back, 0 when not owned.
var releaseScript = redis.NewScript(ownedLua + `
if not owned() then return 0 end
drop(ARGV[2])
local entry = redis.call('XADD', KEYS[1], '*', 'job', ARGV[5])
redis.call('HSET', KEYS[2], 'state', 'queued', 'entry', entry, 'worker', '',
  'attempts', tonumber(ARGV[4]) - 1)
return 1
`)
