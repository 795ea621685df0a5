package queue

import "github.com/redis/go-redis/v9"

// Every change of a job's state is one of these scripts, so that it is
// atomic with the matching change of the stream and the indexes. The
// scripts touch only keys named in KEYS (but for finishScript's succeeded
// index, see there), and all keys share one hash tag.
//
// A delivery is owned by the worker that started it: the job hash names
// that worker, the attempt number and the stream entry. A script that
// finishes, fails, renews or hands back a job first checks all three, so a
// worker that lost its lease (another worker reclaimed the job, or a client
// canceled it) can no longer change anything.
//
// Every script's last key is the job's event stream (see eventLua). A
// script that counts a change in the deployment's statistics (see
// statsLua in stats.go) names the stats hash just before it.
//
// A job's "history" field is a JSON array with one object per failed
// attempt: attempt, worker, error, code and at (ms).

// eventLua appends to the job's event stream, which every script below
// names as its last key; clients follow it through GET /v1/jobs/{id}/events.
const eventLua = `
local function emit(kind, fields)
  redis.call('XADD', KEYS[#KEYS], 'MAXLEN', '~', 1000, '*', 'type', kind,
    'data', cjson.encode(fields))
end
`

// commonLua is shared by the scripts below. owned expects KEYS[2] = job
// hash, ARGV[2] = entry id, ARGV[3] = consumer, ARGV[4] = attempt; drop
// expects KEYS[1] = stream and ARGV[1] = group.
const commonLua = eventLua + `
local function owned()
  local h = redis.call('HMGET', KEYS[2], 'state', 'worker', 'attempts', 'entry')
  return h[1] == 'running' and h[2] == ARGV[3] and h[3] == ARGV[4] and h[4] == ARGV[2]
end
local function drop(id)
  if id and id ~= '' then
    redis.call('XACK', KEYS[1], ARGV[1], id)
    redis.call('XDEL', KEYS[1], id)
  end
end
local function remember(job, attempt, worker, err, code, now)
  local raw = redis.call('HGET', job, 'history')
  local history = {}
  if raw and raw ~= '' then history = cjson.decode(raw) end
  table.insert(history, {attempt = tonumber(attempt), worker = worker, error = err,
    code = code, at = tonumber(now)})
  redis.call('HSET', job, 'history', cjson.encode(history))
end
`

// submitScript stores a new job and queues it, unless the queue is full or
// the idempotency key already names a live job.
//
//	KEYS[1] stream, KEYS[2] job hash, KEYS[3] audio, KEYS[4] delayed set,
//	KEYS[5] idempotency key, KEYS[6] sequence counter,
//	KEYS[7] highest started sequence number
//	ARGV[1] job id, ARGV[2] queue limit, ARGV[3] now (ms),
//	ARGV[4] file name, ARGV[5] content type, ARGV[6] audio,
//	ARGV[7] idempotency retention (ms, "0" when no key was given),
//	ARGV[8] the job id the caller saw under the key ("" for none; that
//	job has expired and the key may be taken over), ARGV[9] options JSON,
//	ARGV[10] callback URL
//
// Returns {"queued", id, position}, {"full", "", 0} (nothing written) or
// {"duplicate", first job id, 0} (nothing written).
var submitScript = redis.NewScript(eventLua + `
if ARGV[7] ~= '0' then
  local cur = redis.call('GET', KEYS[5])
  if cur and cur ~= ARGV[8] then return {'duplicate', cur, 0} end
end
local unfinished = redis.call('XLEN', KEYS[1]) + redis.call('ZCARD', KEYS[4])
if unfinished >= tonumber(ARGV[2]) then
  return {'full', '', 0}
end
if ARGV[7] ~= '0' then
  redis.call('SET', KEYS[5], ARGV[1], 'PX', ARGV[7])
end
redis.call('SET', KEYS[3], ARGV[6])
local entry = redis.call('XADD', KEYS[1], '*', 'job', ARGV[1])
local seq = redis.call('INCR', KEYS[6])
redis.call('HSET', KEYS[2], 'state', 'queued', 'attempts', 0,
  'filename', ARGV[4], 'content_type', ARGV[5], 'size', string.len(ARGV[6]),
  'created_ms', ARGV[3], 'entry', entry, 'seq', seq, 'options', ARGV[9],
  'callback', ARGV[10])
emit('state', {state = 'queued'})
local position = seq - tonumber(redis.call('GET', KEYS[7]) or '0')
return {'queued', ARGV[1], math.max(position, 1)}
`)

// startScript moves a delivered job to running for one worker. A job found
// running was reclaimed from a worker that stopped renewing its lease.
//
//	KEYS[1] stream, KEYS[2] job hash, KEYS[3] audio, KEYS[4] dead set,
//	KEYS[5] highest started sequence number, KEYS[6] stats hash
//	ARGV[1] group, ARGV[2] entry id, ARGV[3] consumer, ARGV[4] now (ms),
//	ARGV[5] max attempts, ARGV[6] lifetime of a final job (ms), ARGV[7] job id
//
// Returns {status, attempt}: "started" when the worker now owns the job;
// "skip" when the entry is stale (the job ended, was queued again under a
// new entry, or expired) and was removed; "failed" when the job had used
// up its attempts and now ended failed.
//
// Counts: a reclaimed attempt as failed with code worker_lost; a job
// ending failed; a job's wait (created to started), once per job, marked
// by the job's waited_ms field.
var startScript = redis.NewScript(commonLua + statsLua + `
local h = redis.call('HMGET', KEYS[2], 'state', 'attempts', 'entry', 'worker', 'seq',
  'created_ms', 'waited_ms')
if not h[1] or h[3] ~= ARGV[2] or (h[1] ~= 'queued' and h[1] ~= 'running') then
  drop(ARGV[2])
  return {'skip', 0}
end
if h[1] == 'running' then
  remember(KEYS[2], h[2], h[4], 'the worker stopped renewing its lease', 'worker_lost',
    ARGV[4])
  stat('attempts_failed:worker_lost')
end
local attempt = tonumber(h[2]) + 1
if attempt > tonumber(ARGV[5]) then
  redis.call('HSET', KEYS[2], 'state', 'failed', 'finished_ms', ARGV[4], 'worker', '',
    'error', 'gave up after ' .. h[2] .. ' attempts; the last worker stopped responding',
    'error_code', 'attempts_exhausted')
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
  redis.call('PEXPIRE', KEYS[3], ARGV[6])
  redis.call('ZADD', KEYS[4], ARGV[4], ARGV[7])
  drop(ARGV[2])
  ended('failed')
  emit('state', {state = 'failed', code = 'attempts_exhausted'})
  redis.call('PEXPIRE', KEYS[#KEYS], ARGV[6])
  return {'failed', attempt - 1}
end
redis.call('HSET', KEYS[2], 'state', 'running', 'attempts', attempt,
  'worker', ARGV[3], 'started_ms', ARGV[4], 'progress', 0)
if not h[7] then
  local wait = elapsed(h[6], ARGV[4])
  redis.call('HSET', KEYS[2], 'waited_ms', math.floor(wait * 1000))
  observe('wait', wait)
end
emit('state', {state = 'running', attempt = attempt, worker = ARGV[3]})
local seq = tonumber(h[5] or '0')
if seq > tonumber(redis.call('GET', KEYS[5]) or '0') then
  redis.call('SET', KEYS[5], seq)
end
return {'started', attempt}
`)

// renewScript extends the lease of an owned delivery by resetting the
// stream entry's idle time.
//
//	KEYS[1] stream, KEYS[2] job hash
//	ARGV[1] group, ARGV[2] entry id, ARGV[3] consumer, ARGV[4] attempt
//
// Returns 1 when renewed, 0 when the worker no longer owns the job.
var renewScript = redis.NewScript(commonLua + `
if not owned() then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
`)

// finishScript stores the result of an owned delivery and ends the job.
// It counts the job as succeeded, the attempt's run time, the audio's
// duration and the real-time factor.
//
//	KEYS[1] stream, KEYS[2] job hash, KEYS[3] audio, KEYS[4] stats hash
//	ARGV[1] group, ARGV[2] entry id, ARGV[3] consumer, ARGV[4] attempt,
//	ARGV[5] now (ms), ARGV[6] result JSON, ARGV[7] lifetime (ms),
//	ARGV[8] duration of the audio (seconds)
//
// It adds the job to the succeeded index, scored by now. That index is
// the stream's sibling "succeeded" (see succeededIndex in list.go), and
// the job id is the last part of the job hash's name: the one key that a
// script here does not get through KEYS.
// TODO(queue): pass the succeeded index as KEYS[5] and the job id as ARGV[9] from Finish.
//
// Returns 1 when stored, 0 when the worker no longer owns the job (nothing
// written: a newer owner or a cancel decides the job's fate).
var finishScript = redis.NewScript(commonLua + statsLua + `
if not owned() then return 0 end
local run = elapsed(redis.call('HGET', KEYS[2], 'started_ms'), ARGV[5])
redis.call('HSET', KEYS[2], 'state', 'succeeded', 'finished_ms', ARGV[5],
  'result', ARGV[6], 'error', '', 'error_code', '', 'progress', 100)
redis.call('DEL', KEYS[3])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
redis.call('ZADD', (string.gsub(KEYS[1], 'jobs$', 'succeeded')), ARGV[5],
  string.match(KEYS[2], '[^:]+$'))
ended('succeeded')
observe('run', run)
local audio = tonumber(ARGV[8])
if audio and audio > 0 then
  redis.call('HINCRBYFLOAT', KEYS[4], 'audio_seconds', ARGV[8])
  observe('rtf', run / audio)
end
emit('state', {state = 'succeeded'})
redis.call('PEXPIRE', KEYS[#KEYS], ARGV[7])
drop(ARGV[2])
return 1
`)

// failScript records a failed attempt of an owned delivery. A retryable
// failure with attempts left waits in the delayed set until its backoff
// ends; any other ends the job failed, kept as a dead letter with its audio
// so that it can be queued again. It counts the failed attempt by its
// code, the attempt's run time and, when the job ends, the job as failed.
//
//	KEYS[1] stream, KEYS[2] job hash, KEYS[3] audio, KEYS[4] delayed set,
//	KEYS[5] dead set, KEYS[6] stats hash
//	ARGV[1] group, ARGV[2] entry id, ARGV[3] consumer, ARGV[4] attempt,
//	ARGV[5] now (ms), ARGV[6] error, ARGV[7] error code,
//	ARGV[8] "1" if retryable, ARGV[9] max attempts, ARGV[10] lifetime (ms),
//	ARGV[11] job id, ARGV[12] retry time (ms), ARGV[13] the error code as
//	counted (one of AttemptCodes)
//
// Returns "retrying", "failed", or "lost" when not owned.
var failScript = redis.NewScript(commonLua + statsLua + `
if not owned() then return 'lost' end
drop(ARGV[2])
stat('attempts_failed:' .. ARGV[13])
observe('run', elapsed(redis.call('HGET', KEYS[2], 'started_ms'), ARGV[5]))
remember(KEYS[2], ARGV[4], ARGV[3], ARGV[6], ARGV[7], ARGV[5])
if ARGV[8] == '1' and tonumber(ARGV[4]) < tonumber(ARGV[9]) then
  redis.call('ZADD', KEYS[4], ARGV[12], ARGV[11])
  redis.call('HSET', KEYS[2], 'state', 'queued', 'entry', '', 'worker', '',
    'error', ARGV[6], 'error_code', ARGV[7], 'retry_ms', ARGV[12])
  emit('state', {state = 'queued', retry_at = tonumber(ARGV[12]), error = ARGV[6]})
  return 'retrying'
end
redis.call('HSET', KEYS[2], 'state', 'failed', 'finished_ms', ARGV[5], 'worker', '',
  'error', ARGV[6], 'error_code', ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[10])
redis.call('PEXPIRE', KEYS[3], ARGV[10])
redis.call('ZADD', KEYS[5], ARGV[5], ARGV[11])
ended('failed')
emit('state', {state = 'failed', error = ARGV[6], code = ARGV[7]})
redis.call('PEXPIRE', KEYS[#KEYS], ARGV[10])
return 'failed'
`)

// releaseScript hands an owned delivery back to the queue without
// spending an attempt, for a worker that stops before it could finish the
// job. The job goes to the end of the stream: a stream cannot insert
// before its newest entry.
//
//	KEYS[1] stream, KEYS[2] job hash, KEYS[3] sequence counter
//	ARGV[1] group, ARGV[2] entry id, ARGV[3] consumer, ARGV[4] attempt,
//	ARGV[5] job id
//
// Returns 1 when handed back, 0 when not owned.
var releaseScript = redis.NewScript(commonLua + `
if not owned() then return 0 end
drop(ARGV[2])
local entry = redis.call('XADD', KEYS[1], '*', 'job', ARGV[5])
redis.call('HSET', KEYS[2], 'state', 'queued', 'entry', entry, 'worker', '',
  'attempts', tonumber(ARGV[4]) - 1, 'seq', redis.call('INCR', KEYS[3]))
emit('state', {state = 'queued'})
return 1
`)

// promoteScript moves a job whose retry time has come from the delayed
// set back into the stream. Several workers may try at once; the first
// wins and the others find it gone from the set.
//
//	KEYS[1] stream, KEYS[2] job hash, KEYS[3] delayed set,
//	KEYS[4] sequence counter
//	ARGV[1] job id
//
// Returns 1 when moved, 0 when another worker moved it first or the job
// is no longer queued.
var promoteScript = redis.NewScript(eventLua + `
if redis.call('ZREM', KEYS[3], ARGV[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[2], 'state') ~= 'queued' then return 0 end
local entry = redis.call('XADD', KEYS[1], '*', 'job', ARGV[1])
redis.call('HSET', KEYS[2], 'entry', entry, 'retry_ms', '',
  'seq', redis.call('INCR', KEYS[4]))
emit('state', {state = 'queued'})
return 1
`)

// cancelScript cancels a queued or running job. A running job's worker
// finds out at its next lease renewal and stops. It counts the job as
// canceled and adds it to the canceled index, scored by now.
//
//	KEYS[1] stream, KEYS[2] job hash, KEYS[3] audio, KEYS[4] delayed set,
//	KEYS[5] canceled index, KEYS[6] stats hash
//	ARGV[1] group, ARGV[2] job id, ARGV[3] now (ms), ARGV[4] lifetime (ms)
//
// Returns the state the job was in; a final state means nothing changed;
// "" means no such job.
var cancelScript = redis.NewScript(commonLua + statsLua + `
local h = redis.call('HMGET', KEYS[2], 'state', 'entry')
if not h[1] then return '' end
if h[1] ~= 'queued' and h[1] ~= 'running' then return h[1] end
drop(h[2])
redis.call('ZREM', KEYS[4], ARGV[2])
redis.call('HSET', KEYS[2], 'state', 'canceled', 'finished_ms', ARGV[3], 'entry', '',
  'retry_ms', '')
redis.call('DEL', KEYS[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[2])
ended('canceled')
emit('state', {state = 'canceled'})
redis.call('PEXPIRE', KEYS[#KEYS], ARGV[4])
return h[1]
`)

// requeueScript queues a failed job (a dead letter) again, with its
// attempts reset and its history kept.
//
//	KEYS[1] stream, KEYS[2] job hash, KEYS[3] audio, KEYS[4] dead set,
//	KEYS[5] sequence counter
//	ARGV[1] job id
//
// Returns "requeued", the job's state when it is not failed, "no_audio"
// when the audio has expired, or "" when there is no such job.
var requeueScript = redis.NewScript(eventLua + `
local state = redis.call('HGET', KEYS[2], 'state')
if not state then return '' end
if state ~= 'failed' then return state end
if redis.call('EXISTS', KEYS[3]) == 0 then return 'no_audio' end
redis.call('PERSIST', KEYS[2])
redis.call('PERSIST', KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
local entry = redis.call('XADD', KEYS[1], '*', 'job', ARGV[1])
redis.call('HSET', KEYS[2], 'state', 'queued', 'attempts', 0, 'entry', entry,
  'worker', '', 'finished_ms', '', 'started_ms', '', 'error', '', 'error_code', '',
  'progress', 0, 'seq', redis.call('INCR', KEYS[5]))
redis.call('PERSIST', KEYS[#KEYS])
emit('state', {state = 'queued'})
return 'requeued'
`)

// reportScript records a running job's progress or a newly decoded
// segment, for an owned delivery only.
//
//	KEYS[1] stream, KEYS[2] job hash, KEYS[3] event stream
//	ARGV[1] group, ARGV[2] entry id, ARGV[3] consumer, ARGV[4] attempt,
//	ARGV[5] event type, ARGV[6] event data (JSON), ARGV[7] progress percent
//	("" to leave it)
//
// Returns 1 when recorded, 0 when the worker no longer owns the job.
var reportScript = redis.NewScript(commonLua + `
if not owned() then return 0 end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[2], 'progress', ARGV[7]) end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', 1000, '*', 'type', ARGV[5], 'data', ARGV[6])
return 1
`)
