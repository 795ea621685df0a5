# The watchdog, with WatchdogSec=4s on asr-worker@1: a job that computes for
# longer than that keeps its worker; a worker that hangs (SIGSTOP) is killed
# by systemd, restarted, and its job runs again.
systemctl stop 'asr-worker@*'
mkdir -p /run/systemd/system/asr-worker@1.service.d
printf '[Service]\nWatchdogSec=4s\nTimeoutAbortSec=5s\n' \
	>/run/systemd/system/asr-worker@1.service.d/watchdog.conf
systemctl daemon-reload
systemctl restart asr-worker@1
restarts=$(systemctl show -p NRestarts --value asr-worker@1)
id=$(submit "$(speech 60)")
wait_state "$id" running
t0=$(date +%s)
wait_state "$id" succeeded failed
busy_s=$(($(date +%s) - t0))
[[ $(job_field "$id" state) == succeeded && $(job_field "$id" attempts) == 1 ]] ||
	fail "busy job $id: $(curl -s "$api/v1/jobs/$id" | cut -c1-300)"
(($(systemctl show -p NRestarts --value asr-worker@1) == restarts)) ||
	fail "the watchdog restarted a busy worker"
((busy_s > 4)) || fail "the busy job took $busy_s s, not longer than WatchdogSec"
pass "a job computing for $busy_s s kept its worker under WatchdogSec=4s"

id=$(submit "$(speech 30)")
wait_state "$id" running
kill -STOP "$(systemctl show -p MainPID --value asr-worker@1)"
wait_state "$id" succeeded failed
[[ $(job_field "$id" state) == succeeded && $(job_field "$id" attempts) == 2 ]] ||
	fail "hung job $id: $(curl -s "$api/v1/jobs/$id" | cut -c1-300)"
(($(systemctl show -p NRestarts --value asr-worker@1) > restarts)) || fail "no restart"
journalctl --sync
journalctl -u asr-worker@1 --no-pager | grep "Failed with result 'watchdog'" >/dev/null || {
	journalctl -u asr-worker@1 --no-pager -n 30 -o short-monotonic
	fail "no watchdog timeout in the journal of asr-worker@1"
}
rm -r /run/systemd/system/asr-worker@1.service.d
systemctl daemon-reload
systemctl restart asr-worker@1
pass "a hung worker (SIGSTOP) hit its watchdog, was restarted, its job succeeded on attempt 2"
