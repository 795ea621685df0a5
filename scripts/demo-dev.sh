#!/usr/bin/env bash
# Runs asr-server end to end as plain processes on this machine (make
# run-dev): a private redis-server, asr-api and one asr-worker; sends real
# speech (jfk.wav, 11 s) through POST /v1/jobs, waits for the job and prints the result JSON that
# GET /v1/jobs/{id} returns. It stops everything it started.
#
# MODEL=/path/to/ggml-model.bin picks a real whisper model; without one, a
# generated stand-in with random weights is used.
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
work=$(mktemp -d /tmp/asr-demo.XXXXXX)
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

say() { printf '==> %s\n' "$*" >&2; }
fail() {
	printf 'demo: %s\n' "$*" >&2
	for log in "$work"/*.log; do
		[[ -f $log ]] && { echo "--- $log" >&2; tail -n 20 "$log" >&2; }
	done
	exit 1
}

model=${MODEL:-}
if [[ -z $model ]]; then
	for candidate in /var/lib/asr/models/ggml-*.bin; do
		[[ -f $candidate ]] && { model=$candidate; break; }
	done
fi
if [[ -n $model ]]; then
	[[ -r $model ]] || fail "model $model is not readable"
	say "model: $model"
	stand_in=0
else
	model=$work/test-model.bin
	"$BIN/asr-testmodel" -o "$model"
	say "model: no real model installed; using a generated stand-in with random weights"
	stand_in=1
fi

speech="$(go list -m -f '{{.Dir}}' github.com/ggerganov/whisper.cpp/bindings/go)/samples/jfk.wav"
[[ -f $speech ]] || fail "sample speech not found at $speech"

say "starting redis-server"
redis-server --port 0 --unixsocket "$work/redis.sock" --save "" --appendonly no \
	--dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)

cat >"$work/config.toml" <<CONF
[redis]
url = "unix://$work/redis.sock"
[api]
listen = "127.0.0.1:0"
[worker]
model = "$model"
instance = "demo-1"
CONF

for _ in $(seq 100); do
	[[ -S $work/redis.sock ]] && break
	sleep 0.1
done

say "starting asr-api and asr-worker"
"$BIN/asr-api" -config "$work/config.toml" >"$work/api.log" 2>&1 &
pids+=($!)
"$BIN/asr-worker" -config "$work/config.toml" >"$work/worker.log" 2>&1 &
pids+=($!)

addr=
for _ in $(seq 100); do
	addr=$(sed -n 's/.*msg="asr-api listening" addr=\([^ ]*\).*/\1/p' "$work/api.log")
	[[ -n $addr ]] && break
	sleep 0.1
done
[[ -n $addr ]] || fail "asr-api did not start"
api="http://$addr"

say "POST $api/v1/jobs with $(basename "$speech")"
answer=$(curl -sS -F "file=@$speech" "$api/v1/jobs")
echo "$answer"
id=$(printf '%s' "$answer" | sed -n 's/^{"id":"\([0-9a-f]*\)".*/\1/p')
[[ -n $id ]] || fail "submit did not return a job id"

say "waiting for job $id"
for _ in $(seq 600); do
	result=$(curl -sS "$api/v1/jobs/$id")
	case $result in
	*'"state":"succeeded"'* | *'"state":"failed"'* | *'"state":"canceled"'*) break ;;
	esac
	sleep 0.2
done
say "GET $api/v1/jobs/$id"
echo "$result"
case $result in
*'"state":"succeeded"'*) ;;
*) fail "job did not succeed" ;;
esac

if ((stand_in)); then
	cat >&2 <<'MSG'
==> The transcript above comes from a generated stand-in model with random
    weights: the timings and the pipeline are real, the words are nonsense.
    For real words, put an official ggml whisper model (for example
    ggml-base.en.bin from the whisper.cpp project's model downloads) at
    /var/lib/asr/models/ or run: make run-dev MODEL=/path/to/ggml-base.en.bin
MSG
fi
