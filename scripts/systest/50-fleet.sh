# Instances follow `asrctl scale` with jobs running, then asr-autoscaler
# follows the queue: out to max under a burst of jobs, back in to min one
# at a time after the cooldown. No job is lost on the way.
command -v asrctl >/dev/null || fail "asrctl is not installed"
command -v asr-autoscaler >/dev/null || fail "asr-autoscaler is not installed"
unit=asr-autoscaler.service
systemd-analyze verify "/usr/lib/systemd/system/$unit" || fail "systemd-analyze verify $unit"
[[ $(systemctl is-enabled "$unit" || true) == disabled ]] ||
	fail "$unit is $(systemctl is-enabled "$unit" || true) after install, want disabled"
exposure=$(systemd-analyze security --no-pager "$unit" |
	sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
note "$unit exposure $exposure"
awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.0) }' ||
	fail "$unit: systemd-analyze security exposure ${exposure:-unknown}, want 2.0 or lower"

# all_succeeded ID... waits for every job to end and fails unless each
# succeeded.
all_succeeded() {
	local id
	for id in "$@"; do wait_state "$id" succeeded failed canceled; done
	for id in "$@"; do
		[[ $(job_field "$id" state) == succeeded ]] || fail "job $id ended $(job_field "$id" state)"
	done
}

# wait_workers WANT SECONDS waits until the active instances are WANT.
wait_workers() {
	for _ in $(seq $(($2 * 5))); do
		[[ $(active_workers) == "$1" ]] && return 0
		sleep 0.2
	done
	fail "active instances '$(active_workers)' after $2 s, want '$1'"
}

# (a) asrctl scale, out and in, while jobs run.
audio=$(speech 3)
asrctl scale 1 >/dev/null || fail "asrctl scale 1"
[[ $(active_workers) == 1 ]] || fail "after asrctl scale 1: '$(active_workers)'"
ids=()
for _ in $(seq 30); do ids+=("$(submit "$audio")"); done
asrctl scale 4 >/dev/null || fail "asrctl scale 4"
[[ $(active_workers) == "1 2 3 4" ]] || fail "after asrctl scale 4: '$(active_workers)'"
for _ in $(seq 50); do
	running=$(curl -s "$api/v1/queue" | sed -n 's/^{[^}]*"running":\([0-9]*\).*/\1/p')
	(( ${running:-0} >= 2 )) && break
	sleep 0.2
done
(( ${running:-0} >= 2 )) ||
	fail "jobs running after asrctl scale 4: ${running:-none}, want 2 or more"
asrctl scale 1 >/dev/null || fail "asrctl scale 1 with jobs running"
[[ $(active_workers) == 1 ]] || fail "after asrctl scale 1: '$(active_workers)'"
all_succeeded "${ids[@]}"
pass "asrctl scale 4, then 1 with $running jobs running: 4 then 1 instance active," \
	"all 30 jobs succeeded"

# (b) asr-autoscaler with min 1, max 4 and a short cooldown.
dropin=/run/systemd/system/$unit.d
mkdir -p "$dropin"
cat >"$dropin/50-systest.conf" <<CONF
[Service]
Environment=ASR_AUTOSCALER_MIN=1 ASR_AUTOSCALER_MAX=4 ASR_AUTOSCALER_POLL_INTERVAL=1s
Environment=ASR_AUTOSCALER_COOLDOWN=5s ASR_AUTOSCALER_MAX_WAIT=20s
CONF
systemctl daemon-reload
since=$(date '+%Y-%m-%d %H:%M:%S')
systemctl start "$unit" || fail "$unit did not start"
ids=()
start=$(date +%s)
for _ in $(seq 100); do ids+=("$(submit /st/jfk.wav)"); done
wait_workers "1 2 3 4" 120
note "asr-autoscaler: 4 instances $(($(date +%s) - start)) s after the first of 100 jobs"
all_succeeded "${ids[@]}"
drained=$(date +%s)
# One instance per cooldown (5 s) once nothing is queued: about 15 s.
wait_workers 1 90
note "asr-autoscaler: back to 1 instance $(($(date +%s) - drained)) s after the queue drained"
status="instances: 1, jobs running: 0, queued: 0 (oldest 0s); at_min"
for _ in $(seq 25); do
	[[ $(systemctl show -p StatusText --value "$unit") == "$status" ]] && break
	sleep 0.2
done
[[ $(systemctl show -p StatusText --value "$unit") == "$status" ]] ||
	fail "$unit status '$(systemctl show -p StatusText --value "$unit")', want '$status'"

# The journal holds each decision with its reason as a field of its own.
# entries FIELD=VALUE... counts the autoscaler's journal entries since it
# started that have all the fields given.
entries() {
	{ journalctl -q --no-pager -o cat --since "$since" -u "$unit" "$@" || true; } | wc -l
}
outs=$(( $(entries "MESSAGE=scaling out" REASON=queue_depth) +
	$(entries "MESSAGE=scaling out" REASON=queue_wait) ))
ins=$(entries "MESSAGE=scaling in" REASON=idle)
(( outs >= 1 && ins == 3 )) ||
	fail "journal: $outs scale-outs and $ins scale-ins with reasons, want 1 or more and 3"
(( $(entries MESSAGE=scaled REASON=idle TARGET=1 STOPPED=2) == 1 )) ||
	fail "journal: no 'scaled' entry that stopped instance 2 for 'idle'"
systemctl stop "$unit"
rm -r "$dropin"
systemctl daemon-reload
pass "asr-autoscaler: 1 to 4 instances under 100 jobs, all succeeded, back to 1 after" \
	"the cooldown; $outs out and $ins in, with reasons, in the journal"
