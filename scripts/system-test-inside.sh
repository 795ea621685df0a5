#!/usr/bin/env bash
# The checks of the system test, run inside the booted container.
set -euo pipefail
api=http://127.0.0.1:8080
fail() { echo "system-test: FAIL: $*" >&2; exit 1; }
passed=0
pass() {
	passed=$((passed + 1))
	echo "system-test: ok: $*"
}
job_field() { curl -s "$api/v1/jobs/$1" | sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" | tr -d '"'; }
wait_state() { # id state...; waits up to 120 s
	local id=$1 s
	shift
	for _ in $(seq 600); do
		s=$(job_field "$id" state)
		for want in "$@"; do [[ $s == "$want" ]] && return 0; done
		sleep 0.2
	done
	fail "job $id is $s, want $*"
}
submit() { curl -s -F "file=@$1" "$api/v1/jobs" | sed -n 's/^{"id":"\([0-9a-f]*\)".*/\1/p'; }

systemctl start redis-server
DEBIAN_FRONTEND=noninteractive dpkg -i /st/asr-server.deb >/tmp/dpkg.log 2>&1 ||
	{ cat /tmp/dpkg.log; fail "dpkg -i"; }
getent passwd asr >/dev/null || fail "no asr user"
[[ -d /var/lib/asr/models ]] || fail "no /var/lib/asr/models"
systemctl is-active --quiet asr-api || fail "asr-api not active after install"
pass "package installed; asr-api active"

asr-testmodel -o /var/lib/asr/models/ggml-base.bin
systemctl start asr-worker@{1..8}
for i in $(seq 8); do
	[[ $(systemctl is-active asr-worker@$i) == active ]] || fail "asr-worker@$i not active"
	status=$(systemctl show -p StatusText --value asr-worker@$i)
	[[ $status == idle* ]] || fail "asr-worker@$i status '$status'"
done
pass "8 workers active, status '$(systemctl show -p StatusText --value asr-worker@8)'"

id=$(submit /st/jfk.wav)
wait_state "$id" succeeded
curl -s "$api/v1/jobs/$id" | grep -q '"segments":\[{"id":0' || fail "no segments for $id"
pass "jfk.wav transcribed over HTTP through the installed service"

journalctl --sync
fields=$(journalctl -o verbose -u 'asr-worker@*' "JOB_ID=$id" --no-pager)
for f in 'MESSAGE=job started' 'MESSAGE=job succeeded' ATTEMPT=1 INSTANCE= AUDIO_S=11; do
	grep -q "$f" <<<"$fields" || fail "journal lacks $f for job $id"
done
pass "journalctl -u asr-worker@* JOB_ID=$id shows the job's structured fields"

# 40 jobs, then scale in to 2 instances while they run: none is lost.
sox /st/jfk.wav /st/jfk.wav /st/jfk.wav /tmp/three.wav
ids=()
for _ in $(seq 40); do ids+=("$(submit /tmp/three.wav)"); done
systemctl stop asr-worker@{3..8}
for id in "${ids[@]}"; do wait_state "$id" succeeded failed; done
for id in "${ids[@]}"; do
	[[ $(job_field "$id" state) == succeeded ]] || fail "job $id after scale-in"
done
pass "40 jobs all succeeded while scaling in from 8 to 2 workers"

# kill -9 of a busy worker: systemd restarts it and the job completes on
# a second attempt.
files=()
for _ in $(seq 30); do files+=(/st/jfk.wav); done
sox "${files[@]}" /tmp/long.wav
systemctl stop asr-worker@2
id=$(submit /tmp/long.wav)
wait_state "$id" running
pid=$(systemctl show -p MainPID --value asr-worker@1)
kill -9 "$pid"
wait_state "$id" succeeded failed
[[ $(job_field "$id" state) == succeeded && $(job_field "$id" attempts) == 2 ]] ||
	fail "job $id after kill -9: $(curl -s "$api/v1/jobs/$id" | cut -c1-300)"
[[ $(systemctl show -p NRestarts --value asr-worker@1) -ge 1 ]] || fail "no restart"
pass "kill -9 of a busy worker: systemd restarted it, the job succeeded on attempt 2"
for unit in asr-api.service asr-worker@1.service; do
	systemd-analyze verify "/usr/lib/systemd/system/${unit/@1/@}" ||
		fail "systemd-analyze verify $unit"
	exposure=$(systemd-analyze security --no-pager "$unit" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	echo "system-test: $unit exposure $exposure"
	awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.0) }' ||
		fail "$unit: systemd-analyze security exposure ${exposure:-unknown}, want 2.0 or lower"
done
pass "both units verify and rate 2.0 or lower in systemd-analyze security"
echo "system-test: $passed passed, 0 failed"
