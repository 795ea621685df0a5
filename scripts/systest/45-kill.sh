# kill -9 of a busy worker: systemd restarts it and the job completes on a
# second attempt.
systemctl stop asr-worker@2
restarts=$(systemctl show -p NRestarts --value asr-worker@1)
id=$(submit "$(speech 30)")
wait_state "$id" running
kill -9 "$(systemctl show -p MainPID --value asr-worker@1)"
wait_state "$id" succeeded failed
[[ $(job_field "$id" state) == succeeded && $(job_field "$id" attempts) == 2 ]] ||
	fail "job $id after kill -9: $(curl -s "$api/v1/jobs/$id" | cut -c1-300)"
(($(systemctl show -p NRestarts --value asr-worker@1) > restarts)) || fail "no restart"
pass "kill -9 of a busy worker: systemd restarted it, the job succeeded on attempt 2"
